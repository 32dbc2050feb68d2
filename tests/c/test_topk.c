/* ctest-labels: pcap
 * The Space-Saving table against exact counts: while it has room every count is exact and the
 * order is by packets, bytes, key; past it, on skewed streams (a few heavy keys among
 * thousands, arriving in random order, in bursts, or the heavy ones last), every reported count
 * bounds the truth within its error, the error stays under N / capacity (bytes: times the
 * largest packet), every key above N / capacity is present, and the directional counts add up;
 * a table that fills up part way through (its buckets built then) keeps counting exactly. */
#include "check.h"
#include "pcapgen.h"
#include "topk.h"

#include <stdlib.h>

enum { KEYS = 5000 };
static uint64_t truth_p[KEYS], truth_b[KEYS], rev[KEYS];

static void key_of(uint32_t k, uint8_t key[5]) {
  key[0] = 4;
  key[1] = (uint8_t)(k >> 24), key[2] = (uint8_t)(k >> 16), key[3] = (uint8_t)(k >> 8), key[4] = (uint8_t)k;
}

static uint32_t key_id(const rt_topk_entry *e) {
  return (uint32_t)e->key[1] << 24 | (uint32_t)e->key[2] << 16 | (uint32_t)e->key[3] << 8 | e->key[4];
}

static void add(rt_topk *t, uint32_t k, uint64_t bytes) {
  uint8_t key[5];
  key_of(k, key);
  rt_topk_add(t, key, 5, bytes, (int)(bytes & 1));
  truth_p[k]++;
  truth_b[k] += bytes;
  rev[k] += bytes & 1;
}

static void t_exact(void) {
  rt_topk *t = rt_topk_new(64);
  memset(truth_p, 0, sizeof truth_p);
  memset(truth_b, 0, sizeof truth_b);
  memset(rev, 0, sizeof rev);
  for (int i = 0; i < 10000; i++) add(t, pg_rnd(50), 40 + pg_rnd(1460));
  CHECK(rt_topk_exact(t));
  CHECK_INT(rt_topk_total(t), 10000);
  const rt_topk_entry *top[64];
  size_t n = rt_topk_top(t, top, 64);
  CHECK_INT(n, 50);
  for (size_t i = 0; i < n; i++) {
    uint32_t k = key_id(top[i]);
    CHECK_INT(top[i]->packets, truth_p[k]);
    CHECK_INT(top[i]->bytes, truth_b[k]);
    CHECK_INT(top[i]->err_packets, 0);
    CHECK_INT(top[i]->rev_packets, rev[k]); /* direction 1: the odd byte counts */
    if (i) CHECK(top[i - 1]->packets > top[i]->packets ||
                 (top[i - 1]->packets == top[i]->packets && top[i - 1]->bytes >= top[i]->bytes));
  }
  CHECK_INT(rt_topk_top(t, top, 3), 3);
  rt_topk_free(t);
}

/* order: 0 random, 1 in bursts of one key, 2 the heavy keys after everything else */
static void run_stream(int order, uint32_t cap) {
  memset(truth_p, 0, sizeof truth_p);
  memset(truth_b, 0, sizeof truth_b);
  rt_topk *t = rt_topk_new(cap);
  uint64_t n = 0, maxlen = 0;
  uint32_t *stream = malloc(200000 * sizeof *stream);
  for (int i = 0; i < 200000; i++) /* 30 % to 8 heavy keys, the rest over thousands */
    stream[n++] = pg_rnd(10) < 3 ? pg_rnd(8) : 8 + pg_rnd(KEYS - 8);
  if (order == 1)
    for (uint64_t i = 0; i + 50 < n; i += 50)
      for (int j = 1; j < 50; j++) stream[i + (uint64_t)j] = stream[i];
  if (order == 2) { /* stable partition: light first */
    uint64_t w = 0;
    uint32_t *copy = malloc(n * sizeof *copy);
    for (uint64_t i = 0; i < n; i++) if (stream[i] >= 8) copy[w++] = stream[i];
    for (uint64_t i = 0; i < n; i++) if (stream[i] < 8) copy[w++] = stream[i];
    memcpy(stream, copy, n * sizeof *copy);
    free(copy);
  }
  for (uint64_t i = 0; i < n; i++) {
    uint64_t len = 40 + pg_rnd(1460);
    if (len > maxlen) maxlen = len;
    add(t, stream[i], len);
  }
  free(stream);
  CHECK(!rt_topk_exact(t));
  const rt_topk_entry **top = calloc(cap, sizeof *top);
  size_t got = rt_topk_top(t, top, cap);
  CHECK_INT(got, cap);
  int bad = 0;
  uint8_t present[KEYS] = {0};
  for (size_t i = 0; i < got; i++) {
    const rt_topk_entry *e = top[i];
    uint32_t k = key_id(e);
    present[k] = 1;
    bad += !(e->packets - e->err_packets <= truth_p[k] && truth_p[k] <= e->packets);
    bad += !(e->bytes - e->err_bytes <= truth_b[k] && truth_b[k] <= e->bytes);
    bad += !(e->err_packets <= n / cap && e->err_bytes <= n / cap * maxlen);
    bad += e->rev_packets > e->packets - e->err_packets || e->rev_bytes > e->bytes - e->err_bytes;
  }
  CHECK_INT(bad, 0);
  int missing = 0;
  for (uint32_t k = 0; k < KEYS; k++) missing += truth_p[k] > n / cap && !present[k];
  CHECK_INT(missing, 0);
  int heavy = 0; /* the 8 heavy keys (each ~3.75 % of N) are guaranteed when above N / cap */
  for (uint32_t k = 0; k < 8; k++) heavy += truth_p[k] > n / cap;
  CHECK_INT(heavy, cap >= 100 ? 8 : 0);
  free(top);
  rt_topk_free(t);
}

static void t_bounds_random(void) { run_stream(0, 100); }
static void t_bounds_bursts(void) { run_stream(1, 100); }
static void t_bounds_heavy_last(void) { run_stream(2, 100); }
static void t_bounds_tiny(void) { run_stream(0, 10); }

/* A table that fills up part way: its buckets are built then; counting goes on exactly, and
 * the next new key takes over the entry with the fewest packets. */
static void t_fills_up(void) {
  rt_topk *t = rt_topk_new(50);
  memset(truth_p, 0, sizeof truth_p);
  memset(truth_b, 0, sizeof truth_b);
  for (uint32_t k = 0; k < 50; k++) add(t, k, 100); /* full now */
  for (int i = 0; i < 20000; i++) add(t, 1 + pg_rnd(49), 100); /* key 0 stays the lightest */
  CHECK(rt_topk_exact(t));
  const rt_topk_entry *top[50];
  CHECK_INT(rt_topk_top(t, top, 50), 50);
  for (int i = 0; i < 50; i++) CHECK_INT(top[i]->packets, truth_p[key_id(top[i])]);
  CHECK_INT(key_id(top[49]), 0);
  add(t, 777, 100);
  CHECK(!rt_topk_exact(t));
  rt_topk_top(t, top, 50);
  int found0 = 0, found777 = 0;
  for (int i = 0; i < 50; i++) {
    found0 |= key_id(top[i]) == 0;
    if (key_id(top[i]) == 777) {
      found777 = 1;
      CHECK(top[i]->packets == 2 && top[i]->err_packets == 1);
    }
  }
  CHECK(!found0 && found777);
  rt_topk_free(t);
}

static void t_refused(void) {
  CHECK(rt_topk_new(0) == NULL);
  rt_topk *t = rt_topk_new(1);
  add(t, 1, 10);
  add(t, 2, 20); /* takes over the only entry */
  const rt_topk_entry *e;
  CHECK_INT(rt_topk_top(t, &e, 1), 1);
  CHECK(key_id(e) == 2 && e->packets == 2 && e->err_packets == 1 && e->bytes == 30 && e->err_bytes == 10);
  rt_topk_free(t);
}

int main(void) {
  RUN(t_exact);
  RUN(t_bounds_random);
  RUN(t_bounds_bursts);
  RUN(t_bounds_heavy_last);
  RUN(t_bounds_tiny);
  RUN(t_fills_up);
  RUN(t_refused);
  return check_done();
}
