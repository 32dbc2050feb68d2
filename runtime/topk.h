/* A bounded table of the heaviest keys of a stream (Space-Saving, Metwally, Agrawal and El
 * Abbadi 2005), counting packets and bytes per key (an address, a pair of addresses) in fixed
 * memory: `capacity` entries, found by a hash index, ordered in a min-heap by packets.
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
 * The directional counts (dir_packets/dir_bytes, for keys that are pairs) cover only the packets
 * seen since the key entered the table: they sum to packets - err_packets.
 * Each add costs a hash lookup and O(log capacity) heap steps. Not thread-safe. */
#ifndef PCAPRUN_TOPK_H
#define PCAPRUN_TOPK_H
#include <stddef.h>
#include <stdint.h>

#define RT_TOPK_KEYMAX 33 /* an IP version byte and two 16-byte addresses */

typedef struct rt_topk_entry {
  uint64_t packets, bytes;
  uint64_t err_packets, err_bytes;
  uint64_t dir_packets[2], dir_bytes[2];
  uint32_t heap_pos;
  uint32_t hash;
  uint8_t keylen;
  uint8_t key[RT_TOPK_KEYMAX];
} rt_topk_entry;

typedef struct rt_topk rt_topk;

/* A table of `capacity` entries (>= 1). NULL when out of memory. */
rt_topk *rt_topk_new(uint32_t capacity);
void rt_topk_free(rt_topk *t);

/* Counts one packet of `bytes` for key (keylen <= RT_TOPK_KEYMAX) in direction dir (0 or 1). */
void rt_topk_add(rt_topk *t, const uint8_t *key, unsigned keylen, uint64_t bytes, int dir);

/* Fills out[0..] with up to n entries, most packets first (ties: more bytes, then the smaller
 * key), and returns how many. The pointers stay valid until the next add. */
size_t rt_topk_top(const rt_topk *t, const rt_topk_entry **out, size_t n);

/* Every count is exact: no entry was ever taken over by another key. */
int rt_topk_exact(const rt_topk *t);
uint32_t rt_topk_capacity(const rt_topk *t);
/* Packets added so far (N in the bounds above). */
uint64_t rt_topk_total(const rt_topk *t);

#endif
