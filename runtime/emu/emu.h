/* The PCAPs API emulator: a faithful Cloudflare PCAPs API on loopback (libmicrohttpd).
 * Used by `pcaprun emulator` (a server process) and by `pcaprun --emulate` (in-process, on its
 * own MHD thread; the runtime's loop never blocks on it). All state is behind one mutex.
 *
 * Configuration and introspection are JSON objects, the same ones the admin endpoints speak:
 *   GET  /__admin/stats     -> emu_stats_json
 *   POST /__admin/config    -> emu_configure_json (merge)
 *   POST /__admin/reset     -> forget captures, buckets and counters
 *   GET  /__admin/captures  -> every capture with its internal timeline
 * The keys are documented in runtime/emu/README.md. */
#ifndef PCAPRUN_EMU_H
#define PCAPRUN_EMU_H
#include <stddef.h>

typedef struct emu_server emu_server;

/* Starts an emulator configured by `config_json` (NULL or "{}" for defaults; keys as for
 * /__admin/config, e.g. {"listen":"127.0.0.1:0","time_scale":0.01,"auto_validate_buckets":true}).
 * On success returns 0, sets *out, and writes the base URL ("http://127.0.0.1:PORT/client/v4")
 * into base_url. On failure returns a negative RT_E* code and writes a message into base_url. */
int emu_start(const char *config_json, emu_server **out, char *base_url, size_t size);

/* Stops the server (waits for its threads) and frees everything. NULL is a no-op. */
void emu_stop(emu_server *s);

/* Admin: stats as a malloc'd JSON string (caller frees). NULL on ENOMEM. */
char *emu_stats_json(emu_server *s);
/* Admin: every capture with its timeline (as GET /__admin/captures), a malloc'd JSON string. */
char *emu_captures_text(emu_server *s);
/* Admin: merge a JSON config object into the running configuration. Returns 0 or RT_EINVAL with
 * a message in err. */
int emu_configure_json(emu_server *s, const char *json, char *err, size_t errlen);
/* The directory that stands for buckets (full captures and ownership challenges land here). */
const char *emu_bucket_dir(emu_server *s);
/* 1 when it listens off loopback (config allow_remote): reachable from other machines. */
int emu_exposed(emu_server *s);
/* The admin token the emulator made up because it listens off loopback and none was given
 * (config admin_token, PCAPRUN_EMULATOR_ADMIN_TOKEN), for its user to see once; else NULL. */
const char *emu_made_admin_token(emu_server *s);

/* The Lua module pcaprun.emulator (bindings/l_emulator.c, part of the emulator's library): the
 * executable preloads it; emu_lua_attach tells it which emulator --emulate started. */
struct lua_State;
int luaopen_pcaprun_emulator(struct lua_State *L);
void emu_lua_attach(struct lua_State *L, emu_server *s, const char *base_url);

/* The S3 API over the bucket directory: its URL ("http://127.0.0.1:PORT"; buckets path style)
 * and the access key id and secret it accepts. */
const char *emu_s3_url(emu_server *s);
void emu_s3_keys(emu_server *s, const char **id, const char **secret);

/* `pcaprun emulator [options]`: argv[0] is "emulator". Prints the base URL as the first line
 * of stdout, serves until SIGINT/SIGTERM, returns the process exit code (0, or 2 on usage). */
int emu_main(int argc, char **argv);

#endif
