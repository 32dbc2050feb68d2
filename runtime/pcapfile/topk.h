/* A bounded table of the heaviest keys of a stream (Space-Saving, Metwally, Agrawal and El
 * Abbadi 2005), counting packets and bytes per key (an address, a pair of addresses) in fixed
 * memory: `capacity` entries, found by a hash index, grouped by packet count (the "stream
 * summary"), so that every operation takes constant time.
 *
 * A key already in the table has its counts raised. A new key takes a free entry while there
 * is one; once the table is full it takes the entry with the fewest packets and inherits its
 * packet count as its error (that minimum never decreases, so it covers whatever the key had
 * before it was last evicted). Bytes are not what the table is ordered by, so the newcomer's
 * byte error is the most bytes any evicted entry ever held. Guarantees, with N the packets
 * added:
 *  - a key's true packet count lies in [packets - err_packets, packets], and its true byte
 *    count in [bytes - err_bytes, bytes];
 *  - err_packets <= N / capacity, err_bytes <= N / capacity times the largest packet, and
 *    every key seen more than N / capacity times is in the table, so the top entries by
 *    packets are the true heavy hitters;
 *  - while no entry was ever taken over (rt_topk_exact), every count is exact.
 * Directions (for keys that are pairs) cover only the packets seen since the key entered the
 * table: rev_packets of them went in direction 1, packets - err_packets - rev_packets in
 * direction 0 (bytes likewise).
 * Each add costs a hash lookup and a few list steps. Not thread-safe. */
#ifndef PCAPRUN_TOPK_H
#define PCAPRUN_TOPK_H
#include <stddef.h>
#include <stdint.h>

#define RT_TOPK_KEYMAX 33  /* an IP version byte and two 16-byte addresses */
#define RT_TOPK_KEYSIZE 40 /* how keys are stored: zero-padded to whole words */

typedef struct rt_topk_entry {
  /* the first 64 bytes: all that counting a known key in direction 0 touches */
  _Alignas(64) uint8_t key[RT_TOPK_KEYSIZE];
  uint32_t hash;
  uint8_t keylen;
  uint64_t packets, bytes;
  uint64_t err_packets, err_bytes;
  uint64_t rev_packets, rev_bytes; /* the packets counted in direction 1 since the key entered */
  uint32_t bucket, prev, next;     /* private: the entry's place among equal counts */
} rt_topk_entry;

typedef struct rt_topk rt_topk;

/* A table of `capacity` entries (>= 1). NULL when out of memory. */
rt_topk *rt_topk_new(uint32_t capacity);
void rt_topk_free(rt_topk *t);

/* Counts one packet of `bytes` for key (keylen <= RT_TOPK_KEYMAX) in direction dir (0 or 1). */
void rt_topk_add(rt_topk *t, const uint8_t *key, unsigned keylen, uint64_t bytes, int dir);

/* Starts loading what adding the key will read (to overlap that wait with other work). */
void rt_topk_prefetch(const rt_topk *t, const uint8_t *key, unsigned keylen);

/* Fills out[0..] with up to n entries, most packets first (ties: more bytes, then the smaller
 * key), and returns how many. The pointers stay valid until the next add. */
size_t rt_topk_top(const rt_topk *t, const rt_topk_entry **out, size_t n);

/* Every count is exact: no entry was ever taken over by another key. */
int rt_topk_exact(const rt_topk *t);
uint32_t rt_topk_capacity(const rt_topk *t);
/* Packets added so far (N in the bounds above). */
uint64_t rt_topk_total(const rt_topk *t);

#endif
