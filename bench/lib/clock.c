/* Measures the core clock: a chain of dependent 64-bit multiplies, 3 cycles each
 * (IMUL r64, r64 latency on the Intel and AMD cores of the last decade: Intel
 * 64 and IA-32 Architectures Optimization Reference Manual, instruction
 * latency tables). Prints GHz. The TSC rate in /proc/cpuinfo is not the core
 * clock when the core turbos, and add chains are no clock either: recent cores
 * fold dependent add-immediates at rename. */
#include <stdio.h>
#include <time.h>

int main(void) {
  const long n = 300000000; /* multiplies */
  long x = 3;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i += 10)
    __asm__ volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
                     "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0" : "+r"(x));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.4f %ld\n", 3.0 * (double)n / s / 1e9, x & 1);
  return 0;
}
