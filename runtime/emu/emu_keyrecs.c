/* The limiters' records, one per key ("c:<hash>" a credential's request budget, "a:<account>" or
 * "s<cred>" a sample window): found in O(1) through a hash table, and bounded. At most
 * EMU_KEYRECS_MAX are kept; making one more forgets the least recently used (a client that has
 * been quiet the longest; its budget starts afresh if it comes back). A record's request ring
 * grows with its use, up to the quota, so a credential seen once costs a few hundred bytes. */
#include "emu_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(uint64_t hash) { return (size_t)(hash & (EMU_KEYTAB_SIZE - 1)); }

static void forget(emu_server *s, emu_keyrec *k) {
  emu_keyrec **p = &s->keytab[slot_of(k->hash)];
  while (*p != k) p = &(*p)->next;
  *p = k->next;
  rt_list_unlink(&k->lru);
  s->nkeyrecs--;
  free(k->ring);
  free(k);
}

emu_keyrec *emu_keyrec_find(emu_server *s, const char *key) {
  uint64_t h = emu_hash(key, strlen(key), EMU_HASH_INIT);
  for (emu_keyrec *k = s->keytab[slot_of(h)]; k; k = k->next) {
    if (k->hash != h || strcmp(k->key, key) != 0) continue;
    rt_list_unlink(&k->lru); /* most recently used first */
    rt_list_insert_before(s->keyrecs.next, &k->lru);
    return k;
  }
  return NULL;
}

emu_keyrec *emu_keyrec_get(emu_server *s, const char *key) {
  emu_keyrec *k = emu_keyrec_find(s, key);
  if (k) return k;
  if (s->nkeyrecs >= EMU_KEYRECS_MAX) forget(s, RT_CONTAINER(s->keyrecs.prev, emu_keyrec, lru));
  if (!(k = calloc(1, sizeof *k))) return NULL;
  snprintf(k->key, sizeof k->key, "%s", key);
  k->hash = emu_hash(key, strlen(key), EMU_HASH_INIT);
  k->next = s->keytab[slot_of(k->hash)];
  s->keytab[slot_of(k->hash)] = k;
  rt_list_insert_before(s->keyrecs.next, &k->lru);
  s->nkeyrecs++;
  return k;
}

void emu_keyrecs_clear(emu_server *s) {
  RT_LIST_EACH(it, &s->keyrecs) forget(s, RT_CONTAINER(it, emu_keyrec, lru));
}
