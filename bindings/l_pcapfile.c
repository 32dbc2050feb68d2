/* pcaprun.pcapfile: capture files for scripts (runtime/pcapfile/: pcapfile.h, pktdecode.h, pcapstats.h,
 * pcapops.h).
 *
 * Reading packet by packet (open, read, packets, decode) runs in the calling task: each call
 * reads and decodes one packet, a few microseconds. Whole-file work (stats, top, summary, merge,
 * filter, slice, split) runs on libuv's thread pool while the task is parked, so other tasks
 * keep running during a pass over a large file; the task gets the result when the pass ends.
 * Canceling the task stops the pass within a few thousand packets and removes any partial
 * output; the task resumes (CANCELED) once the worker has let go of the job.
 *
 * Misuse (wrong argument types, unknown options, a bad time) raises; operational failures
 * (a missing or corrupt file, a filter that does not compile, an unwritable output) return
 * nil, err. Stack effects: [-pop, +push, x]; "y" marks functions that park the calling task. */
#include "err.h"
#include "lbind.h"
#include "lerr.h"
#include "ljson.h"
#include "pcapfile.h"
#include "pcapops.h"
#include "pcapstats.h"
#include "pktdecode.h"
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MT "pcaprun.pcapfile.file"
#define JOB_MT "pcaprun.pcapfile.job"

/* ---- packets as Lua tables ---- */

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* An IP header as {version, src, dst, ttl, proto, len[, fragment][, tunnel][, ext_headers]}. */
static void push_ip(lua_State *L, const rt_iphdr *ip) {
  char a[64];
  lua_createtable(L, 0, 8);
  set_int(L, "version", ip->version);
  rt_ip_format(ip->version, ip->src, a, sizeof a);
  set_str(L, "src", a);
  rt_ip_format(ip->version, ip->dst, a, sizeof a);
  set_str(L, "dst", a);
  set_int(L, "ttl", ip->ttl);
  set_int(L, "proto", ip->proto);
  set_int(L, "len", ip->len);
  if (ip->ext_headers) set_int(L, "ext_headers", ip->ext_headers);
  if (ip->tunnel) set_str(L, "tunnel", rt_tunnel_name(ip->tunnel));
  if (ip->fragment) {
    lua_createtable(L, 0, 3);
    set_int(L, "offset", ip->frag_offset);
    lua_pushboolean(L, ip->more_fragments);
    lua_setfield(L, -2, "more");
    set_int(L, "id", ip->frag_id);
    lua_setfield(L, -2, "fragment");
  }
}

static void set_mac(lua_State *L, const char *k, const uint8_t *m) {
  char text[18];
  snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  set_str(L, k, text);
}

/* A decoded packet as a table (fields in stdlib/REFERENCE.md); data is the captured bytes or
 * NULL to leave them out. [-0, +1, m] */
static void push_packet(lua_State *L, const rt_pkt *p, int64_t ts, const unsigned char *data) {
  lua_createtable(L, 0, 16);
  if (ts != INT64_MIN) {
    lua_pushnumber(L, (double)ts / 1e9);
    lua_setfield(L, -2, "time");
    set_int(L, "time_ns", ts);
  }
  set_int(L, "caplen", p->caplen);
  set_int(L, "len", p->len);
  if (p->truncated) set_str(L, "truncated", rt_layer_name(p->truncated));
  if (p->malformed) set_str(L, "malformed", rt_layer_name(p->malformed));
  if (p->have_mac) {
    set_mac(L, "src_mac", p->src_mac);
    set_mac(L, "dst_mac", p->dst_mac);
  }
  if (p->ethertype) set_int(L, "ethertype", p->ethertype);
  if (p->nvlan) {
    int kept = p->nvlan < RT_PKT_MAX_VLAN ? p->nvlan : RT_PKT_MAX_VLAN;
    lua_createtable(L, kept, 0);
    for (int i = 0; i < kept; i++) {
      lua_pushinteger(L, p->vlan[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "vlan");
  }
  if (p->nip) {
    const rt_iphdr *in = &p->ip[p->nip - 1];
    push_ip(L, in);
    lua_setfield(L, -2, "ip");
    if (p->nip > 1) {
      push_ip(L, &p->ip[0]);
      lua_setfield(L, -2, "outer");
      set_str(L, "tunnel", rt_tunnel_name(p->ip[1].tunnel));
    }
    const char *name = rt_ipproto_name(in->proto);
    if (name) set_str(L, "proto", name);
    else set_int(L, "proto", in->proto);
  }
  if (p->have_ports) {
    set_int(L, "sport", p->sport);
    set_int(L, "dport", p->dport);
  }
  if (p->have_tcp_flags) {
    char f[16];
    rt_tcp_flags_format(p->tcp_flags, f, sizeof f);
    set_str(L, "flags", f);
    set_int(L, "tcp_flags", p->tcp_flags);
    set_int(L, "seq", p->tcp_seq);
  }
  if (p->have_icmp) {
    set_int(L, "icmp_type", p->icmp_type);
    set_int(L, "icmp_code", p->icmp_code);
  }
  if (data) {
    lua_pushlstring(L, (const char *)data, p->caplen);
    lua_setfield(L, -2, "data");
  }
}

/* ---- files read packet by packet ---- */

typedef struct l_file {
  rt_pcapfile f;
  int open;
  int with_data;
} l_file;

static l_file *check_file(lua_State *L) {
  l_file *lf = luaL_checkudata(L, 1, FILE_MT);
  if (!lf->open) luaL_error(L, "pcapfile: the file is closed");
  return lf;
}

/* Raises on an unknown key of the options table at idx (names: NULL-terminated list). */
static void check_keys(lua_State *L, int idx, const char *fname, const char *const *names) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    int known = 0;
    for (const char *const *n = names; *n; n++) known |= !strcmp(*n, k);
    if (!known) luaL_error(L, "%s: unknown option '%s'", fname, k);
    lua_pop(L, 1);
  }
}

/* opts[k] as a string or NULL (the value stays referenced by opts). */
static const char *opt_str(lua_State *L, int idx, const char *k) {
  if (lua_isnoneornil(L, idx) || lua_getfield(L, idx, k) == LUA_TNIL) {
    if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
    return NULL;
  }
  const char *s = lua_tostring(L, -1);
  if (!s || lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
  lua_pop(L, 1);
  return s;
}

/* opts[k] as a number in [lo, hi], or dflt when absent. */
static double opt_num(lua_State *L, int idx, const char *k, double lo, double hi, double dflt) {
  if (lua_isnoneornil(L, idx) || lua_getfield(L, idx, k) == LUA_TNIL) {
    if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
    return dflt;
  }
  int isnum;
  double v = lua_tonumberx(L, -1, &isnum);
  if (!isnum || !(v >= lo && v <= hi)) luaL_error(L, "option '%s' must be a number from %f to %f", k, lo, hi);
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int idx, const char *k) {
  if (lua_isnoneornil(L, idx)) return 0;
  lua_getfield(L, idx, k);
  int b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* pcapfile.open(path[, {filter=, data=}]) -> file | nil, err: a capture file to read packet by
 * packet (every packet that matches the BPF filter). With data=true packets carry their
 * captured bytes. [-(1|2), +1|2, m] */
static int l_open(lua_State *L) {
  luaL_checkstring(L, 1);
  static const char *const keys[] = {"filter", "data", NULL};
  check_keys(L, 2, "pcapfile.open", keys);
  lua_settop(L, 2);
  const char *filter = opt_str(L, 2, "filter");
  l_file *lf = lua_newuserdatauv(L, sizeof *lf, 1);
  memset(lf, 0, sizeof *lf);
  lf->with_data = opt_bool(L, 2, "data");
  luaL_setmetatable(L, FILE_MT);
  lua_pushvalue(L, 1); /* the path string stays alive as long as the file */
  lua_setiuservalue(L, -2, 1);
  char err[512];
  int rc = rt_pcapfile_open(&lf->f, lua_tostring(L, 1), filter, err, sizeof err);
  if (rc) return l_failrc(L, rc, "pcapfile.open", err);
  lf->open = 1;
  return 1;
}

/* file:read() -> packet | nil at the end | nil, err on a corrupt file. [-1, +1|2, m] */
static int l_read(lua_State *L) {
  l_file *lf = check_file(L);
  struct pcap_pkthdr *h;
  const unsigned char *data;
  char err[512];
  int rc = rt_pcapfile_next(&lf->f, &h, &data, err, sizeof err);
  if (rc < 0) return l_failrc(L, rc, "pcapfile.read", err);
  if (rc == 0) {
    lua_pushnil(L);
    return 1;
  }
  rt_pkt p;
  rt_pkt_decode(&p, lf->f.linktype, data, h->caplen, h->len);
  push_packet(L, &p, rt_pcap_ns(h), lf->with_data ? data : NULL);
  return 1;
}

/* The iterator of file:packets(): a corrupt file raises (a for loop cannot return an error).
 * [-2, +1, v] */
static int packets_next(lua_State *L) {
  lua_settop(L, 1);
  int n = l_read(L);
  if (n == 2) return luaL_error(L, "%s", luaL_tolstring(L, -1, NULL));
  return 1;
}

/* file:packets() -> iterator, file: for pkt in file:packets() do ... end. [-1, +2, -] */
static int l_packets(lua_State *L) {
  check_file(L);
  lua_pushcfunction(L, packets_next);
  lua_pushvalue(L, 1);
  return 2;
}

/* file:close(): also done by garbage collection and to-be-closed variables. [-1, +0, -] */
static int l_close(lua_State *L) {
  l_file *lf = luaL_checkudata(L, 1, FILE_MT);
  if (lf->open) rt_pcapfile_close(&lf->f);
  lf->open = 0;
  return 0;
}

/* file.path, file.link_type ("EN10MB"), file.dlt, file.snaplen, file.packets_read, and the
 * methods. [-2, +1, m] */
static int file_index(lua_State *L) {
  l_file *lf = luaL_checkudata(L, 1, FILE_MT);
  const char *k = luaL_checkstring(L, 2);
  char buf[32];
  if (!strcmp(k, "path")) lua_getiuservalue(L, 1, 1);
  else if (!strcmp(k, "link_type")) lua_pushstring(L, rt_pcap_linktype_name(lf->f.linktype, buf, sizeof buf));
  else if (!strcmp(k, "dlt")) lua_pushinteger(L, lf->f.linktype);
  else if (!strcmp(k, "snaplen")) lua_pushinteger(L, lf->f.snaplen);
  else if (!strcmp(k, "packets_read")) lua_pushinteger(L, (lua_Integer)lf->f.read);
  else {
    luaL_getmetatable(L, FILE_MT);
    lua_getfield(L, -1, k);
  }
  return 1;
}

/* pcapfile.decode(bytes[, link_type[, len]]) -> packet: decodes one packet's captured bytes
 * (link type a DLT number, default 1, Ethernet; len the original length, default #bytes).
 * [-(1|2|3), +1, m] */
static int l_decode(lua_State *L) {
  size_t caplen;
  const char *bytes = luaL_checklstring(L, 1, &caplen);
  int dlt = (int)luaL_optinteger(L, 2, 1);
  lua_Integer len = luaL_optinteger(L, 3, (lua_Integer)caplen);
  if (caplen > UINT32_MAX || len < (lua_Integer)caplen || len > UINT32_MAX)
    return luaL_error(L, "pcapfile.decode: len must be at least the number of bytes");
  rt_pkt p;
  rt_pkt_decode(&p, dlt, (const uint8_t *)bytes, (uint32_t)caplen, (uint32_t)len);
  push_packet(L, &p, INT64_MIN, NULL);
  return 1;
}

/* ---- whole files on the thread pool ---- */

enum { JOB_STATS, JOB_COPY };

typedef struct job {
  uv_work_t req;
  rt_wait w;
  atomic_int cancel;
  uv_mutex_t mu;
  uv_cond_t cond;
  rt_runtime *rt;
  int running;               /* queued or on a worker: after_work has not run */
  int finished;              /* the worker is done with the job (under mu) */
  int abandoned;             /* the task left: after_work frees the job */
  int interrupted;           /* the task's wait was interrupted with this code */
  int kind;
  const char *op;            /* "pcapfile.stats", ... */
  char **paths;
  size_t npaths;
  char *filter, *output;
  rt_pcapstats_opts sopts;
  size_t top;
  rt_pcapcopy_opts copts;
  /* results */
  int rc;
  char err[512];
  json_t *result;
} job;

static void job_free(job *j) {
  for (size_t i = 0; i < j->npaths; i++) free(j->paths[i]);
  free(j->paths);
  free(j->filter);
  free(j->output);
  json_decref(j->result);
  uv_mutex_destroy(&j->mu);
  uv_cond_destroy(&j->cond);
  free(j);
}

static json_t *copy_json(const rt_pcapcopy_result *r) {
  json_t *files = json_array();
  for (size_t i = 0; i < r->nfiles; i++)
    json_array_append_new(files, json_pack("{s:s, s:I, s:I}", "path", r->files[i].path, "packets",
                                           (json_int_t)r->files[i].packets, "bytes", (json_int_t)r->files[i].bytes));
  return json_pack("{s:I, s:I, s:o}", "read", (json_int_t)r->read, "written", (json_int_t)r->written, "files", files);
}

/* On a worker thread: the pass, and the result as JSON. */
static void job_work(uv_work_t *req) {
  job *j = req->data;
  if (j->kind == JOB_STATS) {
    rt_pcapstats s;
    j->rc = rt_pcapstats_init(&s, &j->sopts);
    if (j->rc == 0)
      j->rc = rt_pcapstats_files(&s, (const char *const *)j->paths, j->npaths, j->filter, &j->cancel, j->err,
                                 sizeof j->err);
    else snprintf(j->err, sizeof j->err, "out of memory");
    if (j->rc == 0 && !(j->result = rt_pcapstats_json(&s, j->top))) j->rc = RT_ENOMEM;
    rt_pcapstats_free(&s);
  } else {
    rt_pcapcopy_result r;
    j->copts.inputs = (const char *const *)j->paths;
    j->copts.ninputs = j->npaths;
    j->copts.filter = j->filter;
    j->copts.output = j->output;
    j->copts.cancel = &j->cancel;
    j->rc = rt_pcap_copy(&j->copts, &r, j->err, sizeof j->err);
    if (j->rc == 0 && !(j->result = copy_json(&r))) j->rc = RT_ENOMEM;
    rt_pcapcopy_result_free(&r);
  }
  uv_mutex_lock(&j->mu);
  j->finished = 1;
  uv_cond_signal(&j->cond);
  uv_mutex_unlock(&j->mu);
}

/* Back on the loop: the task gets the outcome (CANCELED when it was interrupted, even if the pass
 * ended first: then its output stays, complete). */
static void job_done(uv_work_t *req, int status) {
  job *j = req->data;
  j->running = 0;
  if (status == UV_ECANCELED) j->rc = RT_ECANCELED;
  if (j->abandoned) job_free(j);
  else rt_wait_done(&j->w, j->interrupted ? j->interrupted : j->rc);
}

/* The task is canceled or the run ends: the worker is told to stop (it looks every few thousand
 * packets), and job_done completes the wait when it has. */
static int job_cancel(rt_wait *w, int rc) {
  job *j = RT_CONTAINER(w, job, w);
  if (!j->running) return 0;
  j->interrupted = rc;
  atomic_store(&j->cancel, 1);
  uv_cancel((uv_req_t *)&j->req); /* not on a worker yet: job_done comes at once */
  w->bound_ms = rt_now_ms(j->rt) + 5000;
  return RT_EAGAIN;
}

/* The job's box closes: normally after job_done. Should the task's coroutine be collected while
 * the job still runs (a run torn down without unwinding its tasks), the job is told to stop and
 * waited for (a few thousand packets at most), then left to job_done to free. [-1, +0, -] */
static int job_close(lua_State *L) {
  job **box = luaL_checkudata(L, 1, JOB_MT);
  job *j = *box;
  *box = NULL;
  if (!j) return 0;
  if (!j->running) {
    job_free(j);
    return 0;
  }
  j->abandoned = 1;
  atomic_store(&j->cancel, 1);
  if (uv_cancel((uv_req_t *)&j->req) != 0) { /* on a worker already */
    uv_mutex_lock(&j->mu);
    while (!j->finished) uv_cond_wait(&j->cond, &j->mu);
    uv_mutex_unlock(&j->mu);
  }
  return 0;
}

/* A new job in a to-be-closed box on top of the stack. */
static job *new_job(lua_State *L, int kind, const char *op) {
  job **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, JOB_MT);
  lua_toclose(L, -1);
  job *j = calloc(1, sizeof *j);
  if (!j) luaL_error(L, "out of memory");
  if (uv_mutex_init(&j->mu) != 0) {
    free(j);
    luaL_error(L, "out of memory");
  }
  if (uv_cond_init(&j->cond) != 0) {
    uv_mutex_destroy(&j->mu);
    free(j);
    luaL_error(L, "out of memory");
  }
  *box = j;
  j->rt = rt_from_lua(L);
  j->kind = kind;
  j->op = op;
  j->req.data = j;
  j->w.cancel = job_cancel;
  j->w.what = "a pass over capture files";
  atomic_init(&j->cancel, 0);
  return j;
}

static char *dup_or_raise(lua_State *L, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d) luaL_error(L, "out of memory");
  return d;
}

/* The files argument at idx: a path or a list of paths. */
static void take_paths(lua_State *L, int idx, job *j) {
  int list = lua_type(L, idx) == LUA_TTABLE;
  if (!list) luaL_checkstring(L, idx);
  size_t n = list ? (size_t)luaL_len(L, idx) : 1;
  if (n == 0) luaL_error(L, "%s: the list of files is empty", j->op);
  if (!(j->paths = calloc(n, sizeof *j->paths))) luaL_error(L, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (list) lua_geti(L, idx, (lua_Integer)i + 1);
    const char *p = lua_type(L, list ? -1 : idx) == LUA_TSTRING ? lua_tostring(L, list ? -1 : idx) : NULL;
    if (!p) luaL_error(L, "%s: files must be paths (strings)", j->op);
    j->paths[i] = dup_or_raise(L, p);
    j->npaths = i + 1;
    if (list) lua_pop(L, 1);
  }
}

typedef int (*push_fn)(lua_State *L, job *j);

/* The continuation: the job's box is on top, ctx the result pusher. */
static int job_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  job *j = *(job **)luaL_checkudata(L, -1, JOB_MT);
  int rc = j->w.done ? j->w.rc : j->rc;
  if (rc == RT_ECANCELED) return l_raise_canceled(L);
  if (rc) return l_failrc(L, rc, j->op, j->err);
  return ((push_fn)ctx)(L, j);
}

static int run_job(lua_State *L, job *j, push_fn push) {
  int rc = uv_queue_work(rt_from_lua(L)->loop, &j->req, job_work, job_done);
  if (rc) return l_failrc(L, RT_ENOMEM, j->op, uv_strerror(rc));
  j->running = 1;
  return rt_park(L, &j->w, -1, (lua_KContext)push, job_k);
}

static int push_result(lua_State *L, job *j) {
  l_pushjson(L, j->result);
  return 1;
}

/* The statistics options of the table at idx. */
static void stats_opts(lua_State *L, int idx, job *j) {
  rt_pcapstats_opts_default(&j->sopts);
  j->filter = dup_or_raise(L, opt_str(L, idx, "filter"));
  j->top = (size_t)opt_num(L, idx, "top", 0, 1e6, 10);
  j->sopts.capacity = (uint32_t)opt_num(L, idx, "capacity", 1, 1 << 24, j->sopts.capacity);
  j->sopts.interval_ns = (int64_t)llround(opt_num(L, idx, "interval", 1e-9, 1e9, 1) * 1e9);
  j->sopts.outer = opt_bool(L, idx, "outer");
}

static const char *const stats_keys[] = {"filter", "top", "capacity", "interval", "outer", NULL};

/* pcapfile.stats(files[, {filter=, top=10, capacity=4096, interval=1, outer=false}])
 *   -> stats | nil, err
 * One pass over the files (a path or a list, read in time order) on the thread pool; the
 * result's fields are in stdlib/REFERENCE.md. [-(1|2), +1|2, y] */
static int l_stats(lua_State *L) {
  l_current_task(L, "pcapfile.stats");
  check_keys(L, 2, "pcapfile.stats", stats_keys);
  lua_settop(L, 2);
  job *j = new_job(L, JOB_STATS, "pcapfile.stats");
  take_paths(L, 1, j);
  stats_opts(L, 2, j);
  return run_job(L, j, push_result);
}

static const char *const tables[] = {"sources", "destinations", "conversations", "source_ports",
                                     "destination_ports", "protocols", NULL};

/* The one table `top` asked for: its name is in the job's output field. */
static int push_table(lua_State *L, job *j) {
  l_pushjson(L, json_object_get(j->result, j->output));
  return 1;
}

/* pcapfile.top(files[, {by="destinations", n=10, filter=, capacity=, outer=}]) -> list | nil, err
 * The n heaviest entries of one table: sources, destinations, conversations, source_ports,
 * destination_ports or protocols (each entry as in stats). [-(1|2), +1|2, y] */
static int l_top(lua_State *L) {
  l_current_task(L, "pcapfile.top");
  static const char *const keys[] = {"by", "n", "filter", "capacity", "outer", NULL};
  check_keys(L, 2, "pcapfile.top", keys);
  lua_settop(L, 2);
  const char *by = opt_str(L, 2, "by");
  if (!by) by = "destinations";
  int known = 0;
  for (const char *const *t = tables; *t; t++) known |= !strcmp(*t, by);
  if (!known)
    return luaL_error(L, "pcapfile.top: 'by' must be sources, destinations, conversations, source_ports, "
                         "destination_ports or protocols (got '%s')", by);
  job *j = new_job(L, JOB_STATS, "pcapfile.top");
  take_paths(L, 1, j);
  stats_opts(L, 2, j);
  j->top = (size_t)opt_num(L, 2, "n", 0, 1e6, 10);
  j->output = dup_or_raise(L, by);
  return run_job(L, j, push_table);
}

/* Copies the fields of a stats result that a summary keeps, with the first n of each list. */
static int push_summary(lua_State *L, job *j) {
  static const char *const scalars[] = {"packets", "bytes", "first", "last", "duration", "truncated", "malformed",
                                        NULL};
  json_t *r = j->result, *s = json_object();
  for (const char *const *k = scalars; *k; k++) {
    json_t *v = json_object_get(r, *k);
    if (v) json_object_set(s, *k, v);
  }
  json_t *tcp = json_object_get(r, "tcp");
  json_object_set_new(s, "tcp_packets", json_copy(json_object_get(tcp, "packets")));
  json_object_set_new(s, "syn_only", json_copy(json_object_get(tcp, "syn_only")));
  json_object_set_new(s, "syn_ratio", json_copy(json_object_get(tcp, "syn_ratio")));
  static const char *const lists[] = {"sources", "destinations", "protocols", "destination_ports", NULL};
  for (const char *const *k = lists; *k; k++) {
    json_t *list = json_array(), *e;
    size_t i;
    json_array_foreach(json_object_get(r, *k), i, e) {
      if (i == 3) break;
      json_t *short_e = json_deep_copy(e);
      json_object_del(short_e, "error_packets");
      json_object_del(short_e, "error_bytes");
      json_array_append_new(list, short_e);
    }
    json_object_set_new(s, *k, list);
  }
  l_pushjson_free(L, s);
  return 1;
}

/* pcapfile.summary(files[, {filter=}]) -> summary | nil, err: the few figures a manifest or a
 * report keeps (packets, bytes, first, last, duration, truncated, malformed, tcp_packets,
 * syn_only, syn_ratio, and the 3 heaviest sources, destinations, protocols and destination
 * ports). [-(1|2), +1|2, y] */
static int l_summary(lua_State *L) {
  l_current_task(L, "pcapfile.summary");
  static const char *const keys[] = {"filter", NULL};
  check_keys(L, 2, "pcapfile.summary", keys);
  lua_settop(L, 2);
  job *j = new_job(L, JOB_STATS, "pcapfile.summary");
  take_paths(L, 1, j);
  stats_opts(L, 2, j);
  j->top = 3;
  return run_job(L, j, push_summary);
}

/* A time bound: a number (epoch seconds) or a string (rt_pcap_parse_time). */
static void opt_time(lua_State *L, int idx, const char *k, int64_t *ns, int *relative) {
  if (lua_isnoneornil(L, idx) || lua_getfield(L, idx, k) == LUA_TNIL) {
    if (!lua_isnoneornil(L, idx)) lua_pop(L, 1);
    return;
  }
  if (lua_type(L, -1) == LUA_TNUMBER) {
    double v = lua_tonumber(L, -1);
    if (!(v >= 0 && v < 9e9)) luaL_error(L, "option '%s': epoch seconds out of range", k);
    *ns = (int64_t)llround(v * 1e9);
  } else if (lua_type(L, -1) != LUA_TSTRING || rt_pcap_parse_time(lua_tostring(L, -1), ns, relative) != 0) {
    luaL_error(L, "option '%s' must be epoch seconds, an RFC 3339 time or \"+SECONDS\" (after the first packet)", k);
  }
  lua_pop(L, 1);
}

/* The result of a file operation: {read=, written=, files={{path=, packets=, bytes=}...}}, plus
 * path, packets and bytes of the file when there is exactly one. */
static int push_copy(lua_State *L, job *j) {
  l_pushjson(L, j->result);
  json_t *files = json_object_get(j->result, "files");
  if (json_array_size(files) == 1) {
    json_t *f = json_array_get(files, 0);
    set_str(L, "path", json_string_value(json_object_get(f, "path")));
    set_int(L, "packets", json_integer_value(json_object_get(f, "packets")));
    set_int(L, "bytes", json_integer_value(json_object_get(f, "bytes")));
  }
  return 1;
}

/* Shared by the file operations: files at 1, output at 2, options at idx. */
static int copy_op(lua_State *L, const char *op, int idx, const char *const *keys, const char *filter) {
  l_current_task(L, op);
  const char *out = luaL_checkstring(L, 2);
  check_keys(L, idx, op, keys);
  job *j = new_job(L, JOB_COPY, op);
  take_paths(L, 1, j);
  j->copts = RT_PCAPCOPY_OPTS(NULL, 0, NULL);
  j->output = dup_or_raise(L, out);
  j->filter = dup_or_raise(L, filter ? filter : opt_str(L, idx, "filter"));
  opt_time(L, idx, "start", &j->copts.start_ns, &j->copts.start_relative);
  opt_time(L, idx, "stop", &j->copts.end_ns, &j->copts.end_relative);
  j->copts.split_packets = (uint64_t)opt_num(L, idx, "packets", 1, 9e15, 0);
  j->copts.split_bytes = (uint64_t)opt_num(L, idx, "bytes", 1, 9e15, 0);
  return run_job(L, j, push_copy);
}

/* pcapfile.merge(files, output[, {filter=}]) -> result | nil, err: one pcap of the files' packets
 * in time order (mergecap's order), nanosecond timestamps, written atomically. [-(2|3), +1|2, y] */
static int l_merge(lua_State *L) {
  static const char *const keys[] = {"filter", NULL};
  lua_settop(L, 3);
  return copy_op(L, "pcapfile.merge", 3, keys, NULL);
}

/* pcapfile.filter(files, output, expr) -> result | nil, err: the packets matching the BPF
 * expression. [-3, +1|2, y] */
static int l_filter(lua_State *L) {
  const char *expr = luaL_checkstring(L, 3);
  static const char *const keys[] = {NULL};
  lua_settop(L, 4);
  return copy_op(L, "pcapfile.filter", 4, keys, expr);
}

/* pcapfile.slice(files, output, {start=, stop=, filter=}) -> result | nil, err: the packets in
 * [start, stop); each bound epoch seconds (a number or a string, exact to the nanosecond), an
 * RFC 3339 time, or "+SECONDS" after the first packet. [-3, +1|2, y] */
static int l_slice(lua_State *L) {
  static const char *const keys[] = {"start", "stop", "filter", NULL};
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  return copy_op(L, "pcapfile.slice", 3, keys, NULL);
}

/* pcapfile.split(files, output, {packets=N | bytes=N, filter=}) -> result | nil, err: parts
 * output-00001.pcap, ... of N packets, or of at most N bytes each; result.files lists them.
 * [-3, +1|2, y] */
static int l_split(lua_State *L) {
  static const char *const keys[] = {"packets", "bytes", "filter", NULL};
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  lua_getfield(L, 3, "packets");
  lua_getfield(L, 3, "bytes");
  if (lua_isnil(L, -1) == lua_isnil(L, -2)) return luaL_error(L, "pcapfile.split: give packets=N or bytes=N");
  lua_settop(L, 3);
  return copy_op(L, "pcapfile.split", 3, keys, NULL);
}

int luaopen_pcaprun_pcapfile(lua_State *L) {
  static const luaL_Reg file_methods[] = {{"read", l_read}, {"packets", l_packets}, {"close", l_close}, {NULL, NULL}};
  luaL_newmetatable(L, FILE_MT);
  luaL_setfuncs(L, file_methods, 0);
  lua_pushcfunction(L, file_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  luaL_newmetatable(L, JOB_MT);
  lua_pushcfunction(L, job_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, job_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open}, {"decode", l_decode}, {"stats", l_stats}, {"top", l_top},
                                 {"summary", l_summary}, {"merge", l_merge}, {"filter", l_filter},
                                 {"slice", l_slice}, {"split", l_split}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
