/* Full-jitter backoff, shared by the runtime's retry loops: the n-th retry (n >= 1) waits a
 * uniformly random time in [0, min(cap, base * 2^(n-1))], so clients that failed together do not
 * come back together. Durations are in whatever unit base and cap are given in. */
#ifndef PCAPRUN_BACKOFF_H
#define PCAPRUN_BACKOFF_H
#include "rt.h"

double rt_backoff_full_jitter(rt_runtime *rt, int n, double base, double cap);

#endif
