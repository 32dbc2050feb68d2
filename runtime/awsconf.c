/* AWS settings from the environment and ~/.aws (awsconf.h). */
#include "awsconf.h"
#include "err.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
  return s;
}

int rt_ini_get(const char *path, const char *section, const char *key, char *out, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT || errno == ENOTDIR ? RT_ENOTFOUND : RT_EIO;
  char line[4096];
  int in = 0, rc = RT_ENOTFOUND;
  while (rc == RT_ENOTFOUND && fgets(line, sizeof line, f)) {
    char *s = trim(line);
    if (*s == '#' || *s == ';' || !*s) continue;
    if (*s == '[') {
      char *end = strchr(s, ']');
      if (end) *end = 0;
      in = strcmp(trim(s + 1), section) == 0;
      continue;
    }
    char *eq = strchr(s, '=');
    if (!in || !eq) continue;
    *eq = 0;
    if (strcmp(trim(s), key) != 0) continue;
    snprintf(out, size, "%s", trim(eq + 1));
    rc = 0;
  }
  memset(line, 0, sizeof line);
  fclose(f);
  return rc;
}

/* A file named by a variable, else ~/.aws/NAME. */
static int aws_file(const char *var, const char *name, char *out, size_t size) {
  const char *p = env(var), *home = env("HOME");
  if (p) return snprintf(out, size, "%s", p) < (int)size ? 0 : RT_EINVAL;
  if (!home) return RT_ENOTFOUND;
  return snprintf(out, size, "%s/.aws/%s", home, name) < (int)size ? 0 : RT_EINVAL;
}

/* key of the profile: the credentials file's [NAME], then the config file's [profile NAME]
 * ([default] for the default profile). */
static int profile_get(const char *profile, const char *key, int credentials_too, char *out, size_t size) {
  char path[4096], section[300];
  int rc = RT_ENOTFOUND;
  if (credentials_too && aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path) == 0)
    rc = rt_ini_get(path, profile, key, out, size);
  if (rc != RT_ENOTFOUND) return rc;
  if (aws_file("AWS_CONFIG_FILE", "config", path, sizeof path) != 0) return RT_ENOTFOUND;
  if (strcmp(profile, "default") == 0) snprintf(section, sizeof section, "default");
  else snprintf(section, sizeof section, "profile %s", profile);
  return rt_ini_get(path, section, key, out, size);
}

int rt_awskeys_set(rt_awskeys *k, const char *id, const char *secret, const char *token) {
  memset(k, 0, sizeof *k);
  k->id = strdup(id);
  k->secret = strdup(secret);
  k->token = token && *token ? strdup(token) : NULL;
  if (!k->id || !k->secret || (token && *token && !k->token)) {
    rt_awskeys_free(k);
    return RT_ENOMEM;
  }
  return 0;
}

static void wipe(char *s) {
  if (s) memset(s, 0, strlen(s));
  free(s);
}

void rt_awskeys_free(rt_awskeys *k) {
  wipe(k->id);
  wipe(k->secret);
  wipe(k->token);
  memset(k, 0, sizeof *k);
}

int rt_awskeys_find(const char *id, const char *secret, const char *token, const char *profile,
                    rt_awskeys *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if ((id != NULL) != (secret != NULL)) {
    snprintf(err, errlen, "give both the access key id and the secret access key, or neither");
    return RT_EINVAL;
  }
  if (id) return rt_awskeys_set(out, id, secret, token);
  if (!profile && env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY"))
    return rt_awskeys_set(out, env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"));
  const char *name = profile ? profile : env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
  char kid[256] = "", sec[256] = "", tok[4096] = "";
  int rc = profile_get(name, "aws_access_key_id", 1, kid, sizeof kid);
  if (rc == 0) rc = profile_get(name, "aws_secret_access_key", 1, sec, sizeof sec);
  if (rc == 0 && profile_get(name, "aws_session_token", 1, tok, sizeof tok) == RT_EIO) rc = RT_EIO;
  if (rc == 0) rc = rt_awskeys_set(out, kid, sec, tok);
  else if (rc == RT_EIO)
    snprintf(err, errlen, "cannot read the AWS credentials or config file (profile '%s')", name);
  else
    snprintf(err, errlen, "no object-store credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
             "or AWS_PROFILE with ~/.aws/credentials (profile '%s' has no keys), or pass "
             "access_key_id and secret_access_key", name);
  memset(kid, 0, sizeof kid);
  memset(sec, 0, sizeof sec);
  memset(tok, 0, sizeof tok);
  return rc;
}

int rt_aws_region(const char *profile, char *out, size_t size) {
  const char *v = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
  out[0] = 0;
  if (v) {
    snprintf(out, size, "%s", v);
    return 0;
  }
  const char *name = profile ? profile : env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
  int rc = profile_get(name, "region", 0, out, size);
  if (rc) out[0] = 0;
  return rc ? RT_ENOTFOUND : 0;
}

const char *rt_aws_endpoint(void) {
  return env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3") : env("AWS_ENDPOINT_URL");
}
