/* Space-Saving: entries in an array, a min-heap of entry indices by packets, and a
 * linear-probing hash index (entry index + 1, 0 empty) deleted by backward shifting. */
#include "topk.h"
#include <stdlib.h>
#include <string.h>

struct rt_topk {
  uint32_t cap, n;          /* entries allowed, entries used */
  uint32_t mask;            /* hash slots - 1 (a power of two, at least twice cap) */
  uint64_t total;
  uint64_t evictions;
  uint64_t lost_bytes;      /* the most bytes an evicted entry held */
  rt_topk_entry *e;
  uint32_t *heap;           /* entry indices, fewest packets first */
  uint32_t *slots;
};

static uint64_t hash(const uint8_t *k, unsigned len) {
  uint64_t h = 0x9e3779b97f4a7c15u ^ len;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, k, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
    k += 8;
    len -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, k, len);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
  return h ^ (h >> 29);
}

rt_topk *rt_topk_new(uint32_t capacity) {
  if (capacity == 0 || capacity > (1u << 28)) return NULL;
  rt_topk *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  uint32_t slots = 16;
  while (slots < 2 * capacity) slots *= 2;
  t->cap = capacity;
  t->mask = slots - 1;
  t->e = calloc(capacity, sizeof *t->e);
  t->heap = calloc(capacity, sizeof *t->heap);
  t->slots = calloc(slots, sizeof *t->slots);
  if (!t->e || !t->heap || !t->slots) {
    rt_topk_free(t);
    return NULL;
  }
  return t;
}

void rt_topk_free(rt_topk *t) {
  if (!t) return;
  free(t->e);
  free(t->heap);
  free(t->slots);
  free(t);
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t find(const rt_topk *t, const uint8_t *key, unsigned len, uint64_t h) {
  for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
    uint32_t s = t->slots[i];
    if (s == 0) return i;
    const rt_topk_entry *e = &t->e[s - 1];
    if (e->keylen == len && memcmp(e->key, key, len) == 0) return i;
  }
}

/* Empties slot i and moves later entries of its probe run back so that lookups still find them. */
static void unslot(rt_topk *t, uint32_t i) {
  for (uint32_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
    uint32_t s = t->slots[j];
    if (s == 0) break;
    uint32_t home = t->e[s - 1].hash & t->mask;
    /* the entry at j may move to i when its home is not in (i, j] (cyclically) */
    if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
      t->slots[i] = s;
      i = j;
    }
  }
  t->slots[i] = 0;
}

static void swap(rt_topk *t, uint32_t a, uint32_t b) {
  uint32_t x = t->heap[a];
  t->heap[a] = t->heap[b];
  t->heap[b] = x;
  t->e[t->heap[a]].heap_pos = a;
  t->e[t->heap[b]].heap_pos = b;
}

static int lighter(const rt_topk *t, uint32_t a, uint32_t b) {
  return t->e[t->heap[a]].packets < t->e[t->heap[b]].packets;
}

static void sift_down(rt_topk *t, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < t->n && lighter(t, l, m)) m = l;
    if (r < t->n && lighter(t, r, m)) m = r;
    if (m == i) return;
    swap(t, i, m);
    i = m;
  }
}

static void sift_up(rt_topk *t, uint32_t i) {
  while (i > 0 && lighter(t, i, (i - 1) / 2)) {
    swap(t, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void count(rt_topk_entry *e, uint64_t bytes, int dir) {
  e->packets++;
  e->bytes += bytes;
  e->dir_packets[dir & 1]++;
  e->dir_bytes[dir & 1] += bytes;
}

void rt_topk_add(rt_topk *t, const uint8_t *key, unsigned keylen, uint64_t bytes, int dir) {
  t->total++;
  uint64_t h = hash(key, keylen);
  uint32_t slot = find(t, key, keylen, h);
  rt_topk_entry *e;
  if (t->slots[slot]) { /* known key */
    e = &t->e[t->slots[slot] - 1];
    count(e, bytes, dir);
    sift_down(t, e->heap_pos);
    return;
  }
  uint32_t idx;
  int evicted = t->n == t->cap;
  if (!evicted) { /* a free entry */
    idx = t->n;
    e = &t->e[idx];
    memset(e, 0, sizeof *e);
    t->heap[t->n] = idx;
    e->heap_pos = t->n++;
  } else { /* take over the lightest entry; its counts become the newcomer's error */
    idx = t->heap[0];
    e = &t->e[idx];
    unslot(t, find(t, e->key, e->keylen, e->hash));
    slot = find(t, key, keylen, h);
    e->err_packets = e->packets; /* the minimum: it never decreases, so it covers earlier stints */
    if (e->bytes > t->lost_bytes) t->lost_bytes = e->bytes;
    e->err_bytes = e->bytes = t->lost_bytes; /* bytes are not ordered: cover the worst loss */
    memset(e->dir_packets, 0, sizeof e->dir_packets);
    memset(e->dir_bytes, 0, sizeof e->dir_bytes);
    t->evictions++;
  }
  e->keylen = (uint8_t)keylen;
  e->hash = (uint32_t)h;
  memcpy(e->key, key, keylen);
  t->slots[slot] = idx + 1;
  count(e, bytes, dir);
  if (evicted) sift_down(t, e->heap_pos); /* it was the lightest and only grew */
  else sift_up(t, e->heap_pos);
}

static int heavier(const rt_topk_entry *a, const rt_topk_entry *b) {
  if (a->packets != b->packets) return a->packets > b->packets;
  if (a->bytes != b->bytes) return a->bytes > b->bytes;
  int c = memcmp(a->key, b->key, a->keylen < b->keylen ? a->keylen : b->keylen);
  return c ? c < 0 : a->keylen < b->keylen;
}

size_t rt_topk_top(const rt_topk *t, const rt_topk_entry **out, size_t n) {
  /* selection by insertion into the n best so far: n is small (a top-N), the table is not */
  size_t have = 0;
  for (uint32_t i = 0; i < t->n; i++) {
    const rt_topk_entry *e = &t->e[i];
    if (have == n && (n == 0 || !heavier(e, out[n - 1]))) continue;
    size_t j = have < n ? have++ : n - 1;
    while (j > 0 && heavier(e, out[j - 1])) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = e;
  }
  return have;
}

int rt_topk_exact(const rt_topk *t) { return t->evictions == 0; }
uint32_t rt_topk_capacity(const rt_topk *t) { return t->cap; }
uint64_t rt_topk_total(const rt_topk *t) { return t->total; }
