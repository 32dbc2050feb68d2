/* Intrusive circular doubly-linked list: O(1) insert and unlink, no allocation. */
#ifndef PCAPRUN_LIST_H
#define PCAPRUN_LIST_H
#include <stddef.h>

typedef struct rt_list { struct rt_list *prev, *next; } rt_list;

#define RT_CONTAINER(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define RT_LIST_EACH(it, head) for (rt_list *it = (head)->next, *it##_next = it->next; \
                                    it != (head); it = it##_next, it##_next = it->next)

static inline void rt_list_init(rt_list *l) { l->prev = l->next = l; }
static inline int rt_list_empty(const rt_list *l) { return l->next == l; }
/* A node is linked when it is in some list; rt_list_unlink leaves it unlinked. */
static inline int rt_list_linked(const rt_list *n) { return n->next != n && n->next != NULL; }
static inline void rt_list_insert_before(rt_list *pos, rt_list *n) {
  n->prev = pos->prev; n->next = pos; pos->prev->next = n; pos->prev = n;
}
static inline void rt_list_push(rt_list *head, rt_list *n) { rt_list_insert_before(head, n); }
static inline void rt_list_unlink(rt_list *n) {
  if (!rt_list_linked(n)) return;
  n->prev->next = n->next; n->next->prev = n->prev; n->prev = n->next = n;
}
static inline rt_list *rt_list_first(rt_list *head) { return rt_list_empty(head) ? NULL : head->next; }

#endif
