/* AWS settings found the way AWS's own tools find them, for the object stores (S3, R2, GCS):
 *   keys      AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the profile
 *             (AWS_PROFILE, else "default") in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
 *             else ~/.aws/credentials, section [NAME]) and then in the config file (AWS_CONFIG_FILE,
 *             else ~/.aws/config, section [profile NAME], or [default]);
 *   region    AWS_REGION, AWS_DEFAULT_REGION, else the profile's `region` in the config file;
 *   endpoint  AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (S3-compatible servers).
 * An explicit profile name (a script's option) replaces AWS_PROFILE and beats keys in the
 * environment. Keys are secrets: rt_awskeys_free wipes them; nothing here logs. */
#ifndef PCAPRUN_AWSCONF_H
#define PCAPRUN_AWSCONF_H
#include <stddef.h>

typedef struct rt_awskeys {
  char *id, *secret, *token; /* token NULL without a session */
} rt_awskeys;

/* Sets *out from explicit values (any of them NULL) or, when id and secret are both NULL, from
 * the environment and the profile. Returns 0, RT_ENOTFOUND with a message saying where keys
 * were looked for, RT_EINVAL (one of id/secret given without the other, unreadable files), or
 * RT_ENOMEM. */
int rt_awskeys_find(const char *id, const char *secret, const char *token, const char *profile,
                    rt_awskeys *out, char *err, size_t errlen);
/* Copies explicit keys. Returns 0 or RT_ENOMEM. */
int rt_awskeys_set(rt_awskeys *k, const char *id, const char *secret, const char *token);
/* Wipes and frees the keys; the struct is zeroed. */
void rt_awskeys_free(rt_awskeys *k);

/* The region from the environment or the profile into out; 0, or RT_ENOTFOUND (out "") . */
int rt_aws_region(const char *profile, char *out, size_t size);
/* The endpoint URL from the environment, or NULL. */
const char *rt_aws_endpoint(void);

/* The value of key in [section] of an INI file (AWS's format: `key = value`, '#' and ';'
 * comments). Returns 0, RT_ENOTFOUND, or RT_EIO when the file exists but cannot be read. */
int rt_ini_get(const char *path, const char *section, const char *key, char *out, size_t size);

#endif
