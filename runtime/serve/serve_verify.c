/* Each sender's proof, checked in constant time with libcrypto before the body is parsed:
 *   Cloudflare Notifications: the header cf-webhook-auth carries the secret itself;
 *   PagerDuty v3: X-PagerDuty-Signature carries "v1=<hex>" HMAC-SHA256 signatures of the raw body
 *     (several while a secret is rotated: one that matches is enough);
 *   Alertmanager: Authorization: Bearer <token> (its http_config's credentials).
 * Secrets of different lengths are compared through their SHA-256 digests, so that the time
 * taken says nothing about the secret's length or contents. */
#include "serve.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGNATURES 16 /* signatures read from one header */

void rt_serve_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int rt_serve_secret_equal(const char *given, const char *secret) {
  if (!given || !secret || !secret[0]) return 0;
  unsigned char a[32], b[32];
  unsigned int n = 0;
  EVP_Digest(given, strlen(given), a, &n, EVP_sha256(), NULL);
  EVP_Digest(secret, strlen(secret), b, &n, EVP_sha256(), NULL);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

int rt_serve_pd_signed(const char *header, const char *body, size_t len, const char *secret) {
  if (!header || !secret || !secret[0]) return 0;
  unsigned char mac[32];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n) || n != 32)
    return 0;
  char want[65];
  for (int i = 0; i < 32; i++) snprintf(want + 2 * i, 3, "%02x", mac[i]);
  int ok = 0, seen = 0;
  for (const char *p = header; *p && seen < MAX_SIGNATURES; seen++) {
    p += strspn(p, " \t,");
    size_t item = strcspn(p, ",");
    /* "v1=" then exactly 64 hex digits (case as sent: PagerDuty sends lowercase) */
    if (item >= 3 + 64 && strncmp(p, "v1=", 3) == 0 && strspn(p + 3, " \t") == 0) {
      size_t hex = item - 3;
      while (hex > 64 && (p[3 + hex - 1] == ' ' || p[3 + hex - 1] == '\t')) hex--;
      if (hex == 64) ok |= CRYPTO_memcmp(p + 3, want, 64) == 0;
    }
    p += item;
  }
  return ok;
}

int rt_serve_bearer(const char *authorization, const char *token) {
  if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 0;
  const char *given = authorization + 7;
  given += strspn(given, " ");
  return rt_serve_secret_equal(given, token);
}
