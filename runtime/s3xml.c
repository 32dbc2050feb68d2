/* S3 XML answers with expat (s3xml.h). One walker for both documents: it keeps the path of
 * element names from the root and the text of the innermost element, and hands each finished
 * element to the document's handler. */
#include "s3xml.h"
#include "err.h"
#include "s3url.h"
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 8
#define TEXT_MAX 2048

typedef struct walker {
  XML_Parser p;
  int depth;                 /* elements open */
  char names[DEPTH][32];     /* their local names, while depth <= DEPTH */
  char text[TEXT_MAX];
  size_t text_len;
  int text_cut;
  void (*on_end)(struct walker *w, void *ud);
  void *ud;
  int failed;
} walker;

/* Copies src, cut to fit. */
static void copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

static const char *local_name(const char *name) {
  const char *sep = strrchr(name, ' '); /* expat's namespace separator */
  return sep ? sep + 1 : name;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
  (void)attrs;
  walker *w = ud;
  if (w->depth < DEPTH) copy(w->names[w->depth], sizeof w->names[0], local_name(name));
  w->depth++;
  w->text_len = 0;
  w->text_cut = 0;
  w->text[0] = 0;
}

static void on_text(void *ud, const XML_Char *s, int len) {
  walker *w = ud;
  size_t n = (size_t)len;
  if (w->text_len + n >= TEXT_MAX) {
    n = TEXT_MAX - 1 - w->text_len;
    w->text_cut = 1;
  }
  memcpy(w->text + w->text_len, s, n);
  w->text_len += n;
  w->text[w->text_len] = 0;
}

static void on_end_el(void *ud, const XML_Char *name) {
  (void)name;
  walker *w = ud;
  if (w->depth <= DEPTH) w->on_end(w, w->ud);
  w->depth--;
  w->text_len = 0;
  w->text[0] = 0;
}

/* Is the element that just ended at path a/b/c (from the root)? */
static int at(const walker *w, int n, const char *const *path) {
  if (w->depth != n) return 0;
  for (int i = 0; i < n; i++)
    if (strcmp(w->names[i], path[i]) != 0) return 0;
  return 1;
}

static int walk(const char *xml, size_t len, void (*on_end)(walker *, void *), void *ud, char *why, size_t whylen) {
  walker w = {.on_end = on_end, .ud = ud};
  w.p = XML_ParserCreateNS(NULL, ' ');
  if (!w.p) return RT_ENOMEM;
  XML_SetUserData(w.p, &w);
  XML_SetElementHandler(w.p, on_start, on_end_el);
  XML_SetCharacterDataHandler(w.p, on_text);
  int ok = len <= (size_t)INT32_MAX && XML_Parse(w.p, xml ? xml : "", (int)len, 1) == XML_STATUS_OK;
  if (!ok && why)
    snprintf(why, whylen, "malformed XML from the object store (line %lu: %s)",
             (unsigned long)XML_GetCurrentLineNumber(w.p), XML_ErrorString(XML_GetErrorCode(w.p)));
  XML_ParserFree(w.p);
  if (!ok) return RT_EPROTO;
  if (w.failed) {
    if (why) snprintf(why, whylen, "out of memory reading the object store's answer");
    return RT_ENOMEM;
  }
  return 0;
}

/* ---- ListBucketResult ---- */

typedef struct list_state {
  rt_s3list *l;
  json_t *cur;     /* the <Contents> being read */
  int url_keys;    /* EncodingType url: keys are percent-encoded */
  int root_ok;
} list_state;

static void list_end(walker *w, void *ud) {
  list_state *st = ud;
  static const char *const root[] = {"ListBucketResult"};
  if (w->depth == 1) { st->root_ok = at(w, 1, root); return; }
  if (w->depth == 2 && strcmp(w->names[0], "ListBucketResult") == 0) {
    const char *n = w->names[1];
    if (!strcmp(n, "IsTruncated")) st->l->truncated = strcmp(w->text, "true") == 0;
    else if (!strcmp(n, "NextContinuationToken")) copy(st->l->next_token, sizeof st->l->next_token, w->text);
    else if (!strcmp(n, "EncodingType")) st->url_keys = strcmp(w->text, "url") == 0;
    else if (!strcmp(n, "Contents") && st->cur) {
      if (json_object_get(st->cur, "key") && json_array_append_new(st->l->objects, st->cur)) w->failed = 1;
      else if (!json_object_get(st->cur, "key")) json_decref(st->cur);
      st->cur = NULL;
    }
    return;
  }
  if (w->depth != 3 || strcmp(w->names[0], "ListBucketResult") || strcmp(w->names[1], "Contents")) return;
  if (!st->cur && !(st->cur = json_object())) { w->failed = 1; return; }
  const char *n = w->names[2];
  json_t *v = NULL;
  if (!strcmp(n, "Key")) {
    if (st->url_keys) rt_s3_unescape(w->text, 1);
    v = json_string(w->text);
    if (!v) return; /* not UTF-8: expat gives UTF-8, so only a cut text lands here */
    json_object_set_new(st->cur, "key", v);
  } else if (!strcmp(n, "Size")) {
    json_object_set_new(st->cur, "size", json_integer((json_int_t)strtoll(w->text, NULL, 10)));
  } else if (!strcmp(n, "ETag")) {
    json_object_set_new(st->cur, "etag", json_string(w->text));
  } else if (!strcmp(n, "LastModified")) {
    json_object_set_new(st->cur, "modified", json_string(w->text));
  }
}

int rt_s3xml_list(const char *xml, size_t len, rt_s3list *l, char *why, size_t whylen) {
  list_state st = {.l = l};
  l->truncated = 0;
  l->next_token[0] = 0;
  int rc = walk(xml, len, list_end, &st, why, whylen);
  json_decref(st.cur);
  if (rc == 0 && !st.root_ok) {
    snprintf(why, whylen, "the object store's answer to a list is not a ListBucketResult");
    return RT_EPROTO;
  }
  return rc;
}

/* ---- Error ---- */

static void error_end(walker *w, void *ud) {
  rt_s3error *e = ud;
  if (w->depth != 2 || strcmp(w->names[0], "Error") != 0) return;
  const char *n = w->names[1];
  if (!strcmp(n, "Code")) copy(e->code, sizeof e->code, w->text);
  else if (!strcmp(n, "Message")) copy(e->message, sizeof e->message, w->text);
  else if (!strcmp(n, "Region")) copy(e->region, sizeof e->region, w->text);
}

int rt_s3xml_error(const char *xml, size_t len, rt_s3error *e) {
  memset(e, 0, sizeof *e);
  if (!xml || len == 0 || walk(xml, len, error_end, e, NULL, 0) != 0 || !e->code[0]) {
    memset(e, 0, sizeof *e);
    return RT_EPROTO;
  }
  return 0;
}
