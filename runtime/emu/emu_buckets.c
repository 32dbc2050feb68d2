/* Buckets (runtime/API.md#8-buckets, U7-U10): the bucket directory stands for the customer's buckets.
 * s3://demo/pcaps?region=x is <bucket_dir>/demo/pcaps. Ownership add writes a challenge file
 * there, validate checks what the client read back, and finished full captures are delivered
 * there as pcap_<id>.pcap. Handlers run under s->mu. */
#include "emu_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { B_PENDING, B_SUCCESS, B_FAILED };
static const char *const bucket_status_names[] = {"pending", "success", "failed"};

/* ---- paths ---- */

static int path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '=';
}

int emu_bucket_path(const char *bucket_dir, const char *uri, char *out, size_t size) {
  if (!uri || strlen(uri) < 6 || (strncmp(uri, "s3://", 5) && strncmp(uri, "gs://", 5) &&
                                   strncmp(uri, "r2://", 5)))
    return RT_EINVAL;
  size_t n = (size_t)snprintf(out, size, "%s", bucket_dir);
  const char *p = uri + 5, *end = p + strcspn(p, "?");
  int first = 1;
  while (p < end) {
    size_t len = strcspn(p, "/?");
    if (len > 0) {
      /* a plain name: no "." or "..", nothing that could leave the bucket directory */
      if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return RT_EINVAL;
      for (size_t i = 0; i < len; i++)
        if (!path_char(p[i])) return RT_EINVAL;
      if (n + len + 2 > size) return RT_EINVAL;
      n += (size_t)snprintf(out + n, size - n, "/%.*s", (int)len, p);
      first = 0;
    } else if (first) {
      return RT_EINVAL; /* no bucket name */
    }
    p += len;
    if (p < end && *p == '/') p++;
  }
  return first ? RT_EINVAL : 0;
}

int emu_mkdir_p(char *path) {
  for (char *p = path + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      int rc = mkdir(path, 0755);
      *p = '/';
      if (rc != 0 && errno != EEXIST) return RT_EIO;
    }
  return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : RT_EIO;
}

/* Writes `data` to dir/name atomically (tmp + rename). */
static int write_file(char *dir, const char *name, const char *data, size_t len) {
  char path[PATH_MAX + 80], tmp[PATH_MAX + 96];
  if (emu_mkdir_p(dir)) return RT_EIO;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return RT_EIO;
  int bad = fwrite(data, 1, len, f) != len;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    unlink(tmp);
    return RT_EIO;
  }
  return 0;
}

/* ---- records ---- */

void emu_buckets_clear(emu_server *s) {
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    rt_list_unlink(&b->link);
    free(b->destination_conf);
    free(b);
  }
}

/* A delayed validation (validation_delay) turns into success when its time comes. */
static void bucket_refresh(emu_server *s, emu_bucket *b) {
  if (b->validating && emu_api_now(s) >= b->t_valid) {
    b->validating = 0;
    b->status = B_SUCCESS;
    emu_format_time(emu_wall_now(), b->validated);
  }
}

static json_t *bucket_json(emu_server *s, emu_bucket *b) {
  bucket_refresh(s, b);
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", b->id, "destination_conf",
                   b->destination_conf, "filename", b->filename, "status",
                   bucket_status_names[b->status], "submitted", b->submitted, "validated",
                   b->validated);
}

int emu_bucket_validated(emu_server *s, const char *account, const char *destination_conf) {
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    bucket_refresh(s, b);
    if (b->status == B_SUCCESS && strcasecmp(b->account, account) == 0 &&
        strcmp(b->destination_conf, destination_conf) == 0)
      return 1;
  }
  return 0;
}

/* Validate may leave out the R2 keys (runtime/API.md#8-buckets, step 4): compare r2 URIs without them. */
static void strip_r2_keys(const char *uri, char *out, size_t size) {
  snprintf(out, size, "%s", uri);
  if (strncmp(out, "r2://", 5) != 0 || !strchr(out, '?')) return;
  char *q = strchr(out, '?'), rest[1024] = "", *save = NULL;
  snprintf(rest, sizeof rest, "%s", q + 1);
  *q = 0;
  size_t n = strlen(out);
  int sep = '?';
  for (char *kv = strtok_r(rest, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
    if (!strncmp(kv, "access-key-id=", 14) || !strncmp(kv, "secret-access-key=", 18)) continue;
    n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%c%s", sep, kv);
    sep = '&';
  }
}

static int same_bucket(const char *registered, const char *given) {
  char a[1024], b[1024];
  if (strcmp(registered, given) == 0) return 1;
  strip_r2_keys(registered, a, sizeof a);
  strip_r2_keys(given, b, sizeof b);
  return strncmp(registered, "r2://", 5) == 0 && strcmp(a, b) == 0;
}

/* Reads a required string member of an ownership body; fills r and returns NULL when absent. */
static const char *body_string(emu_server *s, const json_t *body, const char *key, emu_reply *r) {
  char msg[160];
  const json_t *v = json_is_object(body) ? json_object_get(body, key) : NULL;
  if (json_is_string(v) && json_string_length(v) > 0) return json_string_value(v);
  if (!json_is_object(body))
    snprintf(msg, sizeof msg, "request body must be a JSON object");
  else if (!v)
    snprintf(msg, sizeof msg, "%s is required", key);
  else
    snprintf(msg, sizeof msg, "%s must be a non-empty string", key);
  emu_reply_error(s, r, EMU_E_INVALID, msg);
  emu_violation(s, EMU_V_INVALID);
  return NULL;
}

/* ---- operations ---- */

void emu_op_own_list(emu_server *s, const emu_request *q, emu_reply *r) {
  json_t *arr = json_array();
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    if (arr && strcasecmp(b->account, q->account) == 0)
      json_array_append_new(arr, bucket_json(s, b));
  }
  json_t *info = NULL;
  if (s->cfg.result_info)
    info = json_pack("{s:I,s:i,s:I,s:I}", "count", (json_int_t)json_array_size(arr), "page", 1,
                     "per_page", (json_int_t)json_array_size(arr), "total_count",
                     (json_int_t)json_array_size(arr));
  if (s->cfg.null_empty_lists && arr && json_array_size(arr) == 0) {
    json_decref(arr);
    arr = json_null();
  }
  emu_reply_json(r, 200, emu_envelope_ok(arr, info));
}

static emu_bucket *find_same(emu_server *s, const char *account, const char *dest) {
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    if (strcasecmp(b->account, account) == 0 && strcmp(b->destination_conf, dest) == 0) return b;
  }
  return NULL;
}

static emu_bucket *new_bucket(emu_server *s, const char *account, const char *dest) {
  char hex[33];
  emu_bucket *b = calloc(1, sizeof *b);
  if (!b || !(b->destination_conf = strdup(dest))) {
    free(b);
    return NULL;
  }
  emu_rng_hex(&s->rng_ids, b->id);
  emu_rng_hex(&s->rng_ids, b->token);
  emu_rng_hex(&s->rng_ids, hex);
  snprintf(b->filename, sizeof b->filename, "ownership-challenge-%s.txt", hex);
  snprintf(b->account, sizeof b->account, "%.32s", account);
  emu_format_time(emu_wall_now(), b->submitted);
  b->status = B_PENDING;
  return b;
}

void emu_op_own_add(emu_server *s, const emu_request *q, emu_reply *r) {
  int empty;
  char dir[PATH_MAX];
  rt_specerr err = {.message = ""};
  json_t *body = emu_parse_body(s, q, r, &empty);
  if (!body && !empty) return;
  const char *dest = body_string(s, body, "destination_conf", r);
  if (!dest) goto out;
  if (rt_spec_check_destination(dest, "destination_conf", &err) ||
      emu_bucket_path(s->bucket_dir, dest, dir, sizeof dir)) {
    emu_reply_error(s, r, EMU_E_INVALID, err.message[0] ? err.message
                    : "destination_conf must name a bucket and a plain path (letters, digits, "
                      "'.', '_', '-', '='; no '..')");
    emu_violation(s, EMU_V_INVALID);
    goto out;
  }
  emu_bucket *b = find_same(s, q->account, dest);
  if (b && s->cfg.duplicate_buckets == EMU_DUP_REJECT) {
    emu_reply_error(s, r, EMU_E_DUPLICATE_BUCKET, NULL);
    goto out;
  }
  if (!b || s->cfg.duplicate_buckets == EMU_DUP_NEW) {
    if (!(b = new_bucket(s, q->account, dest))) {
      emu_reply_error(s, r, EMU_E_INTERNAL, NULL);
      goto out;
    }
    /* "Cloudflare" writes the challenge into the bucket: the token is the file's contents */
    if (write_file(dir, b->filename, b->token, strlen(b->token)) != 0) {
      free(b->destination_conf);
      free(b);
      emu_reply_error(s, r, EMU_E_INTERNAL, "Could not write the ownership challenge to the "
                      "bucket");
      goto out;
    }
    if (s->cfg.auto_validate_buckets) { /* every bucket counts as validated: registering says so */
      b->status = B_SUCCESS;
      emu_format_time(emu_wall_now(), b->validated);
    }
    rt_list_push(&s->buckets, &b->link);
    s->stats.buckets_created++;
  }
  emu_reply_ok(r, bucket_json(s, b));
out:
  json_decref(body);
}

/* Does the challenge the client sent prove ownership of b? (U8: contents, filename or either) */
static int challenge_matches(emu_server *s, const emu_bucket *b, const char *challenge) {
  char trimmed[256];
  size_t start = strspn(challenge, " \t\r\n"), len = strlen(challenge + start);
  while (len && strchr(" \t\r\n", challenge[start + len - 1])) len--;
  snprintf(trimmed, sizeof trimmed, "%.*s", (int)(len < 255 ? len : 255), challenge + start);
  int contents = strcmp(trimmed, b->token) == 0, filename = strcmp(trimmed, b->filename) == 0;
  switch (s->cfg.challenge_mode) {
  case EMU_CHALLENGE_CONTENTS: return contents;
  case EMU_CHALLENGE_FILENAME: return filename;
  default: return contents || filename;
  }
}

void emu_op_own_validate(emu_server *s, const emu_request *q, emu_reply *r) {
  int empty;
  json_t *body = emu_parse_body(s, q, r, &empty);
  if (!body && !empty) return;
  const char *dest = body_string(s, body, "destination_conf", r), *challenge = NULL;
  if (!dest || !(challenge = body_string(s, body, "ownership_challenge", r))) goto out;
  /* the newest record for this bucket, preferring one whose challenge matches */
  emu_bucket *hit = NULL, *any = NULL;
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    if (strcasecmp(b->account, q->account) != 0 || !same_bucket(b->destination_conf, dest))
      continue;
    any = b;
    if (challenge_matches(s, b, challenge)) hit = b;
  }
  if (!any) {
    emu_reply_error(s, r, EMU_E_NOT_FOUND, "No bucket registered with this destination_conf");
    goto out;
  }
  if (!hit) {
    if (s->cfg.validate_mismatch_error) {
      emu_reply_error(s, r, EMU_E_OWNERSHIP_FAILED, NULL);
      goto out;
    }
    any->status = B_FAILED;
    any->validating = 0;
    emu_reply_ok(r, bucket_json(s, any));
    goto out;
  }
  if (hit->status != B_SUCCESS) {
    hit->status = B_PENDING;
    hit->validating = 1;
    hit->t_valid = emu_api_now(s) + s->cfg.validation_delay;
  }
  emu_reply_ok(r, bucket_json(s, hit));
out:
  json_decref(body);
}

void emu_op_own_delete(emu_server *s, const emu_request *q, emu_reply *r) {
  RT_LIST_EACH(it, &s->buckets) {
    emu_bucket *b = RT_CONTAINER(it, emu_bucket, link);
    if (strcmp(b->id, q->id) == 0 && strcasecmp(b->account, q->account) == 0) {
      rt_list_unlink(&b->link);
      free(b->destination_conf);
      free(b);
      emu_reply_empty(r, 204);
      return;
    }
  }
  emu_reply_error(s, r, EMU_E_NOT_FOUND, "Bucket ownership not found");
}

/* ---- delivery of full captures ---- */

typedef struct delivery {
  char id[33], account[33];
  emu_pcap_params p;
  int files;
} delivery;

/* A capture taken on several servers lands as several files, pcap_<id>.pcap then
 * pcap_<id>_2.pcap ... (full_files): the packets shared out, their times interleaved. */
static int write_capture_files(const emu_pcap_params *all, int files) {
  int rc = 0;
  for (int i = 0; i < files && rc == 0; i++) {
    emu_pcap_params p = *all;
    p.packets = all->packets / files + (i < all->packets % files);
    p.seed = all->seed + (uint64_t)i;
    if (i > 0 && snprintf(p.path, sizeof p.path, "%.*s_%d.pcap", (int)strlen(all->path) - 5, all->path, i + 1) >=
                     (int)sizeof p.path)
      return RT_EIO;
    rc = emu_pcap_write(&p);
  }
  return rc;
}

/* Called by the ticker thread: finds finished full captures under the lock, writes their files
 * without it (they can be megabytes), then marks them delivered so they show success. */
void emu_deliver_finished(emu_server *s) {
  enum { BATCH = 8 };
  delivery d[BATCH];
  int n = 0;
  char dir[PATH_MAX];
  pthread_mutex_lock(&s->mu);
  double now = emu_api_now(s);
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    if (n == BATCH || !emu_capture_needs_delivery(s, c, now)) continue;
    delivery *x = &d[n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", c->id);
    snprintf(x->account, sizeof x->account, "%s", c->account);
    if (emu_bucket_path(s->bucket_dir, c->spec.destination_conf, dir, sizeof dir) != 0 ||
        snprintf(x->p.path, sizeof x->p.path, "%s/pcap_%s.pcap", dir, c->id) >=
            (int)sizeof x->p.path)
      x->p.path[0] = 0;
    x->p.link_type = s->cfg.link_type;
    x->p.snaplen = 65535; /* full captures keep whole packets */
    x->p.syn_flood = s->cfg.syn_flood;
    x->p.packets = emu_capture_packets(c, c->t_done);
    x->p.t_start = c->wall_submit;
    x->p.t_span = c->t_conv_pending - c->t_running;
    x->p.filter = c->spec.filter;
    x->p.seed = c->seed;
    x->files = s->cfg.full_files;
  }
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++) {
    int rc = RT_EIO;
    if (d[i].p.path[0]) {
      char *slash = strrchr(d[i].p.path, '/');
      *slash = 0;
      rc = emu_mkdir_p(d[i].p.path);
      *slash = '/';
      if (rc == 0) rc = write_capture_files(&d[i].p, d[i].files);
    }
    pthread_mutex_lock(&s->mu);
    emu_capture *c = emu_capture_find(s, d[i].account, d[i].id);
    if (c && rc == 0) {
      c->delivered = 1;
      s->stats.files_delivered++;
    } else if (c) {
      c->will_fail = 2; /* could not write to the bucket */
    }
    pthread_mutex_unlock(&s->mu);
  }
}
