/* Buckets (runtime/API.md#8-buckets, U7-U10): the bucket directory stands for the customer's buckets.
 * s3://demo/pcaps?region=x is <bucket_dir>/demo/pcaps. Ownership add writes a challenge file
 * there and validate checks what the client read back (finished full captures are delivered
 * there too: emu_deliver.c). Handlers run under s->mu. */
#include "emu_internal.h"
#include "fsutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Writes `data` to dir/name atomically, creating dir. */
static int write_file(const char *dir, const char *name, const char *data, size_t len) {
  char path[PATH_MAX + 80];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return RT_EIO;
  return rt_write_atomic(path, data, len, 0644);
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
