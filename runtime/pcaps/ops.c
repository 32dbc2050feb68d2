/* The PCAPs operations as a table: one row per operation with what the call state machine needs
 * to know of it — method, path, Accept, how its 2xx answer is read, whether it creates something
 * (a fresh connection, never retried blindly, reconciled by a list) — and the one function that
 * builds a request from a row (runtime/API.md#2-endpoints). */
#include "err.h"
#include "pcaps.h"
#include <stdio.h>
#include <string.h>

static const rt_op ops[RT_CALL_KINDS] = {
  [RT_CALL_CREATE] = {RT_CALL_CREATE, "pcap.create", "POST", "", "application/json", RT_ANS_CAPTURE, 1, RT_CALL_LIST},
  [RT_CALL_GET] = {RT_CALL_GET, "pcap.get", "GET", "/%s", "application/json", RT_ANS_CAPTURE, 0, 0},
  [RT_CALL_LIST] = {RT_CALL_LIST, "pcap.list", "GET", "", "application/json", RT_ANS_CAPTURES, 0, 0},
  [RT_CALL_STOP] = {RT_CALL_STOP, "pcap.stop", "PUT", "/%s/stop", "*/*", RT_ANS_EMPTY, 0, 0},
  [RT_CALL_DOWNLOAD] = {RT_CALL_DOWNLOAD, "pcap.download", "GET", "/%s/download", "application/vnd.tcpdump.pcap",
                        RT_ANS_FILE, 0, 0},
  [RT_CALL_OWN_LIST] = {RT_CALL_OWN_LIST, "pcap.buckets.list", "GET", "/ownership", "application/json", RT_ANS_LIST,
                        0, 0},
  [RT_CALL_OWN_ADD] = {RT_CALL_OWN_ADD, "pcap.buckets.add", "POST", "/ownership", "application/json", RT_ANS_OBJECT,
                       1, RT_CALL_OWN_LIST},
  [RT_CALL_OWN_VALIDATE] = {RT_CALL_OWN_VALIDATE, "pcap.buckets.validate", "POST", "/ownership/validate",
                            "application/json", RT_ANS_OBJECT, 0, 0},
  [RT_CALL_OWN_DELETE] = {RT_CALL_OWN_DELETE, "pcap.buckets.delete", "DELETE", "/ownership/%s", "*/*",
                          RT_ANS_EMPTY, 0, 0},
};

const rt_op *rt_op_of(int kind) { return &ops[kind]; }

static int add_header(rt_http_req *r, const char *name, const char *value) {
  char line[512];
  snprintf(line, sizeof line, "%s: %s", name, value);
  return rt_http_req_header(r, line);
}

int rt_op_request(const rt_op *op, rt_call *c, rt_http_req *r) {
  rt_account *a = c->acct;
  char tail[128], url[2048];
  snprintf(tail, sizeof tail, op->path, c->id);
  snprintf(url, sizeof url, "%s/accounts/%s/pcaps%s", a->base_url, a->account_id, tail);
  snprintf(r->method, sizeof r->method, "%s", op->method);
  r->fresh_connect = op->creates;
  if (rt_http_req_url(r, url) || add_header(r, "Accept", op->accept) || rt_http_req_header(r, "Expect:"))
    return RT_ENOMEM;
  for (int i = 0; i < 2; i++)
    if (c->creds && c->creds->auth[i] && rt_http_req_header(r, c->creds->auth[i])) return RT_ENOMEM;
  if (op->kind == RT_CALL_CREATE && c->create.intent[0] && add_header(r, "X-Pcaprun-Intent", c->create.intent))
    return RT_ENOMEM;
  if (op->kind == RT_CALL_CREATE || op->kind == RT_CALL_OWN_ADD || op->kind == RT_CALL_OWN_VALIDATE) {
    char *text = json_dumps(c->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int rc = !text || add_header(r, "Content-Type", "application/json") || rt_http_req_body(r, text, strlen(text));
    free(text);
    if (rc) return RT_ENOMEM;
  }
  return 0;
}
