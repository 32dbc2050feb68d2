/* What pcaprun's commands (pcaprun, pcaprun emulator, pcaprun pcap, pcaprun serve) share on their
 * command lines: one form for usage errors and one check of numeric option values. */
#ifndef PCAPRUN_CLI_H
#define PCAPRUN_CLI_H

/* Prints "CMD: <fmt, with arg>" and "Try 'CMD --help'." to stderr. Returns 2, the exit status of
 * a usage error. */
int rt_cli_usage(const char *cmd, const char *fmt, const char *arg);

/* Reads s as a finite number in [lo, hi], a whole one when `integer`. Returns 0 and sets *out,
 * or RT_EINVAL (and leaves *out) for anything else: empty, trailing text, out of range. */
int rt_cli_number(const char *s, double lo, double hi, int integer, double *out);

#endif
