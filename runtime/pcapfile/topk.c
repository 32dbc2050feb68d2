/* Space-Saving with its "stream summary": entries in an array, found by a linear-probing hash
 * index (the key's hash and the entry index + 1, so that a probe reads the entry only when the
 * hashes match; 0 empty; deletion shifts later entries back), and grouped in buckets of equal
 * packet counts, the buckets in a list by increasing count. Raising an entry's count moves it
 * to the next bucket (or renames its bucket when it is alone there), and the lightest entry is
 * any entry of the first bucket: every operation is O(1). The buckets only serve to find the
 * lightest entry once the table is full, so they are built then (a sort of the entries) and
 * kept from there on; until then a count touches nothing but its entry's first cache line.
 * Keys are stored zero-padded to RT_TOPK_KEYSIZE bytes: hashing and comparing them are a few
 * word operations. */
#include "topk.h"
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define WORDS (RT_TOPK_KEYSIZE / 8)

typedef struct bucket {
  uint64_t count;
  uint32_t head;            /* an entry of its circular list */
  uint32_t prev, next;      /* neighbouring buckets by count, NONE at the ends */
} bucket;

struct rt_topk {
  uint32_t cap, n;          /* entries allowed, entries used */
  uint32_t mask;            /* hash slots - 1 (a power of two, at least twice cap) */
  uint64_t total;
  uint64_t evictions;
  uint64_t lost_bytes;      /* the most bytes an evicted entry held */
  rt_topk_entry *e;
  uint64_t *slots;          /* hash << 32 | entry index + 1; 0 empty */
  bucket *b;                /* cap + 1 of them */
  uint32_t first;           /* the bucket of the fewest packets */
  uint32_t free_buckets;    /* linked through next */
  int summary;              /* the buckets are built (the table is full) */
};

/* The key's words that hold bytes (the rest are zero). */
static uint64_t hash(const uint64_t *w, unsigned len) {
  uint64_t h = 0x9e3779b97f4a7c15u ^ len;
  for (unsigned i = 0; i < (len + 7) / 8; i++) {
    h = (h ^ w[i]) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  return h;
}

static int same_key(const rt_topk_entry *e, const uint64_t *w, unsigned len) {
  uint64_t diff = e->keylen ^ len;
  for (int i = 0; i < WORDS; i++) {
    uint64_t x;
    memcpy(&x, e->key + 8 * i, 8);
    diff |= x ^ w[i];
  }
  return diff == 0;
}

rt_topk *rt_topk_new(uint32_t capacity) {
  if (capacity == 0 || capacity > (1u << 28)) return NULL;
  rt_topk *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  uint32_t slots = 16;
  while (slots < 2 * capacity) slots *= 2;
  t->cap = capacity;
  t->mask = slots - 1;
  t->e = aligned_alloc(64, (size_t)capacity * sizeof *t->e); /* cache-line entries */
  t->slots = calloc(slots, sizeof *t->slots);
  t->b = calloc((size_t)capacity + 1, sizeof *t->b);
  if (!t->e || !t->slots || !t->b) {
    rt_topk_free(t);
    return NULL;
  }
  t->first = NONE;
  for (uint32_t i = 0; i <= capacity; i++) t->b[i].next = i < capacity ? i + 1 : NONE;
  t->free_buckets = 0;
  return t;
}

void rt_topk_free(rt_topk *t) {
  if (!t) return;
  free(t->e);
  free(t->slots);
  free(t->b);
  free(t);
}

/* The slot holding the key, or the empty slot where it would go. */
static uint32_t find(const rt_topk *t, const uint64_t *w, unsigned len, uint32_t h) {
  for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
    uint64_t s = t->slots[i];
    if (s == 0) return i;
    if ((uint32_t)(s >> 32) == h && same_key(&t->e[(uint32_t)s - 1], w, len)) return i;
  }
}

/* Empties slot i and moves later entries of its probe run back so that lookups still find them. */
static void unslot(rt_topk *t, uint32_t i) {
  for (uint32_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
    uint64_t s = t->slots[j];
    if (s == 0) break;
    uint32_t home = (uint32_t)(s >> 32) & t->mask;
    /* the entry at j may move to i when its home is not in (i, j] (cyclically) */
    if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
      t->slots[i] = s;
      i = j;
    }
  }
  t->slots[i] = 0;
}

/* ---- buckets ---- */

/* A new bucket of `count` after bucket `after` (NONE: first in the list). */
static uint32_t bucket_new(rt_topk *t, uint64_t count, uint32_t after) {
  uint32_t k = t->free_buckets;
  bucket *nb = &t->b[k];
  t->free_buckets = nb->next;
  nb->count = count;
  nb->head = NONE;
  nb->prev = after;
  nb->next = after == NONE ? t->first : t->b[after].next;
  if (nb->next != NONE) t->b[nb->next].prev = k;
  if (after == NONE) t->first = k;
  else t->b[after].next = k;
  return k;
}

static void bucket_free(rt_topk *t, uint32_t k) {
  bucket *b = &t->b[k];
  if (b->prev == NONE) t->first = b->next;
  else t->b[b->prev].next = b->next;
  if (b->next != NONE) t->b[b->next].prev = b->prev;
  b->next = t->free_buckets;
  t->free_buckets = k;
}

static void link_entry(rt_topk *t, uint32_t idx, uint32_t k) {
  rt_topk_entry *e = &t->e[idx];
  bucket *b = &t->b[k];
  e->bucket = k;
  if (b->head == NONE) {
    b->head = e->prev = e->next = idx;
    return;
  }
  rt_topk_entry *h = &t->e[b->head];
  e->next = b->head;
  e->prev = h->prev;
  t->e[h->prev].next = idx;
  h->prev = idx;
}

/* Takes the entry out of its bucket, freeing the bucket when it empties. */
static void unlink_entry(rt_topk *t, uint32_t idx) {
  rt_topk_entry *e = &t->e[idx];
  bucket *b = &t->b[e->bucket];
  if (e->next == idx) {
    bucket_free(t, e->bucket);
    return;
  }
  t->e[e->prev].next = e->next;
  t->e[e->next].prev = e->prev;
  if (b->head == idx) b->head = e->next;
}

/* The entry's packet count was raised by one: move it to its bucket. */
static void bump(rt_topk *t, uint32_t idx) {
  rt_topk_entry *e = &t->e[idx];
  uint32_t k = e->bucket, next = t->b[k].next;
  if (next != NONE && t->b[next].count == e->packets) {
    unlink_entry(t, idx);
    link_entry(t, idx, next);
  } else if (e->next == idx) { /* alone: its bucket takes the new count, still below the next */
    t->b[k].count = e->packets;
  } else {
    uint32_t nb = bucket_new(t, e->packets, k);
    unlink_entry(t, idx);
    link_entry(t, idx, nb);
  }
}

static void count(rt_topk_entry *e, uint64_t bytes, int dir) {
  e->packets++;
  e->bytes += bytes;
  if (dir) {
    e->rev_packets++;
    e->rev_bytes += bytes;
  }
}

typedef struct by_count { uint64_t packets; uint32_t idx; } by_count;

static int fewer(const void *a, const void *b) {
  const by_count *x = a, *y = b;
  return x->packets < y->packets ? -1 : x->packets > y->packets;
}

/* The table just became full: group the entries into buckets by count. */
static void build_summary(rt_topk *t) {
  by_count *order = malloc((size_t)t->n * sizeof *order);
  if (!order) { /* out of memory: one entry at a time, slowly but correctly */
    for (uint32_t i = 0; i < t->n; i++) {
      uint32_t k = t->first;
      uint32_t after = NONE;
      while (k != NONE && t->b[k].count < t->e[i].packets) after = k, k = t->b[k].next;
      link_entry(t, i, k != NONE && t->b[k].count == t->e[i].packets ? k : bucket_new(t, t->e[i].packets, after));
    }
  } else {
    for (uint32_t i = 0; i < t->n; i++) order[i] = (by_count){t->e[i].packets, i};
    qsort(order, t->n, sizeof *order, fewer);
    uint32_t last = NONE;
    for (uint32_t i = 0; i < t->n; i++) {
      if (last == NONE || t->b[last].count != order[i].packets) last = bucket_new(t, order[i].packets, last);
      link_entry(t, order[i].idx, last);
    }
    free(order);
  }
  t->summary = 1;
}

void rt_topk_prefetch(const rt_topk *t, const uint8_t *key, unsigned keylen) {
  uint64_t w[WORDS] = {0};
  memcpy(w, key, keylen);
  __builtin_prefetch(&t->slots[(uint32_t)hash(w, keylen) & t->mask]);
}

void rt_topk_add(rt_topk *t, const uint8_t *key, unsigned keylen, uint64_t bytes, int dir) {
  uint64_t w[WORDS] = {0};
  memcpy(w, key, keylen);
  t->total++;
  uint32_t h = (uint32_t)hash(w, keylen);
  uint32_t slot = find(t, w, keylen, h);
  uint32_t idx;
  if (t->slots[slot]) { /* known key */
    idx = (uint32_t)t->slots[slot] - 1;
    count(&t->e[idx], bytes, dir);
    if (t->summary) bump(t, idx);
    return;
  }
  rt_topk_entry *e;
  int evicted = t->n == t->cap;
  if (!evicted) { /* a free entry */
    idx = t->n++;
    e = &t->e[idx];
    memset(e, 0, sizeof *e);
  } else { /* take over the lightest entry; its count becomes the newcomer's error */
    idx = t->b[t->first].head;
    e = &t->e[idx];
    uint64_t old[WORDS];
    memcpy(old, e->key, sizeof old);
    unslot(t, find(t, old, e->keylen, e->hash));
    slot = find(t, w, keylen, h);
    e->err_packets = e->packets; /* the minimum: it never decreases, so it covers earlier stints */
    if (e->bytes > t->lost_bytes) t->lost_bytes = e->bytes;
    e->err_bytes = e->bytes = t->lost_bytes; /* bytes are not ordered: cover the worst loss */
    e->rev_packets = e->rev_bytes = 0;
    t->evictions++;
  }
  e->keylen = (uint8_t)keylen;
  e->hash = h;
  memcpy(e->key, w, sizeof w);
  t->slots[slot] = (uint64_t)h << 32 | (idx + 1);
  count(e, bytes, dir);
  if (evicted) bump(t, idx); /* one above the minimum now */
  else if (t->n == t->cap) build_summary(t);
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
