/* Delivery of full captures: when a full capture's timeline reaches its end, its file is written
 * into its bucket (<bucket dir>/<bucket>/<path>/pcap_<id>.pcap) by the ticker thread, and only
 * then does the capture show success (emu_capture_status). With full_files N > 1 it lands as N
 * files, as a capture taken on several servers: pcap_<id>.pcap, pcap_<id>_2.pcap, ...,
 * pcap_<id>_N.pcap, the packets shared out, their times interleaved. */
#include "emu_internal.h"
#include "fsutil.h"
#include <stdio.h>
#include <string.h>

typedef struct delivery {
  char id[33], account[33];
  emu_pcap_params p;
  int files;
} delivery;

static int write_capture_files(const emu_pcap_params *all, int files) {
  int rc = 0;
  for (int i = 0; i < files && rc == 0; i++) {
    emu_pcap_params p = *all;
    p.packets = all->packets / files + (i < all->packets % files);
    p.seed = all->seed + (uint64_t)i;
    if (i > 0 && snprintf(p.path, sizeof p.path, "%.*s_%d.pcap", (int)strlen(all->path) - 5, all->path, i + 1) >=
                     (int)sizeof p.path)
      return RT_EIO;
    rc = emu_pcap_write(&p);
  }
  return rc;
}

/* Called by the ticker thread: finds finished full captures under the lock, writes their files
 * without it (they can be megabytes), then marks them delivered so they show success. */
void emu_deliver_finished(emu_server *s) {
  enum { BATCH = 8 };
  delivery d[BATCH];
  int n = 0;
  char dir[PATH_MAX];
  pthread_mutex_lock(&s->mu);
  double now = emu_api_now(s);
  RT_LIST_EACH(it, &s->captures) {
    emu_capture *c = RT_CONTAINER(it, emu_capture, link);
    if (n == BATCH || !emu_capture_needs_delivery(s, c, now)) continue;
    delivery *x = &d[n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", c->id);
    snprintf(x->account, sizeof x->account, "%s", c->account);
    if (emu_bucket_path(s->bucket_dir, c->spec.destination_conf, dir, sizeof dir) != 0 ||
        snprintf(x->p.path, sizeof x->p.path, "%s/pcap_%s.pcap", dir, c->id) >=
            (int)sizeof x->p.path)
      x->p.path[0] = 0;
    x->p.link_type = s->cfg.link_type;
    x->p.snaplen = 65535; /* full captures keep whole packets */
    x->p.syn_flood = s->cfg.syn_flood;
    x->p.packets = emu_capture_packets(c, c->t_done);
    x->p.t_start = c->wall_submit;
    x->p.t_span = c->t_conv_pending - c->t_running;
    x->p.filter = c->spec.filter;
    x->p.seed = c->seed;
    x->files = s->cfg.full_files;
  }
  pthread_mutex_unlock(&s->mu);
  for (int i = 0; i < n; i++) {
    int rc = RT_EIO;
    if (d[i].p.path[0] && rt_mkdir_parents(d[i].p.path) == 0) rc = write_capture_files(&d[i].p, d[i].files);
    pthread_mutex_lock(&s->mu);
    emu_capture *c = emu_capture_find(s, d[i].account, d[i].id);
    if (c && rc == 0) {
      c->delivered = 1;
      s->stats.files_delivered++;
    } else if (c) {
      c->will_fail = 2; /* could not write to the bucket */
    }
    pthread_mutex_unlock(&s->mu);
  }
}
