/* Full-jitter backoff (backoff.h). */
#include "backoff.h"
#include <math.h>

double rt_backoff_full_jitter(rt_runtime *rt, int n, double base, double cap) {
  double ceiling = fmin(cap, base * pow(2, n < 1 ? 0 : n - 1));
  return ceiling * rt_random(rt);
}
