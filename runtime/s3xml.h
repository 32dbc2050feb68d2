/* The XML answers of S3-compatible object stores, read with expat:
 *   ListObjectsV2 (ListBucketResult): the objects, IsTruncated, NextContinuationToken;
 *   errors (<Error>): Code, Message, Region (a request signed for the wrong region names the
 *   right one).
 * Unknown elements are ignored; a body that is not well-formed XML is an error. */
#ifndef PCAPRUN_S3XML_H
#define PCAPRUN_S3XML_H
#include <jansson.h>
#include <stddef.h>

typedef struct rt_s3list {
  json_t *objects;        /* appended to: {key, size, etag, modified} per <Contents> */
  int truncated;          /* IsTruncated was true */
  char next_token[1024];  /* NextContinuationToken, "" when none */
} rt_s3list;

typedef struct rt_s3error {
  char code[64];          /* "NoSuchKey", "" when the body was not an S3 error */
  char message[256];
  char region[64];        /* Region, when the error names one */
} rt_s3error;

/* Parses a ListBucketResult, appending its objects to l->objects (which the caller owns).
 * Returns 0, or RT_EPROTO with a message in why. */
int rt_s3xml_list(const char *xml, size_t len, rt_s3list *l, char *why, size_t whylen);
/* Parses an <Error> body into *e (zeroed first). Returns 0, or RT_EPROTO when the body is not an
 * S3 error document (e stays empty). */
int rt_s3xml_error(const char *xml, size_t len, rt_s3error *e);

#endif
