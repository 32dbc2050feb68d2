/* Shared by the libFuzzer targets. FUZZ_CHECK is an assert that survives NDEBUG (the fuzz build is
 * RelWithDebInfo): a failed oracle prints why and aborts, which libFuzzer reports as a crash and
 * saves the input. */
#ifndef PCAPRUN_FUZZ_H
#define PCAPRUN_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...) do { if (!(cond)) { \
  fprintf(stderr, "%s:%d: fuzz check failed: %s\n  ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FNV-1a: derives stable pseudo-random choices from the input itself. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001b3u;
  return h;
}

#endif
