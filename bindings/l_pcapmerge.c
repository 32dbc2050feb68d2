/* pcaprun.pcapmerge: merging capture files by time into one nanosecond pcap (rt_pcap_merge, the
 * one merge implementation), run on libuv's thread pool so that the loop goes on meanwhile.
 *
 *   pcapmerge.merge({input...}, output) -> {path, bytes, packets} | nil, err
 *
 * Stack effects: [-pop, +push, x]; "y" marks functions that park the calling task. */
#include "err.h"
#include "fsutil.h"
#include "lbind.h"
#include "lerr.h"
#include "pcapcheck.h"
#include "pcapmerge.h"
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOX_MT "pcaprun.mergebox"

typedef struct merge_job {
  rt_wait w;               /* first: the task parks on it */
  uv_work_t work;
  char **inputs;
  size_t n;
  char *output;
  int rc;
  char err[512];
  uint64_t bytes, packets;
  int refs;                /* the task's box, and the pool while the work is queued */
} merge_job;

static void job_unref(merge_job *j) {
  if (--j->refs > 0) return;
  for (size_t i = 0; i < j->n; i++) free(j->inputs[i]);
  free(j->inputs);
  free(j->output);
  free(j);
}

/* On a pool thread: the merge, then a check of what it wrote (the packet count). */
static void do_merge(uv_work_t *w) {
  merge_job *j = w->data;
  if (rt_mkdir_parents(j->output) != 0) {
    snprintf(j->err, sizeof j->err, "cannot create the directory of %s", j->output);
    j->rc = RT_EIO;
    return;
  }
  j->rc = rt_pcap_merge((const char *const *)j->inputs, j->n, j->output, j->err, sizeof j->err);
  if (j->rc) return;
  rt_pcapcheck check;
  if (rt_pcapcheck_file(j->output, &check) != 0 || rt_pcapcheck_finish(&check) != 0) {
    snprintf(j->err, sizeof j->err, "the merged file %s does not check: %s", j->output, check.error);
    j->rc = RT_EPCAP;
    return;
  }
  j->bytes = check.offset;
  j->packets = check.packets;
}

/* Completes the wait unless a cancel or a timeout did first (the first completion wins). */
static void after_merge(uv_work_t *w, int status) {
  merge_job *j = w->data;
  if (status == UV_ECANCELED) j->rc = RT_ECANCELED;
  rt_wait_done(&j->w, j->rc);
  job_unref(j);
}

/* The task is canceled or timed out: a merge not started yet is dropped; one running finishes
 * on its thread (its output appears complete or not at all), and the job goes with the last
 * of the box and the pool to let go. */
static void merge_cancel(rt_wait *w) { uv_cancel((uv_req_t *)&((merge_job *)w)->work); }

static int box_close(lua_State *L) {
  merge_job **box = luaL_checkudata(L, 1, BOX_MT);
  if (*box) job_unref(*box);
  *box = NULL;
  return 0;
}

static int merge_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  merge_job *j = *(merge_job **)luaL_checkudata(L, -1, BOX_MT);
  int rc = j->w.done ? j->w.rc : j->rc;
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  if (rc) return l_failrc(L, rc, "pcapmerge.merge", rc == RT_ETIMEDOUT ? "timed out" : j->err);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, j->output);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, (lua_Integer)j->bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)j->packets);
  lua_setfield(L, -2, "packets");
  return 1;
}

/* pcapmerge.merge({input...}, output) -> {path=, bytes=, packets=} | nil, err
 * Merges the capture files (classic pcap or pcapng, one link type) by timestamp into a classic
 * pcap with nanosecond timestamps at output, atomically, in the order `mergecap -F nsecpcap`
 * gives. [-2, +1|2, y] */
static int l_merge(lua_State *L) {
  l_current_task(L, "pcapmerge.merge");
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *output = luaL_checkstring(L, 2);
  lua_Integer n = luaL_len(L, 1);
  if (n < 1 || n > 100000) return luaL_error(L, "pcapmerge.merge: give 1 to 100000 input files");
  for (lua_Integer i = 1; i <= n; i++)
    if (lua_geti(L, 1, i) != LUA_TSTRING) return luaL_error(L, "pcapmerge.merge: input %d is not a path", (int)i);
  lua_settop(L, 2);
  merge_job **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  lua_toclose(L, -1);
  merge_job *j = calloc(1, sizeof *j);
  if (!j) return luaL_error(L, "out of memory");
  j->refs = 1;
  *box = j;
  j->inputs = calloc((size_t)n, sizeof *j->inputs);
  j->output = strdup(output);
  if (!j->inputs || !j->output) return luaL_error(L, "out of memory");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    j->inputs[j->n] = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!j->inputs[j->n++]) return luaL_error(L, "out of memory");
  }
  j->w.cancel = merge_cancel;
  j->w.timeout_rc = RT_ETIMEDOUT;
  j->work.data = j;
  if (uv_queue_work(rt_from_lua(L)->loop, &j->work, do_merge, after_merge) != 0)
    return l_failrc(L, RT_ENOMEM, "pcapmerge.merge", "cannot start the merge");
  j->refs++;
  return rt_park(L, &j->w, -1, 0, merge_k);
}

int luaopen_pcaprun_pcapmerge(lua_State *L) {
  static const luaL_Reg fns[] = {{"merge", l_merge}, {NULL, NULL}};
  luaL_newmetatable(L, BOX_MT);
  lua_pushcfunction(L, box_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, box_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
