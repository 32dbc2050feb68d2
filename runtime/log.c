/* Logging: text or JSON lines on stderr, and a transient status line on a TTY. */
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
  int format, level, tty, status_shown;
} logcfg = {RT_LOG_TEXT, RT_LOG_INFO, 0, 0};

static const char *level_names[] = {"debug", "info", "warn", "error"};

void rt_log_setup(int format, int level, int progress) {
  logcfg.format = format;
  logcfg.level = level;
  logcfg.tty = progress && format == RT_LOG_TEXT && isatty(STDERR_FILENO);
}

int rt_log_enabled(int level) { return level >= logcfg.level; }

int rt_log_level_parse(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, level_names[i]) == 0) return i;
  if (strcmp(name, "off") == 0) return RT_LOG_OFF;
  return -1;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

/* Text values with spaces or quotes are quoted so a line stays parseable by eye and by awk. */
static void text_value(FILE *f, const char *s) {
  if (*s && !strpbrk(s, " \t\"=")) { fputs(s, f); return; }
  json_string(f, s);
}

static void clear_status(void) {
  if (logcfg.status_shown) { fputs("\r\033[K", stderr); logcfg.status_shown = 0; }
}

void rt_log_fields(int level, const char *event, const char *msg, const char *const *fields, int n) {
  if (!rt_log_enabled(level)) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[40];
  FILE *f = stderr;
  if (logcfg.format == RT_LOG_JSON) {
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":", stamp, ts.tv_nsec / 1000000,
            level_names[level]);
    json_string(f, event);
    fputs(",\"msg\":", f);
    json_string(f, msg);
    for (int i = 0; i < n; i++) {
      if (!fields[2 * i + 1]) continue;
      fputc(',', f);
      json_string(f, fields[2 * i]);
      fputc(':', f);
      json_string(f, fields[2 * i + 1]);
    }
    fputs("}\n", f);
  } else {
    clear_status();
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(f, "%s %-5s %s", stamp, level_names[level], msg);
    const char *traceback = NULL; /* multi-line: printed below the line, indented */
    for (int i = 0; i < n; i++) {
      if (!fields[2 * i + 1]) continue;
      if (strcmp(fields[2 * i], "traceback") == 0) { traceback = fields[2 * i + 1]; continue; }
      fprintf(f, " %s=", fields[2 * i]);
      text_value(f, fields[2 * i + 1]);
    }
    fputc('\n', f);
    for (const char *p = traceback; p && *p;) {
      size_t len = strcspn(p, "\n");
      fprintf(f, "    %.*s\n", (int)len, p);
      p += len + (p[len] == '\n');
    }
  }
  fflush(f);
}

void rt_log(int level, const char *event, const char *msg, ...) {
  if (!rt_log_enabled(level)) return;
  const char *fields[32];
  int n = 0;
  va_list ap;
  va_start(ap, msg);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k || n >= 16) break;
    fields[2 * n] = k;
    fields[2 * n + 1] = va_arg(ap, const char *);
    n++;
  }
  va_end(ap);
  rt_log_fields(level, event, msg, fields, n);
}

void rt_log_status(const char *line) {
  if (!logcfg.tty) return;
  clear_status();
  if (line && *line) {
    fprintf(stderr, "\033[2m%s\033[0m", line);
    logcfg.status_shown = 1;
  }
  fflush(stderr);
}
