/* Logging to stderr: human text (with a status line on a TTY) or JSON lines for machines.
 * Every message has a level, an event name and a text, plus string key/value fields:
 *   rt_log(RT_LOG_INFO, "capture.created", "created capture", "id", id, "colo", colo, NULL);
 * Secrets never reach this module: callers pass ids, never credentials or raw bucket URIs. */
#ifndef PCAPRUN_LOG_H
#define PCAPRUN_LOG_H
#include "rt.h"

void rt_log_setup(int format, int level, int progress);
int rt_log_enabled(int level);
/* Fields are NULL-terminated pairs of const char* (a NULL value is skipped). */
void rt_log(int level, const char *event, const char *msg, ...);
/* Like rt_log with the pairs in a va_list-free array: fields[0..2n-1]. */
void rt_log_fields(int level, const char *event, const char *msg, const char *const *fields, int n);
/* A transient one-line status shown on a TTY in text mode (cleared by the next log line); no-op
 * otherwise. NULL clears it. */
void rt_log_status(const char *line);
int rt_log_level_parse(const char *name);

#endif
