/* Accounts, credentials and principals. An account is one per (endpoint, account id), shared by
 * every client that names it, so the per-account limits hold whatever the script does; a
 * principal is one per credential identity and endpoint, so the request budget — which
 * Cloudflare counts per user — holds across accounts. Credentials live here and only here. */
#include "err.h"
#include "log.h"
#include "pcaps.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "scheme://host[:port]" of a URL (the server a budget belongs to). */
static void server_of(const char *url, char *out, size_t size) {
  const char *p = strstr(url, "://");
  size_t n = p ? (size_t)(strcspn(p + 3, "/?#") + (size_t)(p + 3 - url)) : strlen(url);
  snprintf(out, size, "%.*s", (int)n, url);
}

/* ---- principals ---- */

/* The key of the fingerprints: the journal's (so processes sharing it agree), else the run's. */
static int fingerprint_key(rt_runtime *rt, unsigned char key[32]) {
  rt_journal *j = rt_journal_use(rt);
  if (j && rt_journal_secret(j, key) == 0) return 0;
  if (!rt->fingerprint_key_set && rt_random_bytes(rt->fingerprint_key, sizeof rt->fingerprint_key)) return RT_EIO;
  rt->fingerprint_key_set = 1;
  memcpy(key, rt->fingerprint_key, sizeof rt->fingerprint_key);
  return 0;
}

rt_principal *rt_principal_get(rt_runtime *rt, const char *base_url, int kind, const char *value) {
  char server[128], id[80];
  server_of(base_url, server, sizeof server);
  if (kind == RT_ID_EMAIL) {
    snprintf(id, sizeof id, "email:%s", value);
    for (char *p = id + 6; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
  } else {
    unsigned char key[32], mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (fingerprint_key(rt, key) ||
        !HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)value, strlen(value), mac, &len))
      return NULL;
    strcpy(id, "token:");
    for (int i = 0; i < 8; i++) snprintf(id + 6 + 2 * i, 3, "%02x", mac[i]);
  }
  RT_LIST_EACH(it, &rt->principals) {
    rt_principal *p = RT_CONTAINER(it, rt_principal, link);
    if (!strcmp(p->server, server) && !strcmp(p->id, id)) return p;
  }
  rt_principal *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->rt = rt;
  snprintf(p->server, sizeof p->server, "%s", server);
  snprintf(p->id, sizeof p->id, "%s", id);
  snprintf(p->key, sizeof p->key, "%s %s", server, id);
  const rt_options *o = &rt->opt;
  if (rt_window_init(&p->api, rt, "api", (unsigned)o->api_budget, rt_api_ms(rt, o->api_window),
                     (unsigned)o->max_waiters)) {
    free(p);
    return NULL;
  }
  rt_list_push(&rt->principals, &p->link);
  return p;
}

/* ---- credentials ---- */

rt_creds *rt_creds_new(const char *line1, const char *line2, rt_principal *p) {
  rt_creds *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->refs = 1;
  c->principal = p;
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

/* ---- accounts ---- */

rt_capture *rt_capture_find(rt_account *a, const char *id) {
  RT_LIST_EACH(it, &a->captures) {
    rt_capture *c = RT_CONTAINER(it, rt_capture, link);
    if (strcmp(c->id, id) == 0) return c;
  }
  return NULL;
}

double rt_account_sample_gap(const rt_account *a) {
  const rt_runtime *rt = a->rt;
  return rt->opt.sample_interval > 0 ? rt_api_ms(rt, rt->opt.sample_interval) / 1000.0 + 0.005 : 0;
}

static void account_free(rt_account *a) {
  rt_window_close(&a->sample);
  free(a->base_url);
  free(a);
}

/* Records the account in the run's journal and adopts the full captures that processes now
 * gone were following there (they hold the slot again here, and are polled). */
static void attach_journal(rt_account *a, rt_creds *creds) {
  rt_journal *j = rt_journal_use(a->rt);
  if (!j || rt_journal_account(j, a->base_url, a->account_id, &a->journal_id)) return;
  a->journal = j;
  rt_jcapture orphans[RT_JOURNAL_MAX_ADOPT];
  int n = 0;
  if (rt_journal_orphans(j, a->journal_id, orphans, RT_JOURNAL_MAX_ADOPT, &n) == 0)
    for (int i = 0; i < n; i++) rt_capture_adopt_journaled(a, creds, &orphans[i]);
}

rt_account *rt_account_get(rt_runtime *rt, const char *base_url, const char *account_id, rt_creds *creds,
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
  if (rt_http_check_secure_url(base_url, "base URL", host, sizeof host, err, errlen)) return NULL;
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
      rt_window_init(&a->sample, rt, "sample", 1, rt_api_ms(rt, o->sample_interval), (unsigned)o->max_waiters) ||
      rt_gate_init(&a->full, rt, "full", (unsigned)o->full_slots, (unsigned)o->max_waiters)) {
    if (a) account_free(a);
    goto nomem;
  }
  rt_list_push(&rt->accounts, &a->link);
  attach_journal(a, creds);
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
  RT_LIST_EACH(it, &rt->principals) {
    rt_principal *p = RT_CONTAINER(it, rt_principal, link);
    rt_list_unlink(&p->link);
    rt_window_close(&p->api);
    free(p);
  }
}
