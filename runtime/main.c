/* pcaprun entry point (placeholder: the runtime CLI lands next). */
#include "emu.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "emulator") == 0) return emu_main(argc - 1, argv + 1);
  fprintf(stderr, "usage: pcaprun emulator [options]\n");
  return 2;
}
