/* Re-runs a C test under valgrind memcheck when PCAPRUN_VALGRIND=1 (make test-valgrind): leaks
 * and memory errors then fail the test (exit 99). Call first thing in main. */
#ifndef PCAPRUN_VG_H
#define PCAPRUN_VG_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs this test binary again under valgrind memcheck when PCAPRUN_VALGRIND=1. */
static inline void vg_reexec(int argc, char **argv) {
  (void)argc;
  if (!getenv("PCAPRUN_VALGRIND") || getenv("PCAPRUN_UNDER_VALGRIND")) return;
  setenv("PCAPRUN_UNDER_VALGRIND", "1", 1);
  char *args[] = {"valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                  "--errors-for-leak-kinds=definite,indirect", "--track-fds=no", argv[0], NULL};
  execvp("valgrind", args);
  perror("valgrind");
  exit(1);
}

#endif
