/* ctest-labels: unit;valgrind;objstore
 * The object-store pieces that need no server: canonical S3 URLs (what libcurl 7.88 signs
 * verbatim must be S3's canonical form), the providers' endpoints and styles from destination_conf
 * URIs, credentials/region/endpoint the way AWS tools find them, and S3's XML answers. */
#include "check.h"
#include "vg.h"
#include "awsconf.h"
#include "err.h"
#include "s3bucket.h"
#include "s3url.h"
#include "s3xml.h"
#include <stdlib.h>
#include <unistd.h>

static void clear_env(void) {
  static const char *const vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                                     "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", NULL};
  for (int i = 0; vars[i]; i++) unsetenv(vars[i]);
  setenv("HOME", "/nonexistent", 1);
}

static void t_encode(void) {
  char out[256];
  size_t pos = 0;
  CHECK_INT(rt_s3_encode(out, sizeof out, &pos, "a b/c+d=e~f_g.h-i%", 18, 1), 0);
  CHECK_STR(out, "a%20b/c%2Bd%3De~f_g.h-i%25");
  pos = 0;
  CHECK_INT(rt_s3_encode(out, sizeof out, &pos, "a/b", 3, 0), 0);
  CHECK_STR(out, "a%2Fb");
  pos = 0;
  CHECK_INT(rt_s3_encode(out, sizeof out, &pos, "\xc3\xa9", 2, 0), 0);
  CHECK_STR(out, "%C3%A9"); /* upper-case hex, byte by byte */
  pos = 0;
  CHECK_INT(rt_s3_encode(out, 4, &pos, "abcd", 4, 0), RT_ETOOBIG);
}

static void t_query(void) {
  char out[256];
  rt_s3param p[] = {{"prefix", "caps/pcap_"}, {"list-type", "2"}, {"continuation-token", "x+/=y"}};
  CHECK_INT(rt_s3_query(out, sizeof out, p, 3), 0);
  CHECK_STR(out, "continuation-token=x%2B%2F%3Dy&list-type=2&prefix=caps%2Fpcap_");
  rt_s3param q[] = {{"location", NULL}, {"b", ""}, {"a", "1"}};
  CHECK_INT(rt_s3_query(out, sizeof out, q, 3), 0);
  CHECK_STR(out, "a=1&b=&location="); /* k= for an empty value, sorted by byte */
  CHECK_INT(rt_s3_query(out, sizeof out, q, 0), 0);
  CHECK_STR(out, "");
}

static void t_url(void) {
  char out[512];
  CHECK_INT(rt_s3_url(out, sizeof out, "https://s3.eu-west-1.amazonaws.com", 0, "bkt", "d/pcap 1.pcap", NULL), 0);
  CHECK_STR(out, "https://bkt.s3.eu-west-1.amazonaws.com/d/pcap%201.pcap");
  CHECK_INT(rt_s3_url(out, sizeof out, "http://127.0.0.1:9000", 1, "bkt", NULL, "list-type=2"), 0);
  CHECK_STR(out, "http://127.0.0.1:9000/bkt/?list-type=2");
  char s[] = "a%2Bb+c%zz";
  rt_s3_unescape(s, 1);
  CHECK_STR(s, "a+b c%zz");
}

static rt_s3bucket *open_ok(const char *uri, const rt_s3opts *o) {
  rt_s3bucket *b = NULL;
  char err[512] = "";
  int rc = rt_s3bucket_open(uri, o, &b, err, sizeof err);
  if (rc) fprintf(stderr, "open %s: %s\n", uri, err);
  CHECK_INT(rc, 0);
  return b;
}

static void t_providers(void) {
  clear_env();
  rt_s3opts keys = {.access_key_id = "AKID", .secret_access_key = "SECRET"};
  rt_s3bucket *b = open_ok("s3://my-bucket/pcaps/x?region=eu-west-1", &keys);
  if (b) {
    CHECK_STR(b->endpoint, "https://s3.eu-west-1.amazonaws.com");
    CHECK_INT(b->path_style, 0);
    CHECK_STR(b->prefix, "pcaps/x/");
    CHECK_STR(b->sigv4, "aws:amz:eu-west-1:s3");
    char url[512];
    CHECK_INT(rt_s3bucket_url(b, "pcaps/x/pcap_1.pcap", NULL, 0, url, sizeof url), 0);
    CHECK_STR(url, "https://my-bucket.s3.eu-west-1.amazonaws.com/pcaps/x/pcap_1.pcap");
    CHECK_INT(rt_s3bucket_set_region(b, "us-west-2"), 0); /* the store named another region */
    CHECK_STR(b->endpoint, "https://s3.us-west-2.amazonaws.com");
    CHECK_STR(b->sigv4, "aws:amz:us-west-2:s3");
    CHECK_INT(rt_s3bucket_set_region(b, "bad region"), RT_EINVAL);
  }
  rt_s3bucket_unref(b);
  b = open_ok("s3://my.dotted.bucket", &keys); /* no region: us-east-1; dots: path style */
  if (b) {
    CHECK_STR(b->region, "us-east-1");
    CHECK_INT(b->path_style, 1);
    CHECK_STR(b->prefix, "");
  }
  rt_s3bucket_unref(b);
  b = open_ok("r2://r2b/caps?account-id=0123456789abcdef0123456789abcdef&access-key-id=K%2B1&secret-access-key=S%2F2",
              &(rt_s3opts){0});
  if (b) {
    CHECK_STR(b->endpoint, "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com");
    CHECK_INT(b->path_style, 1);
    CHECK_STR(b->sigv4, "aws:amz:auto:s3");
    CHECK_STR(b->keys.id, "K+1"); /* the URI's keys, decoded */
    CHECK_STR(b->keys.secret, "S/2");
    CHECK(!strstr(b->shown, "S%2F2")); /* shown redacted */
    CHECK_CONTAINS(b->shown, "account-id=0123456789abcdef0123456789abcdef");
  }
  rt_s3bucket_unref(b);
  b = open_ok("gs://gcs-bucket/dir", &keys);
  if (b) {
    CHECK_STR(b->endpoint, "https://storage.googleapis.com");
    CHECK_STR(b->sigv4, "aws:amz:auto:s3");
  }
  rt_s3bucket_unref(b);
  char err[512];
  CHECK_INT(rt_s3bucket_open("r2://r2b?access-key-id=a&secret-access-key=b", &keys, &b, err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "account-id");
  CHECK_INT(rt_s3bucket_open("https://x/y", &keys, &b, err, sizeof err), RT_EINVAL);
  CHECK_INT(rt_s3bucket_open("s3://b/x", &(rt_s3opts){.access_key_id = "a"}, &b, err, sizeof err), RT_EINVAL);
  CHECK_INT(rt_s3bucket_open("s3://bkt", &(rt_s3opts){0}, &b, err, sizeof err), RT_ENOTFOUND);
  CHECK_CONTAINS(err, "AWS_ACCESS_KEY_ID");
  /* an endpoint: path style; https, or http to loopback only */
  rt_s3opts ep = keys;
  ep.endpoint = "http://127.0.0.1:9000/";
  b = open_ok("s3://bkt?region=us-east-1", &ep);
  if (b) {
    CHECK_STR(b->endpoint, "http://127.0.0.1:9000");
    CHECK_INT(b->path_style, 1);
  }
  rt_s3bucket_unref(b);
  ep.endpoint = "http://minio.example.com:9000";
  CHECK_INT(rt_s3bucket_open("s3://bkt", &ep, &b, err, sizeof err), RT_EINVAL);
  CHECK_CONTAINS(err, "https");
}

static void t_environment(void) {
  clear_env();
  char dir[] = "/tmp/pcaprun-s3-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char creds[64], conf[64];
  snprintf(creds, sizeof creds, "%s/credentials", dir);
  snprintf(conf, sizeof conf, "%s/config", dir);
  FILE *f = fopen(creds, "w");
  fputs("# comment\n[default]\naws_access_key_id = DEFAULTID\naws_secret_access_key=defsecret\n\n"
        "[ops]\naws_access_key_id = OPSID\naws_secret_access_key = ops/secret=\naws_session_token = TOK\n", f);
  fclose(f);
  f = fopen(conf, "w");
  fputs("[default]\nregion = ap-south-1\n[profile ops]\nregion = eu-north-1\n"
        "[profile cfgonly]\naws_access_key_id = CFGID\naws_secret_access_key = cfgsecret\n", f);
  fclose(f);
  setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
  setenv("AWS_CONFIG_FILE", conf, 1);
  rt_awskeys k;
  char err[400], region[64];
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, NULL, &k, err, sizeof err), 0);
  CHECK_STR(k.id, "DEFAULTID");
  CHECK(k.token == NULL);
  rt_awskeys_free(&k);
  CHECK_INT(rt_aws_region(NULL, region, sizeof region), 0);
  CHECK_STR(region, "ap-south-1");
  setenv("AWS_PROFILE", "ops", 1);
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, NULL, &k, err, sizeof err), 0);
  CHECK_STR(k.secret, "ops/secret=");
  CHECK_STR(k.token, "TOK");
  rt_awskeys_free(&k);
  CHECK_INT(rt_aws_region(NULL, region, sizeof region), 0);
  CHECK_STR(region, "eu-north-1");
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, "cfgonly", &k, err, sizeof err), 0); /* config file keys */
  CHECK_STR(k.id, "CFGID");
  rt_awskeys_free(&k);
  setenv("AWS_ACCESS_KEY_ID", "ENVID", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, NULL, &k, err, sizeof err), 0); /* the environment's keys */
  CHECK_STR(k.id, "ENVID");
  rt_awskeys_free(&k);
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, "ops", &k, err, sizeof err), 0); /* an explicit profile wins */
  CHECK_STR(k.id, "OPSID");
  rt_awskeys_free(&k);
  CHECK_INT(rt_awskeys_find("X", "Y", NULL, NULL, &k, err, sizeof err), 0); /* explicit keys win */
  CHECK_STR(k.id, "X");
  rt_awskeys_free(&k);
  CHECK_INT(rt_awskeys_find(NULL, NULL, NULL, "nope", &k, err, sizeof err), RT_ENOTFOUND);
  CHECK_CONTAINS(err, "'nope'");
  setenv("AWS_REGION", "us-west-1", 1);
  CHECK_INT(rt_aws_region(NULL, region, sizeof region), 0);
  CHECK_STR(region, "us-west-1");
  setenv("AWS_ENDPOINT_URL", "https://a.example", 1);
  CHECK_STR(rt_aws_endpoint(), "https://a.example");
  setenv("AWS_ENDPOINT_URL_S3", "https://s3.example", 1);
  CHECK_STR(rt_aws_endpoint(), "https://s3.example");
  /* the URI's region beats the environment's; the option beats both */
  rt_s3bucket *b = open_ok("s3://bkt?region=ca-central-1", &(rt_s3opts){0});
  if (b) CHECK_STR(b->region, "ca-central-1");
  if (b) CHECK_STR(b->endpoint, "https://s3.example");
  rt_s3bucket_unref(b);
  b = open_ok("s3://bkt?region=ca-central-1", &(rt_s3opts){.region = "sa-east-1", .endpoint = "https://o.example"});
  if (b) CHECK_STR(b->region, "sa-east-1");
  if (b) CHECK_STR(b->endpoint, "https://o.example");
  rt_s3bucket_unref(b);
  /* the runtime's default endpoint (the emulator's) beats the environment's, with its keys */
  b = open_ok("s3://bkt", &(rt_s3opts){.default_endpoint = "http://127.0.0.1:1", .default_key_id = "EMU",
                                       .default_secret = "emusecret"});
  if (b) CHECK_STR(b->endpoint, "http://127.0.0.1:1");
  if (b) CHECK_STR(b->keys.id, "EMU");
  rt_s3bucket_unref(b);
  unlink(creds);
  unlink(conf);
  rmdir(dir);
  clear_env();
}

static void t_xml(void) {
  const char *page =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p</Prefix>"
      "<Contents><Key>p/pcap_1.pcap</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
      "<ETag>&quot;abc&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>"
      "<Contents><Key>p/a &amp; b.pcap</Key><Size>5</Size></Contents>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>";
  rt_s3list l = {.objects = json_array()};
  char why[256];
  CHECK_INT(rt_s3xml_list(page, strlen(page), &l, why, sizeof why), 0);
  CHECK_INT(json_array_size(l.objects), 2);
  CHECK_STR(json_string_value(json_object_get(json_array_get(l.objects, 0), "key")), "p/pcap_1.pcap");
  CHECK_STR(json_string_value(json_object_get(json_array_get(l.objects, 0), "etag")), "\"abc\"");
  CHECK_INT(json_integer_value(json_object_get(json_array_get(l.objects, 0), "size")), 1234);
  CHECK_STR(json_string_value(json_object_get(json_array_get(l.objects, 1), "key")), "p/a & b.pcap");
  CHECK_INT(l.truncated, 1);
  CHECK_STR(l.next_token, "tok/+=");
  json_decref(l.objects);
  const char *encoded = "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%20b%2Bc</Key>"
                        "<Size>1</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>";
  l = (rt_s3list){.objects = json_array()};
  CHECK_INT(rt_s3xml_list(encoded, strlen(encoded), &l, why, sizeof why), 0);
  CHECK_STR(json_string_value(json_object_get(json_array_get(l.objects, 0), "key")), "a b+c");
  CHECK_INT(l.truncated, 0);
  CHECK_INT(rt_s3xml_list("<ListBucketResult><Contents>", 28, &l, why, sizeof why), RT_EPROTO);
  CHECK_CONTAINS(why, "malformed XML");
  CHECK_INT(rt_s3xml_list("<Error/>", 8, &l, why, sizeof why), RT_EPROTO);
  json_decref(l.objects);
  rt_s3error e;
  const char *err = "<?xml version=\"1.0\"?><Error><Code>AuthorizationHeaderMalformed</Code>"
                    "<Message>the region 'us-east-1' is wrong</Message><Region>eu-west-1</Region></Error>";
  CHECK_INT(rt_s3xml_error(err, strlen(err), &e), 0);
  CHECK_STR(e.code, "AuthorizationHeaderMalformed");
  CHECK_STR(e.region, "eu-west-1");
  CHECK_INT(rt_s3xml_error("not xml", 7, &e), RT_EPROTO);
  CHECK_STR(e.code, "");
  CHECK_INT(rt_s3xml_error(NULL, 0, &e), RT_EPROTO);
}

int main(int argc, char **argv) {
  vg_reexec(argc, argv);
  RUN(t_encode);
  RUN(t_query);
  RUN(t_url);
  RUN(t_providers);
  RUN(t_environment);
  RUN(t_xml);
  return check_done();
}
