/* Minimal test harness for the C unit tests: each test is a function; main runs them all.
 *   static void t_refill(void) { CHECK(x == 1); CHECK_INT(a, b); CHECK_STR(s, "x"); }
 *   int main(void) { RUN(t_refill); return check_done(); }
 */
#ifndef PCAPRUN_CHECK_H
#define PCAPRUN_CHECK_H
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { check_count++; if (!(cond)) { check_failures++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); check_count++; \
  if (a_ != b_) { check_failures++; fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
  __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); check_count++; \
  if (!a_ || !b_ || strcmp(a_, b_) != 0) { check_failures++; fprintf(stderr, \
  "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", \
  b_ ? b_ : "(null)"); } } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); check_count++; \
  if (!h_ || !strstr(h_, n_)) { check_failures++; fprintf(stderr, \
  "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); } } while (0)
#define RUN(fn) do { int before_ = check_failures; fn(); \
  fprintf(stderr, "%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn); } while (0)

static inline int check_done(void) {
  fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}
#endif
