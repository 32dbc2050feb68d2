/* Small helpers of the emulator: deterministic random numbers, ids, clocks and RFC 3339 times. */
#include "emu_internal.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* splitmix64: tiny, fast and good enough; each stream is an independent sequence per seed, so
 * turning faults on does not change the ids a test sees. */
void emu_rng_seed(emu_rng *r, uint64_t seed, uint64_t stream) {
  r->s = seed * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xbf58476d1ce4e5b9ULL;
}

uint64_t emu_rng_next(emu_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double emu_rng_unit(emu_rng *r) { return (double)(emu_rng_next(r) >> 11) * 0x1.0p-53; }

uint32_t emu_rng_below(emu_rng *r, uint32_t n) {
  return n ? (uint32_t)((emu_rng_next(r) >> 32) * (uint64_t)n >> 32) : 0;
}

void emu_rng_hex(emu_rng *r, char out[33]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i += 16) {
    uint64_t v = emu_rng_next(r);
    for (int j = 0; j < 16; j++, v >>= 4) out[i + j] = hex[v & 15];
  }
  out[32] = 0;
}

uint64_t emu_hash(const void *data, size_t len, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

double emu_mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double emu_wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void emu_format_time(double wall, char out[40]) {
  time_t sec = (time_t)floor(wall);
  long usec = (long)((wall - (double)sec) * 1e6);
  if (usec > 999999) usec = 999999;
  struct tm tm;
  gmtime_r(&sec, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%06ldZ", usec);
}

int emu_is_hex32(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (!isxdigit((unsigned char)s[n])) return 0;
  return n == 32;
}

int emu_secret_equal(const char *given, const char *secret) {
  size_t lg = strlen(given), ls = strlen(secret);
  unsigned char diff = (unsigned char)(lg != ls || ls == 0);
  for (size_t i = 0; i < lg; i++) diff |= (unsigned char)(given[i] ^ secret[i < ls ? i : 0]);
  return diff == 0;
}
