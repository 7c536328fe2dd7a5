/* Stand-in runtime for wasm2c output, implementing the linux contract of
 * docs/ABI.md: call the export `main`, exit with its result & 0xff; hw.outb
 * to port 0xE9 writes stdout; hw.arg(i) is argv[i+1] as a decimal integer;
 * a trap prints `wasm trap: <message>` and exits with 100 + code. wasm2c
 * merges some traps (memory/table bounds, call_indirect null/mismatch), so
 * the message lists every spec message it may stand for, split by '|'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasm-rt.h"
#include "wasm-rt-impl.h"
#include "module.h"

struct Z_hw_instance_t { int unused; };

static int g_argc;
static char** g_argv;
static char out_buf[1 << 16];
static size_t out_len;

static void flush_out(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t n = write(1, out_buf + off, out_len - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  out_len = 0;
}

void Z_hwZ_outb(struct Z_hw_instance_t* hw, u32 port, u32 value) {
  (void)hw;
  if (port != 0xE9) return;
  if (out_len == sizeof out_buf) flush_out();
  out_buf[out_len++] = (char)value;
}

u32 Z_hwZ_arg(struct Z_hw_instance_t* hw, u32 i) {
  (void)hw;
  if ((int)i + 1 >= g_argc) return 0;
  return (u32)strtoll(g_argv[i + 1], NULL, 10);
}

static void trap_exit(wasm_rt_trap_t t) {
  const char* msg;
  int code;
  switch (t) {
    case WASM_RT_TRAP_UNREACHABLE: msg = "unreachable"; code = 1; break;
    case WASM_RT_TRAP_DIV_BY_ZERO: msg = "integer divide by zero"; code = 2; break;
    case WASM_RT_TRAP_INT_OVERFLOW: msg = "integer overflow"; code = 3; break;
    case WASM_RT_TRAP_INVALID_CONVERSION: msg = "invalid conversion to integer"; code = 4; break;
    case WASM_RT_TRAP_OOB: msg = "out of bounds memory access|out of bounds table access"; code = 5; break;
    case WASM_RT_TRAP_CALL_INDIRECT: msg = "undefined element|indirect call type mismatch"; code = 6; break;
    case WASM_RT_TRAP_EXHAUSTION: msg = "call stack exhausted"; code = 8; break;
    default: msg = "other"; code = 9; break;
  }
  flush_out();
  fprintf(stderr, "wasm trap: %s\n", msg);
  fflush(stderr);
  _exit(100 + code);
}

int main(int argc, char** argv) {
  g_argc = argc;
  g_argv = argv;
  static Z_m_instance_t inst;
  static struct Z_hw_instance_t hw;
  wasm_rt_init();
  wasm_rt_trap_t t = wasm_rt_impl_try();
  if (t != WASM_RT_TRAP_NONE) trap_exit(t);
  Z_m_init_module();
  Z_m_instantiate(&inst, &hw);
  u32 r = Z_mZ_main(&inst);
  flush_out();
  return (int)(r & 0xff);
}
