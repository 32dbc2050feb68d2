/* A status line on a terminal while a run waits (see progress.c). */
#ifndef PCAPRUN_PROGRESS_H
#define PCAPRUN_PROGRESS_H
#include "rt.h"

void rt_progress_start(rt_runtime *rt, uv_timer_t *timer);
void rt_progress_stop(uv_timer_t *timer);

#endif
