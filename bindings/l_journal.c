/* pcaprun.journal: the run's journal (--journal, runtime/journal.h) for scripts — what it knows
 * of an intent, so that a resumed script can skip what an earlier run finished, and small values
 * kept across runs (the state of recurring jobs). Without a journal, lookups find nothing and
 * set fails. Stack effects: [-pop, +push, x]. */
#include "err.h"
#include "journal.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include "pcaps.h"
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY 256

static rt_journal *journal(lua_State *L) { return rt_journal_use(rt_from_lua(L)); }

/* Pushes v (nil for NULL) and drops it. */
static int push_owned(lua_State *L, json_t *v) {
  if (v) l_pushjson(L, v);
  else lua_pushnil(L);
  json_decref(v);
  return 1;
}

static const char *check_key(lua_State *L, int idx) {
  size_t len;
  const char *key = luaL_checklstring(L, idx, &len);
  if (len == 0 || len > MAX_KEY) luaL_error(L, "journal key must be 1 to %d bytes", MAX_KEY);
  return key;
}

/* journal.path() -> the journal's path, or nil when the run has none. [-0, +1, -] */
static int l_path(lua_State *L) {
  rt_journal *j = journal(L);
  if (j) lua_pushstring(L, rt_journal_path(j));
  else lua_pushnil(L);
  return 1;
}

/* journal.intent(intent [, client]) -> {intent, type, first_sent, capture_id, status, colo,
 * submitted, downloads = {{path, capture_id, state, bytes, packets}...}} | nil: what it holds of an
 * intent of the client's account (default client). first_sent and submitted are epoch seconds
 * (wall clock); state is "partial", "done" or "invalid". [-1|2, +1, v] */
static int l_intent(lua_State *L) {
  const char *intent = luaL_checkstring(L, 1);
  rt_journal *j = journal(L);
  if (!j) { lua_pushnil(L); return 1; }
  rt_account *a = l_client_account(L, 2);
  return push_owned(L, a->journal == j ? rt_journal_lookup(j, a->journal_id, intent) : NULL);
}

/* journal.download(path) -> {path, capture_id, state, bytes, packets} | nil: the journal's record
 * of the download to path (any account); path is made absolute. [-1, +1, m] */
static int l_download(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  rt_journal *j = journal(L);
  return push_owned(L, j ? rt_journal_download_info(j, path) : NULL);
}

/* journal.get(key) -> the value stored under key, or nil. [-1, +1, m] */
static int l_get(lua_State *L) {
  const char *key = check_key(L, 1);
  rt_journal *j = journal(L);
  return push_owned(L, j ? rt_journal_get(j, key) : NULL);
}

/* journal.set(key, value) -> true | nil, err: stores a JSON-able value (nil removes the key), kept
 * once it returns (a crash does not lose it); BAD_STATE without a journal. Values outlive the run
 * and are shared by every script using the journal: keep them small and name them by what they
 * belong to, e.g. "schedule/nightly". [-2, +1|2, m] */
static int l_set(lua_State *L) {
  const char *key = check_key(L, 1);
  rt_journal *j = journal(L);
  if (!j) return l_failrc(L, RT_ESTATE, "journal.set", "this run has no journal (see --journal)");
  char why[256];
  json_t *v = lua_isnoneornil(L, 2) ? NULL : l_tojson(L, 2, why, sizeof why);
  if (!v && !lua_isnoneornil(L, 2)) luaL_error(L, "journal.set: %s", why);
  int rc = rt_journal_set(j, key, v);
  json_decref(v);
  if (rc) return l_failrc(L, rc, "journal.set", "cannot write the journal");
  lua_pushboolean(L, 1);
  return 1;
}

int luaopen_pcaprun_journal(lua_State *L) {
  static const luaL_Reg fns[] = {{"path", l_path},         {"intent", l_intent}, {"download", l_download},
                                 {"get", l_get},           {"set", l_set},       {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
