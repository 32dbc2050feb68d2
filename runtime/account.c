/* Accounts: one per (endpoint, account id), shared by every client that names it, so the limits
 * hold whatever the script does. Credentials live here and only here. */
#include "err.h"
#include "log.h"
#include "pcaps.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rt_capture *rt_capture_find(rt_account *a, const char *id) {
  RT_LIST_EACH(it, &a->captures) {
    rt_capture *c = RT_CONTAINER(it, rt_capture, link);
    if (strcmp(c->id, id) == 0) return c;
  }
  return NULL;
}

rt_creds *rt_creds_new(const char *line1, const char *line2) {
  rt_creds *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->refs = 1;
  c->auth[0] = line1 ? strdup(line1) : NULL;
  c->auth[1] = line2 ? strdup(line2) : NULL;
  if ((line1 && !c->auth[0]) || (line2 && !c->auth[1])) {
    rt_creds_unref(c);
    return NULL;
  }
  return c;
}

rt_creds *rt_creds_ref(rt_creds *c) {
  if (c) c->refs++;
  return c;
}

void rt_creds_unref(rt_creds *c) {
  if (!c || --c->refs > 0) return;
  for (int i = 0; i < 2; i++) {
    if (c->auth[i]) memset(c->auth[i], 0, strlen(c->auth[i]));
    free(c->auth[i]);
  }
  free(c);
}

static void account_free(rt_account *a) {
  rt_window_close(&a->api);
  rt_window_close(&a->sample);
  free(a->base_url);
  free(a);
}

rt_account *rt_account_get(rt_runtime *rt, const char *base_url, const char *account_id,
                           char *err, size_t errlen) {
  size_t blen = strlen(base_url);
  while (blen > 0 && base_url[blen - 1] == '/') blen--;
  RT_LIST_EACH(it, &rt->accounts) {
    rt_account *a = RT_CONTAINER(it, rt_account, link);
    if (strlen(a->base_url) == blen && strncmp(a->base_url, base_url, blen) == 0 &&
        strcmp(a->account_id, account_id) == 0)
      return a;
  }
  char host[64];
  char why[320];
  if (rt_http_check_secure_url(base_url, host, sizeof host, why, sizeof why)) { /* no token in the clear */
    snprintf(err, errlen, "base URL %s", why);
    return NULL;
  }
  rt_account *a = calloc(1, sizeof *a);
  if (!a) goto nomem;
  a->rt = rt;
  rt_list_init(&a->captures);
  rt_list_init(&a->calls);
  snprintf(a->host, sizeof a->host, "%s", host);
  snprintf(a->account_id, sizeof a->account_id, "%s", account_id);
  a->base_url = strndup(base_url, blen);
  const rt_options *o = &rt->opt;
  if (!a->base_url ||
      rt_window_init(&a->api, rt, "api", (unsigned)o->api_budget, rt_api_ms(rt, o->api_window),
                     (unsigned)o->max_waiters) ||
      rt_window_init(&a->sample, rt, "sample", 1, rt_api_ms(rt, o->sample_interval),
                     (unsigned)o->max_waiters) ||
      rt_gate_init(&a->full, rt, "full", (unsigned)o->full_slots, (unsigned)o->max_waiters)) {
    if (a) account_free(a);
    goto nomem;
  }
  rt_list_push(&rt->accounts, &a->link);
  return a;
nomem:
  snprintf(err, errlen, "out of memory");
  return NULL;
}

void rt_accounts_close(rt_runtime *rt) {
  RT_LIST_EACH(it, &rt->accounts) {
    rt_account *a = RT_CONTAINER(it, rt_account, link);
    /* first the polls (calls the captures own), then the other calls, then the captures */
    RT_LIST_EACH(ci, &a->captures) rt_capture_stop_polling(RT_CONTAINER(ci, rt_capture, link));
    RT_LIST_EACH(li, &a->calls) rt_call_free(RT_CONTAINER(li, rt_call, link));
    RT_LIST_EACH(ci, &a->captures) {
      rt_capture *c = RT_CONTAINER(ci, rt_capture, link);
      rt_list_unlink(&c->link);
      json_decref(c->obj);
      rt_creds_unref(c->creds);
      free(c);
    }
    rt_list_unlink(&a->link);
    account_free(a);
  }
}
