/* pcaprun journal PATH [--json]: what a journal holds, per account — the limits shared between
 * processes (simple-create rate, full-capture slot), intents grouped by campaign (the part of the
 * intent before its first '.'), captures and their states, downloads and their files — the
 * alerts a daemon accepted (pcaprun serve) and the values scripts keep. Text for people, --json for programs. Opens the journal without changing
 * it. */
#include "err.h"
#include "journal_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
  "Usage: pcaprun journal [PATH] [--json]\n"
  "       pcaprun journal [PATH] --clear-pauses\n"
  "Prints what a pcaprun journal holds (the default journal without PATH): per account, the\n"
  "shared limits (simple-create rate, a pause the API asked for, full-capture slot), intents and\n"
  "the captures they made (by campaign), downloads, the alerts pcaprun serve accepted and the\n"
  "playbook runs they started, and the values scripts keep (schedules).\n"
  "--json prints the same as one JSON object. --clear-pauses forgets every pause the API asked\n"
  "for (a 429's retry-after), which every process sharing the journal otherwise waits out.\n";

/* An owner column as {pid, running}. */
static json_t *owner_json(const rt_journal *j, const char *owner) {
  const char *c1 = strchr(owner, ':');
  long pid = c1 ? strtol(c1 + 1, NULL, 10) : 0;
  return json_pack("{s:I, s:b}", "pid", (json_int_t)pid, "running", rt_journal_alive(j, owner));
}

/* Every row of a query as an object keyed by column name (NULL columns left out). */
static json_t *rows(const rt_journal *j, const char *query, int64_t account) {
  json_t *out = json_array();
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(j->db, query, -1, &st, NULL) != SQLITE_OK) return out;
  if (account) sqlite3_bind_int64(st, 1, account);
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *o = json_object();
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const char *name = sqlite3_column_name(st, i), *text = jtext(st, i);
      json_t *v = NULL;
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
      case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
      case SQLITE_TEXT: v = strstr(name, "owner") ? owner_json(j, text) : json_string(text); break;
      default: break;
      }
      if (v) json_object_set_new(o, name, v);
    }
    json_array_append_new(out, o);
  }
  sqlite3_finalize(st);
  return out;
}

static json_t *gather(const rt_journal *j) {
  json_t *root = json_pack("{s:s, s:i}", "path", j->path, "format", RT_JOURNAL_VERSION);
  json_t *accts = rows(j, "SELECT id, base_url, account_id, simple_next, simple_owner, paused_until FROM accounts"
                         " ORDER BY id", 0);
  size_t i;
  json_t *a;
  json_array_foreach(accts, i, a) {
    int64_t id = json_integer_value(json_object_get(a, "id"));
    json_object_set_new(a, "slots", rows(j, "SELECT intent, capture_id, owner, since, orphaned FROM slots"
                                            " WHERE account = ?1 ORDER BY id", id));
    json_object_set_new(a, "intents", rows(j,
      "SELECT i.intent, i.type, i.first_sent, i.capture_id, c.status, c.colo, c.submitted, i.owner"
      " FROM intents i LEFT JOIN captures c ON c.account = i.account AND c.id = i.capture_id"
      " WHERE i.account = ?1 ORDER BY i.first_sent, i.intent", id));
    json_object_set_new(a, "captures", rows(j,
      "SELECT id, type, status, colo, submitted FROM captures c WHERE account = ?1 AND NOT EXISTS"
      " (SELECT 1 FROM intents i WHERE i.account = c.account AND i.capture_id = c.id) ORDER BY submitted", id));
    json_object_set_new(a, "downloads", rows(j, "SELECT path, capture_id, state, bytes, packets, updated"
                                                " FROM downloads WHERE account = ?1 ORDER BY path", id));
    json_object_del(a, "id");
  }
  json_object_set_new(root, "accounts", accts);
  json_t *alerts = rows(j, "SELECT id, source, state, runs, kind, correlation, target, note, captures, received,"
                           " started, finished, owner FROM alerts ORDER BY id", 0);
  json_array_foreach(alerts, i, a) { /* the ids of the captures each made, as a list */
    const char *text = json_string_value(json_object_get(a, "captures"));
    json_t *ids = text ? json_loads(text, 0, NULL) : NULL;
    json_object_set_new(a, "captures", json_is_array(ids) ? ids : json_array());
    if (!json_is_array(ids)) json_decref(ids);
  }
  json_object_set_new(root, "alerts", alerts);
  json_t *values = json_object(), *kv = rows(j, "SELECT key, value FROM kv ORDER BY key", 0), *row;
  json_array_foreach(kv, i, row) {
    const char *text = json_string_value(json_object_get(row, "value"));
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(values, json_string_value(json_object_get(row, "key")), v ? v : json_null());
  }
  json_decref(kv);
  json_object_set_new(root, "values", values);
  return root;
}

/* ---- text ---- */

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "-";
}

static const char *when(const json_t *o, const char *k, char *buf, size_t size) {
  json_t *v = json_object_get(o, k);
  if (!json_is_number(v)) return "-";
  rt_time_format(json_number_value(v), buf, size);
  buf[19] = 0; /* to the second */
  return buf;
}

static const char *who(const json_t *o, const char *k, char *buf, size_t size) {
  json_t *v = json_object_get(o, k);
  if (!v) return "nobody";
  snprintf(buf, size, "pid %lld (%s)", (long long)json_integer_value(json_object_get(v, "pid")),
           json_is_true(json_object_get(v, "running")) ? "running" : "gone");
  return buf;
}

static void print_slots(const json_t *a) {
  json_t *slots = json_object_get(a, "slots"), *s;
  size_t i;
  char b1[64];
  if (json_array_size(slots) == 0) printf("  full-capture slot: free\n");
  json_array_foreach(slots, i, s) {
    if (json_object_get(s, "capture_id"))
      printf("  full-capture slot: capture %s, followed by %s\n", str(s, "capture_id"), who(s, "owner", b1, sizeof b1));
    else
      printf("  full-capture slot: create of intent %s in flight, by %s%s\n", str(s, "intent"),
             who(s, "owner", b1, sizeof b1), json_object_get(s, "orphaned") ? "; unresolved: the next claim lists first" : "");
  }
}

/* One line per campaign: intents grouped by the part before their first '.'. */
static void print_campaigns(const json_t *intents) {
  json_t *groups = json_object(), *it;
  size_t i;
  json_array_foreach(intents, i, it) {
    char name[40];
    snprintf(name, sizeof name, "%s", str(it, "intent"));
    name[strcspn(name, ".")] = 0;
    json_t *g = json_object_get(groups, name);
    if (!g) json_object_set_new(groups, name, g = json_object());
    const char *st = json_object_get(it, "capture_id") ? str(it, "status") : "not created";
    json_object_set_new(g, st, json_integer(json_integer_value(json_object_get(g, st)) + 1));
  }
  const char *name;
  json_t *g;
  json_object_foreach(groups, name, g) {
    printf("  campaign %s:", name);
    const char *st;
    json_t *n;
    json_object_foreach(g, st, n) printf(" %lld %s", (long long)json_integer_value(n), st);
    printf("\n");
  }
  json_decref(groups);
}

static void print_text(const json_t *root) {
  printf("journal %s (format %lld)\n", str(root, "path"), (long long)json_integer_value(json_object_get(root, "format")));
  json_t *a, *x;
  size_t i, k;
  char b1[64], b2[64];
  json_array_foreach(json_object_get(root, "accounts"), i, a) {
    printf("\naccount %s at %s\n", str(a, "account_id"), str(a, "base_url"));
    double next = json_number_value(json_object_get(a, "simple_next"));
    printf("  simple creates: next allowed %s%s, in flight: %s\n", next > rt_wall() ? "at " : "now",
           next > rt_wall() ? when(a, "simple_next", b1, sizeof b1) : "", who(a, "simple_owner", b2, sizeof b2));
    if (json_number_value(json_object_get(a, "paused_until")) > rt_wall())
      printf("  paused by the API until %s (pcaprun journal --clear-pauses forgets it)\n",
             when(a, "paused_until", b1, sizeof b1));
    print_slots(a);
    json_t *intents = json_object_get(a, "intents");
    print_campaigns(intents);
    printf("  intents: %zu\n", json_array_size(intents));
    if (json_array_size(intents))
      printf("    %-32s %-6s %-32s %-18s %-8s %s\n", "INTENT", "TYPE", "CAPTURE", "STATUS", "COLO", "FIRST SENT");
    json_array_foreach(intents, k, x)
      printf("    %-32s %-6s %-32s %-18s %-8s %s\n", str(x, "intent"), str(x, "type"), str(x, "capture_id"),
             str(x, "status"), str(x, "colo"), when(x, "first_sent", b1, sizeof b1));
    json_t *caps = json_object_get(a, "captures");
    if (json_array_size(caps)) printf("  captures followed without an intent (made elsewhere): %zu\n", json_array_size(caps));
    json_array_foreach(caps, k, x)
      printf("    %-32s %-6s %-18s %-8s %s\n", str(x, "id"), str(x, "type"), str(x, "status"), str(x, "colo"),
             when(x, "submitted", b1, sizeof b1));
    json_t *dls = json_object_get(a, "downloads");
    printf("  downloads: %zu\n", json_array_size(dls));
    if (json_array_size(dls)) printf("    %-8s %10s %8s  %s\n", "STATE", "BYTES", "PACKETS", "PATH");
    json_array_foreach(dls, k, x) {
      json_t *p = json_object_get(x, "packets");
      snprintf(b1, sizeof b1, p ? "%lld" : "-", (long long)json_integer_value(p));
      printf("    %-8s %10lld %8s  %s\n", str(x, "state"), (long long)json_integer_value(json_object_get(x, "bytes")),
             b1, str(x, "path"));
    }
  }
  json_t *alerts = json_object_get(root, "alerts");
  size_t nalerts = json_array_size(alerts);
  printf("\nalerts (pcaprun serve): %zu\n", nalerts);
  if (nalerts) printf("  %-6s %-12s %-8s %4s %-28s %-20s %s\n", "ID", "SOURCE", "STATE", "RUNS", "KIND", "TARGET", "NOTE");
  json_array_foreach(alerts, i, x) /* the latest 20 */
    if (i + 20 >= nalerts)
      printf("  %-6lld %-12s %-8s %4lld %-28s %-20s %s\n", (long long)json_integer_value(json_object_get(x, "id")),
             str(x, "source"), str(x, "state"), (long long)json_integer_value(json_object_get(x, "runs")),
             str(x, "kind"), str(x, "target"), str(x, "note"));
  json_t *values = json_object_get(root, "values");
  printf("\nvalues: %zu\n", json_object_size(values));
  const char *key;
  json_object_foreach(values, key, x) {
    char *text = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    printf("  %s = %s\n", key, text ? text : "?");
    free(text);
  }
}

int rt_journal_main(int argc, char **argv) {
  const char *path = NULL;
  int as_json = 0, clear = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
    if (!strcmp(argv[i], "--json")) as_json = 1;
    else if (!strcmp(argv[i], "--clear-pauses")) clear = 1;
    else if (argv[i][0] == '-' || path) { fprintf(stderr, "pcaprun journal: unexpected argument '%s'\n%s", argv[i], usage); return 2; }
    else path = argv[i];
  }
  char *fallback = path ? NULL : rt_journal_default_path();
  if (!path && !(path = fallback)) { fputs(usage, stderr); return 2; }
  rt_journal *j;
  char err[512];
  int rc = rt_journal_open(path, !clear, &j, err, sizeof err);
  free(fallback);
  if (rc) {
    fprintf(stderr, "pcaprun journal: %s\n", err);
    return rc == RT_EINVAL ? 2 : 1;
  }
  if (clear) {
    rc = rt_journal_clear_pauses(j);
    if (rc) fprintf(stderr, "pcaprun journal: cannot clear the pauses: %s\n", rt_journal_error(j));
    else printf("pauses cleared in %s (%d account%s)\n", j->path, sqlite3_changes(j->db),
                sqlite3_changes(j->db) == 1 ? "" : "s");
    rt_journal_close(j);
    return rc ? 1 : 0;
  }
  json_t *root = gather(j);
  if (as_json) {
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) puts(text);
    free(text);
  } else {
    print_text(root);
  }
  json_decref(root);
  rt_journal_close(j);
  return 0;
}
