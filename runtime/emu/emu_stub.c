/* Placeholder until the emulator lands; replaced by the real implementation. */
#include "emu.h"
#include "err.h"
#include <stdio.h>

int emu_start(const char *config_json, emu_server **out, char *base_url, size_t size) {
  (void)config_json; *out = NULL; snprintf(base_url, size, "emulator not built"); return RT_EINVAL;
}
void emu_stop(emu_server *s) { (void)s; }
char *emu_stats_json(emu_server *s) { (void)s; return NULL; }
int emu_configure_json(emu_server *s, const char *json, char *err, size_t errlen) {
  (void)s; (void)json; snprintf(err, errlen, "emulator not built"); return RT_EINVAL;
}
const char *emu_bucket_dir(emu_server *s) { (void)s; return ""; }
int emu_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "emulator not built\n"); return 2; }
