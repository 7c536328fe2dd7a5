/*
 * tvnet: the test initramfs's network tools (scripts/guest-linux.ts builds it with gcc -static -O2).
 *
 *   tvnet flood IP PORT SECONDS PAYLOAD   UDP datagrams of PAYLOAD bytes as fast as the socket takes them
 *   tvnet count PORT SECONDS [WAIT]        counts UDP datagrams for SECONDS from the first one (waits up to WAIT s)
 *   tvnet rawflood IFACE DSTMAC SECONDS LEN   raw Ethernet frames (IPv4/UDP to port 9000) of LEN bytes out of IFACE
 *   tvnet rawcount IFACE SECONDS [WAIT]       counts frames to UDP port 9000 arriving on IFACE, from the first one
 *   tvnet badring                          breaks the virtio-net device's TX queue in five ways (see below)
 *
 * Each prints one line starting with its name in capitals, for the tests to parse.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- the timing both kinds of flood and both kinds of count share ---- */

/* Sends one datagram or frame (`seq` is how many were sent before it); 1 when the socket took it whole. */
typedef int (*send_fn)(void *ctx, unsigned long seq);
/* Receives one datagram or frame: its length when it is one to count, -1 when there is none (the 100 ms
   timeout) or it is not ours. */
typedef ssize_t (*recv_fn)(void *ctx);

/* Calls `one` as fast as the socket takes it for `secs`, reading the clock every 64 sends so that the clock
   costs little, then prints `TAG sent= failed= secs= LABEL=VALUE`. */
static int send_for(const char *tag, send_fn one, void *ctx, double secs, const char *label, int value) {
  unsigned long sent = 0, failed = 0;
  double t0 = now_s(), t = t0;
  while (t - t0 < secs) {
    for (int k = 0; k < 64; k++) {
      if (one(ctx, sent)) sent++;
      else failed++;
    }
    t = now_s();
  }
  printf("%s sent=%lu failed=%lu secs=%.3f %s=%d\n", tag, sent, failed, t - t0, label, value);
  return 0;
}

/* A 4 MiB receive buffer, so a flood's bursts between two of the guest's time slices are not dropped in the
   socket, and a 100 ms timeout, so the count's window ends on time when nothing arrives. */
static void rx_options(int s) {
  int big = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Counts what `one` receives for `secs` from the first one, which starts the window and is not counted (so
   the rate is over whole gaps); gives up after `wait` s without one. Prints `TAG packets= bytes= secs=`. */
static int count_for(const char *tag, recv_fn one, void *ctx, double secs, double wait) {
  unsigned long n = 0, bytes = 0;
  double start = now_s(), t0 = 0, t = start;
  for (;;) {
    t = now_s();
    if (t0 == 0 && t - start > wait) break;
    if (t0 != 0 && t - t0 >= secs) break;
    ssize_t r = one(ctx);
    if (r < 0) continue;
    if (t0 == 0) { t0 = now_s(); continue; }
    n++;
    bytes += (unsigned long)r;
  }
  printf("%s packets=%lu bytes=%lu secs=%.3f\n", tag, n, bytes, t0 == 0 ? 0.0 : t - t0);
  return 0;
}

/* ---- UDP ---- */

struct udp_tx { int s; struct sockaddr_in to; char *buf; int payload; };

static int udp_send(void *ctx, unsigned long seq) {
  struct udp_tx *u = ctx;
  memcpy(u->buf, &seq, sizeof seq); /* a sequence number, for whoever looks */
  return sendto(u->s, u->buf, u->payload, 0, (struct sockaddr *)&u->to, sizeof u->to) == u->payload;
}

static int flood(const char *ip, int port, double secs, int payload) {
  static char buf[65536];
  struct udp_tx u = { .s = socket(AF_INET, SOCK_DGRAM, 0), .to = { .sin_family = AF_INET, .sin_port = htons(port) }, .buf = buf };
  if (u.s < 0) { perror("socket"); return 1; }
  if (inet_pton(AF_INET, ip, &u.to.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); return 1; }
  if (payload < 0 || payload > (int)sizeof buf) payload = 64;
  memset(buf, 0x5a, payload);
  u.payload = payload;
  return send_for("TVFLOOD", udp_send, &u, secs, "payload", payload);
}

static ssize_t udp_recv(void *ctx) {
  static char buf[65536];
  return recv(*(int *)ctx, buf, sizeof buf, 0);
}

static int count(int port, double secs, double wait) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) { perror("socket"); return 1; }
  rx_options(s);
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(s, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); return 1; }
  return count_for("TVCOUNT", udp_recv, &s, secs, wait);
}

/* ---- raw frames: the same frames whatever the routing (the benchmark's reference has both NICs in one guest) ---- */

static int raw_socket(const char *iface, int *ifindex, uint8_t mac[6]) {
  int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (s < 0) { perror("socket AF_PACKET"); return -1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
  if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) { perror(iface); return -1; }
  *ifindex = ifr.ifr_ifindex;
  if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { perror("SIOCGIFHWADDR"); return -1; }
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = *ifindex };
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind AF_PACKET"); return -1; }
  return s;
}

struct raw_tx { int s; const uint8_t *frame; int len; };

static int raw_send(void *ctx, unsigned long seq) {
  struct raw_tx *r = ctx;
  (void)seq; /* every frame the same */
  return send(r->s, r->frame, r->len, 0) == r->len;
}

static int rawflood(const char *iface, const char *dst, double secs, int len) {
  int ifindex;
  uint8_t mac[6];
  int s = raw_socket(iface, &ifindex, mac);
  if (s < 0) return 1;
  static uint8_t f[2048];
  if (len < 60 || len > 1514) len = 60;
  unsigned d[6];
  if (sscanf(dst, "%x:%x:%x:%x:%x:%x", &d[0], &d[1], &d[2], &d[3], &d[4], &d[5]) != 6) { fprintf(stderr, "bad MAC %s\n", dst); return 1; }
  for (int i = 0; i < 6; i++) f[i] = d[i];
  memcpy(f + 6, mac, 6);
  f[12] = 0x08; f[13] = 0x00;
  /* IPv4 (RFC 791) 10.0.0.1 -> 10.0.0.2, UDP (RFC 768) 9000 -> 9000; the checksums are left 0 (UDP: none) */
  uint8_t *ip = f + 14;
  int iplen = len - 14;
  ip[0] = 0x45; ip[2] = iplen >> 8; ip[3] = iplen; ip[8] = 64; ip[9] = 17;
  ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
  uint8_t *udp = ip + 20;
  udp[0] = 9000 >> 8; udp[1] = 9000 & 0xff; udp[2] = 9000 >> 8; udp[3] = 9000 & 0xff;
  udp[4] = (iplen - 20) >> 8; udp[5] = (iplen - 20);
  struct raw_tx r = { .s = s, .frame = f, .len = len };
  return send_for("TVRAWFLOOD", raw_send, &r, secs, "len", len);
}

/* A frame to UDP port 9000 that arrived on the interface (not one of ours going out), as rawflood sends. */
static ssize_t raw_recv(void *ctx) {
  static uint8_t f[2048];
  struct sockaddr_ll from;
  socklen_t fl = sizeof from;
  ssize_t r = recvfrom(*(int *)ctx, f, sizeof f, 0, (struct sockaddr *)&from, &fl);
  if (r < 42 || from.sll_pkttype == PACKET_OUTGOING) return -1;
  if (f[12] != 0x08 || f[13] != 0 || f[23] != 17 || f[36] != (9000 >> 8) || f[37] != (9000 & 0xff)) return -1;
  return r;
}

static int rawcount(const char *iface, double secs, double wait) {
  int ifindex;
  uint8_t mac[6];
  int s = raw_socket(iface, &ifindex, mac);
  if (s < 0) return 1;
  rx_options(s);
  return count_for("TVRAWCOUNT", raw_recv, &s, secs, wait);
}

/* ---- badring: a driver of our own for the virtio-pci modern device, with broken TX rings ---- */

static char devdir[300];
static volatile uint8_t *bar[6];
static volatile uint8_t *common, *isr;
static volatile uint16_t *notify_tx;

static uint32_t cfg_read(const uint8_t *c, int off, int size) {
  uint32_t v = 0;
  for (int i = 0; i < size; i++) v |= (uint32_t)c[off + i] << (8 * i);
  return v;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  int r = write(fd, text, strlen(text));
  close(fd);
  return r < 0 ? -1 : 0;
}

/* The first function with vendor 0x1af4, device 0x1041 (virtio 1.2 4.1.2.1: modern virtio-net). */
static int find_device(char *name, size_t len) {
  DIR *d = opendir("/sys/bus/pci/devices");
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[300], v[32] = {0};
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/vendor", e->d_name);
    int fd = open(p, O_RDONLY);
    if (fd < 0) continue;
    read(fd, v, sizeof v - 1);
    close(fd);
    if (strtoul(v, 0, 0) != 0x1af4) continue;
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/device", e->d_name);
    memset(v, 0, sizeof v);
    fd = open(p, O_RDONLY);
    if (fd < 0) continue;
    read(fd, v, sizeof v - 1);
    close(fd);
    if (strtoul(v, 0, 0) != 0x1041) continue;
    snprintf(name, len, "%s", e->d_name);
    closedir(d);
    return 0;
  }
  closedir(d);
  return -1;
}

static volatile uint8_t *map_bar(int i) {
  if (bar[i]) return bar[i];
  char p[400];
  snprintf(p, sizeof p, "%s/resource%d", devdir, i);
  /* the BAR's size: line i of `resource` is "start end flags" */
  char rp[400];
  snprintf(rp, sizeof rp, "%s/resource", devdir);
  FILE *rf = fopen(rp, "r");
  if (!rf) { perror(rp); return 0; }
  unsigned long long start = 0, end = 0, flags = 0;
  for (int k = 0; k <= i; k++)
    if (fscanf(rf, "%llx %llx %llx", &start, &end, &flags) != 3) { fclose(rf); return 0; }
  fclose(rf);
  if (end <= start) { fprintf(stderr, "BAR %d not assigned\n", i); return 0; }
  size_t size = (size_t)(end - start + 1);
  int fd = open(p, O_RDWR | O_SYNC);
  if (fd < 0) { perror(p); return 0; }
  void *m = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) { perror("mmap BAR"); return 0; }
  return bar[i] = m;
}

/* Physical address of a locked page of ours (/proc/self/pagemap: bit 63 present, bits 0-54 the PFN). */
static uint64_t phys_of(void *va) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return 0;
  uint64_t e = 0;
  pread(fd, &e, 8, ((uintptr_t)va / 4096) * 8);
  close(fd);
  if (!(e >> 63)) return 0;
  return (e & ((1ULL << 55) - 1)) * 4096 + ((uintptr_t)va & 4095);
}

/* virtio 1.2 4.1.4.3 struct virtio_pci_common_cfg offsets. */
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define W8(o, v) (*(volatile uint8_t *)(common + (o)) = (v))
#define W16(o, v) (*(volatile uint16_t *)(common + (o)) = (v))
#define W32(o, v) (*(volatile uint32_t *)(common + (o)) = (v))
#define R8(o) (*(volatile uint8_t *)(common + (o)))
#define R16(o) (*(volatile uint16_t *)(common + (o)))

/* virtio 1.2 2.7.5 descriptor, 2.7.6 avail ring. */
struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define F_NEXT 1
#define QSIZE 16

static int setup(void) {
  char name[64];
  if (find_device(name, sizeof name) < 0) { printf("TVBADRING error=no virtio-net device\n"); return -1; }
  snprintf(devdir, sizeof devdir, "/sys/bus/pci/devices/%s", name);
  char p[400];
  snprintf(p, sizeof p, "%s/driver/unbind", devdir);
  if (write_file(p, name) < 0) fprintf(stderr, "badring: unbind %s: %s (not bound?)\n", name, strerror(errno));
  /* memory space and bus master on (the driver's remove may have turned bus mastering off) */
  snprintf(p, sizeof p, "%s/config", devdir);
  int fd = open(p, O_RDWR);
  if (fd < 0) { perror(p); return -1; }
  uint8_t c[256] = {0};
  pread(fd, c, sizeof c, 0);
  uint16_t cmd = cfg_read(c, 4, 2) | 0x6;
  pwrite(fd, &cmd, 2, 4);
  close(fd);
  /* virtio 1.2 4.1.4: vendor capabilities (ID 9): cfg_type, bar, offset; the notify one adds the multiplier */
  uint32_t notify_mult = 0, notify_bar = 0, notify_off = 0;
  for (int at = c[0x34] & 0xfc; at; at = c[at + 1] & 0xfc) {
    if (c[at] != 9) continue;
    int type = c[at + 3], b = c[at + 4];
    uint32_t off = cfg_read(c, at + 8, 4);
    if (type < 1 || type > 3 || b > 5 || !map_bar(b)) continue;
    if (type == 1) common = bar[b] + off;
    if (type == 3) isr = bar[b] + off;
    if (type == 2) { notify_bar = b; notify_off = off; notify_mult = cfg_read(c, at + 16, 4); }
  }
  if (!common || !isr || !bar[notify_bar]) { printf("TVBADRING error=capabilities not found\n"); return -1; }
  W16(C_QSEL, 1);
  notify_tx = (volatile uint16_t *)(bar[notify_bar] + notify_off + R16(C_QNOFF) * notify_mult);
  return 0;
}

static struct desc *ring; /* one page: descriptors at 0, avail at 0x400, used at 0x800 */
static uint8_t *data;      /* one page of frame bytes */
static uint64_t ring_pa, data_pa;

/* Reset, negotiate VERSION_1 only, set up the TX queue on our page, DRIVER_OK (virtio 1.2 3.1.1). */
static int start_device(void) {
  W8(C_STATUS, 0);
  for (int i = 0; i < 1000 && R8(C_STATUS) != 0; i++) usleep(1000);
  W8(C_STATUS, 1);
  W8(C_STATUS, 1 | 2);
  W32(C_GFSEL, 0); W32(C_GF, 0);
  W32(C_GFSEL, 1); W32(C_GF, 1); /* bit 32: VIRTIO_F_VERSION_1 */
  W8(C_STATUS, 1 | 2 | 8);
  if (!(R8(C_STATUS) & 8)) { printf("TVBADRING error=FEATURES_OK refused\n"); return -1; }
  memset(ring, 0, 4096);
  W16(C_QSEL, 1);
  W16(C_QSIZE, QSIZE);
  *(volatile uint64_t *)(common + C_QDESC) = ring_pa;
  *(volatile uint64_t *)(common + C_QDRIVER) = ring_pa + 0x400;
  *(volatile uint64_t *)(common + C_QDEVICE) = ring_pa + 0x800;
  W16(C_QENABLE, 1);
  W8(C_STATUS, 1 | 2 | 8 | 4);
  return 0;
}

/* Publishes avail entries (ring[0] = head) with avail idx `idx`, kicks, and reports the device status. */
static void kick_and_report(const char *what, uint16_t head, uint16_t idx) {
  volatile uint16_t *avail = (volatile uint16_t *)((uint8_t *)ring + 0x400);
  avail[0] = 0;        /* flags */
  avail[2] = head;     /* ring[0] */
  __sync_synchronize();
  avail[1] = idx;      /* idx */
  __sync_synchronize();
  *notify_tx = 1;
  uint8_t st = 0;
  for (int i = 0; i < 200; i++) {
    usleep(10000);
    st = R8(C_STATUS);
    if (st & 0x40) break;
  }
  uint8_t isr_v = *isr; /* reading ISR acknowledges the configuration interrupt (virtio 1.2 4.1.4.5) */
  printf("TVBADRING case=%s status=0x%02x needs_reset=%d isr=0x%x\n", what, st, (st & 0x40) != 0, isr_v);
}

static int badring(void) {
  if (setup() < 0) return 1;
  ring = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
  if (ring == MAP_FAILED) { perror("mmap"); return 1; }
  memset(ring, 0, 8192);
  data = (uint8_t *)ring + 4096;
  ring_pa = phys_of(ring);
  data_pa = phys_of(data);
  if (!ring_pa || !data_pa) { printf("TVBADRING error=no physical address (pagemap)\n"); return 1; }
  memset(data, 0xff, 64);

  /* 1. A buffer far outside the guest's RAM. */
  if (start_device() < 0) return 1;
  ring[0] = (struct desc){ .addr = 0xfffffff00000ULL, .len = 64 };
  kick_and_report("outside", 0, 1);
  /* 2. A huge length from a valid address: the buffer runs past the end of RAM. */
  if (start_device() < 0) return 1;
  ring[0] = (struct desc){ .addr = data_pa, .len = 0xffffffffu };
  kick_and_report("huge", 0, 1);
  /* 3. A loop: 0 -> 1 -> 0 -> ... */
  if (start_device() < 0) return 1;
  ring[0] = (struct desc){ .addr = data_pa, .len = 64, .flags = F_NEXT, .next = 1 };
  ring[1] = (struct desc){ .addr = data_pa, .len = 64, .flags = F_NEXT, .next = 0 };
  kick_and_report("loop", 0, 1);
  /* 4. Garbage: every descriptor byte 0xa5, and a head index beyond the queue. */
  if (start_device() < 0) return 1;
  memset(ring, 0xa5, QSIZE * sizeof(struct desc));
  kick_and_report("garbage", 0xa5a5, 1);
  /* 5. An avail idx that runs far ahead of the ring. */
  if (start_device() < 0) return 1;
  ring[0] = (struct desc){ .addr = data_pa, .len = 64 };
  kick_and_report("avail-idx", 0, 1000);
  W8(C_STATUS, 0); /* leave the device reset */
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (argc >= 6 && !strcmp(argv[1], "flood")) return flood(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
  if (argc >= 4 && !strcmp(argv[1], "count")) return count(atoi(argv[2]), atof(argv[3]), argc >= 5 ? atof(argv[4]) : 60);
  if (argc >= 6 && !strcmp(argv[1], "rawflood")) return rawflood(argv[2], argv[3], atof(argv[4]), atoi(argv[5]));
  if (argc >= 4 && !strcmp(argv[1], "rawcount")) return rawcount(argv[2], atof(argv[3]), argc >= 5 ? atof(argv[4]) : 60);
  if (argc >= 2 && !strcmp(argv[1], "badring")) return badring();
  fprintf(stderr, "usage: tvnet flood IP PORT SECONDS PAYLOAD | count PORT SECONDS [WAIT] | rawflood IFACE DSTMAC SECONDS LEN | rawcount IFACE SECONDS [WAIT] | badring\n");
  return 2;
}
