/* Object-store operations (objstore.h): the table of operations and the state machine that runs
 * them. Requests are signed by libcurl (CURLOPT_AWS_SIGV4); what 7.88's signer leaves out is
 * covered here and in s3url.c: the URL is canonical as written, `x-amz-content-sha256` is sent
 * (the hash of the empty body: no request has one), a session token goes in
 * `x-amz-security-token`, and signed requests carry no X-Amz-Date and no header-removal entries
 * of ours (libcurl signs them wrongly). */
#include "objstore.h"
#include "backoff.h"
#include "err.h"
#include "journal.h"
#include "log.h"
#include "s3xml.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PH_NEW, PH_SEND, PH_BACKOFF, PH_DONE };
enum { BODY_NONE, BODY_MEMORY, BODY_FILE };

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define BACKOFF_BASE 1.0        /* API s */
#define BACKOFF_CAP 30.0        /* API s */
#define LIST_PAGE_MAX (16u << 20) /* bytes of one ListObjectsV2 page */
#define LIST_MAX_OBJECTS 1000000
#define ERROR_BODY_MAX (64u << 10)

struct rt_objop_def {
  const char *name;           /* in messages and errors */
  const char *method;
  int list_query;             /* ListObjectsV2 query (list-type=2, prefix, continuation-token) */
  int body;                   /* BODY_*: how a 2xx answer's body is read */
  int ok[3];                  /* accepted statuses (0 ends the list) */
  int gone_ok;                /* 404 is success (delete) */
  int (*answer)(rt_objop *op); /* a 2xx answer: 0 done, RT_EAGAIN next request, or an error */
};

static int answer_list(rt_objop *op);
static int answer_head(rt_objop *op);
static int answer_get(rt_objop *op);
static int answer_read(rt_objop *op);
static int answer_delete(rt_objop *op);

static const rt_objop_def defs[RT_OBJ_KINDS] = {
  [RT_OBJ_LIST] = {"bucket.list", "GET", 1, BODY_MEMORY, {200}, 0, answer_list},
  [RT_OBJ_HEAD] = {"bucket.head", "HEAD", 0, BODY_NONE, {200}, 0, answer_head},
  [RT_OBJ_GET] = {"bucket.fetch", "GET", 0, BODY_FILE, {200, 206}, 0, answer_get},
  [RT_OBJ_READ] = {"bucket.read", "GET", 0, BODY_MEMORY, {200}, 0, answer_read},
  [RT_OBJ_DELETE] = {"bucket.delete", "DELETE", 0, BODY_NONE, {200, 204}, 1, answer_delete},
};

static void send_request(rt_objop *op);
static void on_http_done(rt_http_req *r);

/* ---- lifecycle ---- */

static int op_cancel(rt_wait *w, int rc);

rt_objop *rt_objop_new(rt_runtime *rt, rt_s3bucket *b, int kind, const char *key) {
  rt_objop *op = calloc(1, sizeof *op);
  if (!op) return NULL;
  op->rt = rt;
  op->b = rt_s3bucket_ref(b);
  op->kind = kind;
  op->def = &defs[kind];
  op->size = -1;
  op->max_bytes = 1u << 20;
  op->w.cancel = op_cancel;
  op->w.timeout_rc = RT_ETIMEDOUT;
  op->w.what = "a bucket";
  rt_http_req_init(&op->req);
  rt_partfile_init(&op->file);
  if (!(op->key = strdup(key ? key : ""))) {
    rt_objop_free(op);
    return NULL;
  }
  return op;
}

const char *rt_objop_name(const rt_objop *op) { return op->def->name; }

static void timer_closed(uv_handle_t *h) { free(h); }

void rt_objop_free(rt_objop *op) {
  if (!op) return;
  rt_http_req_free(&op->req);
  if (op->timer) uv_close((uv_handle_t *)op->timer, timer_closed);
  rt_partfile_free(&op->file);
  rt_s3bucket_unref(op->b);
  json_decref(op->result);
  free(op->key);
  free(op->path);
  free(op);
}

/* The task is canceled or its deadline passed: nothing an object-store operation sends changes
 * what a later one finds (a delete is idempotent), so it stops at once. */
static int op_cancel(rt_wait *w, int rc) {
  rt_objop *op = (rt_objop *)w;
  rt_http_cancel(&op->req);
  if (op->timer) uv_timer_stop(op->timer);
  rt_partfile_close(&op->file, 0); /* the .part stays: the next attempt resumes it */
  op->phase = PH_DONE;
  op->rc = rc;
  return 0;
}

static void journal_fetch(rt_objop *op, const char *state);

static void finish(rt_objop *op, int rc) {
  op->rc = rc;
  op->phase = PH_DONE;
  if (op->kind == RT_OBJ_GET && op->file.fd >= 0) {
    rt_partfile_close(&op->file, rc == RT_EPCAP);
    journal_fetch(op, rc == RT_EPCAP ? "invalid" : "partial");
  }
  if (op->starting) return;
  if (op->on_done) op->on_done(op);
  else rt_wait_done(&op->w, rc);
}

static void fail(rt_objop *op, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(rt_objop *op, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(op->message, sizeof op->message, fmt, ap);
  va_end(ap);
  finish(op, rc);
}

/* The object's name as the script knows it: the key without the bucket URI's directory. */
static const char *name_of(const rt_objop *op, const char *key) {
  size_t n = strlen(op->b->prefix);
  return strncmp(key, op->b->prefix, n) == 0 ? key + n : key;
}

/* ---- the journal: one record per local file of a get ---- */

/* The journal's key for the get's file: its absolute path. */
static int journal_key(const rt_objop *op, char *out, size_t size) {
  char cwd[4096];
  if (op->path[0] == '/') return snprintf(out, size, "bucket.fetch:%s", op->path) < (int)size ? 0 : -1;
  if (!getcwd(cwd, sizeof cwd)) return -1;
  return snprintf(out, size, "bucket.fetch:%s/%s", cwd, op->path) < (int)size ? 0 : -1;
}

/* The object as the journal names it: provider, bucket and key, no query (no secrets). */
static void object_uri(const rt_objop *op, char *out, size_t size) {
  static const char *const schemes[] = {"", "s3", "gs", "r2"};
  snprintf(out, size, "%s://%s/%s", schemes[op->b->provider], op->b->name, op->key);
}

/* What the journal holds for the get's file, or NULL. */
static json_t *journal_record(rt_objop *op) {
  rt_journal *j = rt_journal_use(op->rt);
  char key[4200];
  return j && journal_key(op, key, sizeof key) == 0 ? rt_journal_get(j, key) : NULL;
}

/* Records the state of the get's file ("partial", "done", "invalid"). The only place this file
 * writes to the journal: a write that fails costs a resume, never the file. */
static void journal_fetch(rt_objop *op, const char *state) {
  rt_journal *j = rt_journal_use(op->rt);
  char key[4200], object[1400];
  if (!j || journal_key(op, key, sizeof key)) return;
  object_uri(op, object, sizeof object);
  json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "object", object, "etag", op->etag, "state", state,
                        "bytes", (json_int_t)op->file.offset, "packets", (json_int_t)op->file.check.packets,
                        "linktype", (int)op->file.check.linktype);
  if (v && rt_journal_set(j, key, v) != 0)
    rt_log(RT_LOG_WARN, "bucket.journal", "cannot record the fetch in the journal", "path", op->path, NULL);
  json_decref(v);
}

/* Does the record describe this object (and the ETag expected, when one is)? */
static int same_object(rt_objop *op, const json_t *rec) {
  char object[1400];
  object_uri(op, object, sizeof object);
  const char *o = json_string_value(json_object_get(rec, "object"));
  const char *e = json_string_value(json_object_get(rec, "etag"));
  return o && strcmp(o, object) == 0 && (!op->etag[0] || !e || !e[0] || strcmp(e, op->etag) == 0);
}

/* ---- requests ---- */

static void on_header(rt_http_req *r, const char *name, const char *value) {
  rt_objop *op = r->user;
  if (!strcasecmp(name, "x-amz-bucket-region")) snprintf(op->hdr_region, sizeof op->hdr_region, "%s", value);
  else if (!strcasecmp(name, "etag")) snprintf(op->hdr_etag, sizeof op->hdr_etag, "%s", value);
  else if (!strcasecmp(name, "last-modified")) snprintf(op->hdr_modified, sizeof op->hdr_modified, "%s", value);
  else if (!strcasecmp(name, "content-length")) op->hdr_length = strtoll(value, NULL, 10);
}

static int get_sink(rt_http_req *r, const void *data, size_t len) {
  rt_objop *op = r->user;
  if (r->sunk == 0) {
    if (r->range_from > 0) {
      long code = 0;
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
      if (code == 200 && rt_partfile_restart(&op->file)) return RT_EIO; /* Range ignored: whole again */
    }
    if (op->hdr_etag[0] && strcmp(op->etag, op->hdr_etag) != 0) {
      snprintf(op->etag, sizeof op->etag, "%s", op->hdr_etag);
      journal_fetch(op, "partial"); /* a killed run resumes this object only */
    }
  }
  int rc = rt_partfile_write(&op->file, data, len);
  if (rc) snprintf(op->message, sizeof op->message, "%s: %s", op->path, op->file.message);
  return rc;
}

static int add_header(rt_http_req *r, const char *name, const char *value) {
  char line[4200];
  if (snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line) return RT_EINVAL;
  return rt_http_req_header(r, line);
}

static int build_request(rt_objop *op) {
  rt_http_req *r = &op->req;
  const rt_s3bucket *b = op->b;
  rt_http_req_free(r);
  rt_http_req_init(r);
  r->user = op;
  r->done = on_http_done;
  r->on_header_line = on_header;
  snprintf(r->method, sizeof r->method, "%s", op->def->method);
  r->aws_sigv4 = b->sigv4;
  r->username = b->keys.id;
  r->password = b->keys.secret;
  op->hdr_region[0] = op->hdr_etag[0] = op->hdr_modified[0] = 0;
  op->hdr_length = -1;
  rt_s3param q[3];
  int nq = 0;
  if (op->def->list_query) {
    q[nq++] = (rt_s3param){"list-type", "2"};
    q[nq++] = (rt_s3param){"prefix", op->key};
    if (op->token[0]) q[nq++] = (rt_s3param){"continuation-token", op->token};
  }
  char url[8192];
  if (rt_s3bucket_url(b, op->def->list_query ? NULL : op->key, q, nq, url, sizeof url)) {
    snprintf(op->message, sizeof op->message, "the object key is too long for a URL");
    return RT_EINVAL;
  }
  if (rt_http_req_url(r, url) || add_header(r, "x-amz-content-sha256", EMPTY_SHA256) ||
      (b->keys.token && add_header(r, "x-amz-security-token", b->keys.token)))
    return RT_ENOMEM;
  r->max_body = op->def->body == BODY_FILE ? ERROR_BODY_MAX
              : op->kind == RT_OBJ_READ ? op->max_bytes : op->kind == RT_OBJ_LIST ? LIST_PAGE_MAX : ERROR_BODY_MAX;
  if (op->def->body == BODY_FILE) {
    r->stall_timeout = op->rt->opt.http_timeout;
    r->identity = 1; /* the bytes as stored: a Range resume counts the file's offsets */
    r->sink = get_sink;
    r->range_from = op->file.offset;
    if (op->file.offset > 0 && op->etag[0] && add_header(r, "If-Match", op->etag)) return RT_ENOMEM;
  } else {
    r->timeout = op->rt->opt.http_timeout;
  }
  return 0;
}

static void send_request(rt_objop *op) {
  int rc = build_request(op);
  if (rc == 0) rc = rt_http_start(op->rt->http, &op->req);
  if (rc) {
    fail(op, rc, "%s", op->message[0] ? op->message : rt_strerror(rc));
    return;
  }
  op->phase = PH_SEND;
}

/* ---- retries ---- */

static void on_backoff(uv_timer_t *t) { send_request(t->data); }

static void retry_after(rt_objop *op, double api_seconds) {
  if (!op->timer) {
    if (!(op->timer = malloc(sizeof *op->timer))) {
      fail(op, RT_ENOMEM, "out of memory");
      return;
    }
    uv_timer_init(op->rt->loop, op->timer);
    op->timer->data = op;
  }
  op->phase = PH_BACKOFF;
  uv_timer_start(op->timer, on_backoff, rt_api_ms(op->rt, api_seconds), 0);
}

/* A failure that trying again may cure: op->message says what it was. */
static void transient(rt_objop *op, int rc) {
  if (op->kind == RT_OBJ_GET && op->file.offset > op->best) { /* got further: a fresh budget */
    op->best = op->file.offset;
    op->attempts = 0;
  }
  if (++op->attempts >= op->rt->opt.retries) {
    size_t n = strlen(op->message);
    snprintf(op->message + n, sizeof op->message - n, " (gave up after %d attempts)", op->attempts);
    finish(op, rc);
    return;
  }
  rt_log(RT_LOG_DEBUG, "bucket.retry", "retrying after a transient failure", "op", op->def->name,
         "error", op->message, NULL);
  double wait = rt_backoff_full_jitter(op->rt, op->attempts, BACKOFF_BASE, BACKOFF_CAP);
  retry_after(op, op->req.retry_after > wait ? op->req.retry_after : wait);
}

/* ---- answers ---- */

static int answer_list(rt_objop *op) {
  rt_s3list l = {.objects = op->result};
  char why[256];
  int rc = rt_s3xml_list(op->req.resp, op->req.resp_len, &l, why, sizeof why);
  if (rc) {
    snprintf(op->message, sizeof op->message, "%s", why);
    return rc;
  }
  if (json_array_size(op->result) > LIST_MAX_OBJECTS) {
    snprintf(op->message, sizeof op->message, "more than %d objects under the prefix", LIST_MAX_OBJECTS);
    return RT_ETOOBIG;
  }
  if (l.truncated) {
    if (!l.next_token[0] || strcmp(l.next_token, op->token) == 0) {
      snprintf(op->message, sizeof op->message, "a truncated list without a new continuation token");
      return RT_EPROTO;
    }
    snprintf(op->token, sizeof op->token, "%s", l.next_token);
    return RT_EAGAIN;
  }
  size_t i;
  json_t *o;
  json_array_foreach(op->result, i, o) {
    json_object_set_new(o, "name", json_string(name_of(op, json_string_value(json_object_get(o, "key")))));
  }
  return 0;
}

static json_t *object_info(rt_objop *op) {
  json_t *v = json_pack("{s:s, s:s, s:I, s:s, s:s}", "key", op->key, "name", name_of(op, op->key), "size",
                        (json_int_t)op->hdr_length, "etag", op->hdr_etag, "modified", op->hdr_modified);
  return v;
}

static int answer_head(rt_objop *op) {
  return (op->result = object_info(op)) ? 0 : RT_ENOMEM;
}

static int answer_get(rt_objop *op) {
  if (op->size >= 0 && (uint64_t)op->size != op->file.offset) {
    snprintf(op->message, sizeof op->message, "%s has %" PRIu64 " bytes where the list said %" PRId64
             " (it changed?)", op->key, op->file.offset, op->size);
    return RT_EPROTO;
  }
  int rc = rt_partfile_commit(&op->file);
  if (rc) {
    snprintf(op->message, sizeof op->message, "%s: %s", op->path, op->file.message);
    return rc;
  }
  journal_fetch(op, "done");
  op->result = json_pack("{s:s, s:I, s:I, s:i, s:s, s:s, s:b}", "path", op->path, "bytes",
                         (json_int_t)op->file.offset, "packets", (json_int_t)op->file.check.packets,
                         "linktype", (int)op->file.check.linktype, "key", op->key, "etag", op->etag,
                         "reused", 0);
  return op->result ? 0 : RT_ENOMEM;
}

static int answer_read(rt_objop *op) {
  op->result = json_stringn_nocheck(op->req.resp ? op->req.resp : "", op->req.resp_len);
  return op->result ? 0 : RT_ENOMEM;
}

static int answer_delete(rt_objop *op) {
  op->result = json_true();
  return 0;
}

static int accepted(const rt_objop *op, long status) {
  for (int i = 0; i < 3 && op->def->ok[i]; i++)
    if (op->def->ok[i] == status) return 1;
  return 0;
}

/* A get whose Range starts at the end of the object (416): the .part may be the whole object. */
static void whole_part(rt_objop *op) {
  int rc = answer_get(op);
  if (rc == RT_EAGAIN || rc == RT_EPCAP || rc == RT_EPROTO) { /* not the whole object: again */
    if (rt_partfile_restart(&op->file) == 0) {
      snprintf(op->message, sizeof op->message, "%s.part is not the whole object; fetching it again", op->path);
      transient(op, RT_EPCAP);
      return;
    }
    rc = RT_EIO;
    snprintf(op->message, sizeof op->message, "%s", op->file.message);
  }
  finish(op, rc);
}

/* What an error answer means for the script: the code's sentence, never the store's own text for
 * authentication errors (it can quote the request). */
static int explain(rt_objop *op, const rt_s3error *e, long st) {
  const char *code = e->code[0] ? e->code : "";
  const char *shown = op->b->shown;
  snprintf(op->s3_code, sizeof op->s3_code, "%s", code);
  if (!strcmp(code, "SignatureDoesNotMatch")) {
    snprintf(op->message, sizeof op->message, "%s: the secret access key does not match the access key id "
             "(SignatureDoesNotMatch): check the secret (AWS_SECRET_ACCESS_KEY, the profile, or the R2 key)", shown);
    return RT_EAPI;
  }
  if (!strcmp(code, "InvalidAccessKeyId")) {
    snprintf(op->message, sizeof op->message, "%s: the store does not know the access key id "
             "(InvalidAccessKeyId): check AWS_ACCESS_KEY_ID, the profile, or the endpoint", shown);
    return RT_EAPI;
  }
  if (!strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") || !strcmp(code, "TokenRefreshRequired")) {
    snprintf(op->message, sizeof op->message, "%s: the session token was refused (%s): get fresh "
             "credentials (AWS_SESSION_TOKEN)", shown, code);
    return RT_EAPI;
  }
  if (!strcmp(code, "AccessDenied") || (st == 403 && !code[0])) {
    snprintf(op->message, sizeof op->message, "%s: access denied%s%s: the keys may not %s here", shown,
             code[0] ? " (" : "", code[0] ? "AccessDenied)" : "",
             op->kind == RT_OBJ_LIST ? "list objects" : op->kind == RT_OBJ_DELETE ? "delete objects" : "read objects");
    if (!code[0]) snprintf(op->s3_code, sizeof op->s3_code, "AccessDenied");
    return RT_EAPI;
  }
  if (!strcmp(code, "NoSuchBucket")) {
    snprintf(op->message, sizeof op->message, "%s: no such bucket (NoSuchBucket)", shown);
    return RT_ENOTFOUND;
  }
  if (!strcmp(code, "NoSuchKey") || st == 404) {
    snprintf(op->message, sizeof op->message, "%s: no object '%s'%s", shown, name_of(op, op->key),
             code[0] ? " (NoSuchKey)" : "");
    if (!code[0]) snprintf(op->s3_code, sizeof op->s3_code, "NoSuchKey");
    return RT_ENOTFOUND;
  }
  snprintf(op->message, sizeof op->message, "%s: HTTP %ld from the object store%s%s%s%s%s", shown, st,
           code[0] ? " (" : "", code, e->message[0] && code[0] ? ": " : "", code[0] ? e->message : "",
           code[0] ? ")" : "");
  return RT_EAPI;
}

static void on_http_done(rt_http_req *r) {
  rt_objop *op = r->user;
  op->http_status = r->status;
  if (r->abort_rc) { /* we stopped it: a bad pcap, a full disk, a body over its cap */
    if (r->abort_rc == RT_ETOOBIG)
      snprintf(op->message, sizeof op->message, "%s: the answer is larger than %zu bytes", op->b->shown, r->max_body);
    finish(op, r->abort_rc);
    return;
  }
  if (r->curl_code != CURLE_OK) {
    snprintf(op->message, sizeof op->message, "%s: %s", op->b->shown,
             r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code));
    transient(op, RT_ETRANSPORT);
    return;
  }
  long st = r->status;
  if (accepted(op, st)) {
    int rc = op->def->answer(op);
    if (rc == RT_EAGAIN && op->kind == RT_OBJ_LIST) {
      op->attempts = 0;
      send_request(op);
    } else if (rc == RT_EAGAIN) { /* the whole object arrived and ends inside a record */
      size_t n = strlen(op->message);
      snprintf(op->message + n, sizeof op->message - n, " (the object itself is cut short)");
      finish(op, RT_EPCAP);
    } else {
      finish(op, rc);
    }
    return;
  }
  if (op->kind == RT_OBJ_GET && st == 416 && r->range_from > 0) {
    whole_part(op);
    return;
  }
  if (op->kind == RT_OBJ_GET && st == 412) { /* the object changed since the .part began */
    op->etag[0] = 0;
    if (rt_partfile_restart(&op->file)) { fail(op, RT_EIO, "%s", op->file.message); return; }
    snprintf(op->message, sizeof op->message, "%s changed since the partial fetch; fetching it again", op->key);
    transient(op, RT_EAPI);
    return;
  }
  if (op->def->gone_ok && st == 404) {
    finish(op, op->def->answer(op));
    return;
  }
  rt_s3error e;
  rt_s3xml_error(r->resp, r->resp_len, &e);
  /* another region: the header, or the error's Region */
  const char *region = op->hdr_region[0] ? op->hdr_region : e.region;
  if ((st == 301 || st == 307 || st == 400) && region[0] && strcmp(region, op->b->region) != 0 && !op->moved) {
    rt_log(RT_LOG_INFO, "bucket.region", "the bucket is in another region: following it", "bucket",
           op->b->shown, "region", region, NULL);
    op->moved = 1;
    if (rt_s3bucket_set_region(op->b, region) == 0) {
      send_request(op);
      return;
    }
  }
  int rc = explain(op, &e, st);
  if (st == 408 || st == 429 || st >= 500 || !strcmp(e.code, "SlowDown") || !strcmp(e.code, "RequestTimeout")) {
    transient(op, rc);
    return;
  }
  if (st == 301 || st == 307 || (st == 400 && e.code[0] && strstr(e.code, "Region")))
    snprintf(op->message, sizeof op->message, "%s: the bucket is in another region%s%s; give the region in the URI "
             "(?region=...) or the region option", op->b->shown, region[0] ? ": " : "", region);
  finish(op, rc);
}

int rt_objop_start(rt_objop *op) {
  if (op->rt->closing) return RT_ESHUTDOWN;
  op->starting = 1;
  op->result = op->kind == RT_OBJ_LIST ? json_array() : NULL;
  if (op->kind == RT_OBJ_LIST && !op->result) return RT_ENOMEM;
  if (op->kind == RT_OBJ_GET) {
    json_t *rec = journal_record(op);
    int mine = !rec || same_object(op, rec);
    const char *state = json_string_value(json_object_get(rec, "state"));
    struct stat st;
    if (rec && mine && state && !strcmp(state, "done") && stat(op->path, &st) == 0 &&
        (json_int_t)st.st_size == json_integer_value(json_object_get(rec, "bytes"))) {
      /* fetched before (by this run or one that was killed since): the file is there */
      op->result = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s?, s:b}", "path", op->path, "bytes",
                             (json_int_t)st.st_size, "packets", json_integer_value(json_object_get(rec, "packets")),
                             "linktype", json_integer_value(json_object_get(rec, "linktype")), "key", op->key,
                             "etag", json_string_value(json_object_get(rec, "etag")), "reused", 1);
      json_decref(rec);
      op->starting = 0;
      op->phase = PH_DONE;
      return op->result ? 0 : RT_ENOMEM;
    }
    if (mine && rec && !op->etag[0]) snprintf(op->etag, sizeof op->etag, "%s", json_string_value(json_object_get(rec, "etag")));
    json_decref(rec);
    int rc = rt_partfile_open(&op->file, op->path, 1, mine);
    if (rc) {
      snprintf(op->message, sizeof op->message, "%s", op->file.message);
      op->starting = 0;
      return rc;
    }
    op->best = op->file.offset;
    journal_fetch(op, "partial");
  }
  send_request(op);
  op->starting = 0;
  return op->phase == PH_DONE ? op->rc : RT_EAGAIN;
}
