/* Command-line helpers shared by pcaprun's commands (cli.h). */
#include "cli.h"
#include "err.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int rt_cli_usage(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '%s --help'.\n", cmd);
  return 2;
}

int rt_cli_number(const char *s, double lo, double hi, int integer, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi || (integer && v != floor(v)))
    return RT_EINVAL;
  *out = v;
  return 0;
}
