// An S3-compatible server on loopback for pcaprun's object-store tests and benchmarks. Every
// request's AWS Signature V4 is checked by the AWS SDK's own signer (@smithy/signature-v4):
// the request is signed again with its own date, region, service and signed headers, with the
// keys this server knows, and the result must equal the Authorization header received. The path
// and query are given to the signer decoded, so it builds S3's canonical forms itself: a client
// that signs anything else (an unsorted query, a path not encoded the S3 way) fails.
//
//   node s3_server.mjs --root DIR [--key-id ID --secret S] [--token T] [--region R]
//                      [--bucket-region BUCKET=REGION ...] [--many BUCKET=N]
// prints {"port": N} on its first line of stdout, then serves http://127.0.0.1:N until killed.
//   GET /BUCKET?list-type=2&prefix=&continuation-token=   ListObjectsV2, 1000 keys a page
//   GET|HEAD /BUCKET/KEY (Range: bytes=N- / N-M, If-Match), DELETE /BUCKET/KEY
// Buckets are directories of DIR; --many adds a bucket of N small synthetic objects. A bucket
// lives in --region unless --bucket-region says otherwise: a request signed for another region
// gets 400 AuthorizationHeaderMalformed naming the right one (and x-amz-bucket-region).
// Admin (unsigned): GET /__admin/stats, POST /__admin/reset, POST /__admin/fail
// {"status", "code", "count"} (the next requests answer that error after their check),
// POST /__admin/cut {"after": BYTES} (the next object GET is cut after BYTES).
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const args = process.argv.slice(2);
const opt = { root: null, keyId: "AKIDPCAPRUNTEST", secret: "pcaprun/test+secret=key", token: null, region: "us-east-1",
              bucketRegion: {}, many: {} };
for (let i = 0; i < args.length; i++) {
  const a = args[i], v = args[++i];
  if (a === "--root") opt.root = v;
  else if (a === "--key-id") opt.keyId = v;
  else if (a === "--secret") opt.secret = v;
  else if (a === "--token") opt.token = v;
  else if (a === "--region") opt.region = v;
  else if (a === "--bucket-region") { const [b, r] = v.split("="); opt.bucketRegion[b] = r; }
  else if (a === "--many") { const [b, n] = v.split("="); opt.many[b] = Number(n); }
  else { console.error(`unknown option ${a}`); process.exit(2); }
}
if (!opt.root) { console.error("--root DIR is required"); process.exit(2); }

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
let stats, fails = [], cut = null;
const reset = () => { stats = { requests: 0, verified: 0, unverified: 0, by_status: {}, gets: {}, log: [] }; };
reset();

// The AWS way of encoding a path segment or query part (what the SDK's S3 client sends).
const awsEscape = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

const xmlEscape = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]);

function sendError(res, status, code, message, extra = {}, head = false) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`).join("") + "</Error>";
  res.statusCode = status;
  res.setHeader("Content-Type", "application/xml");
  if (extra.Region) res.setHeader("x-amz-bucket-region", extra.Region);
  res.end(head ? undefined : body);
  return status;
}

// Checks the request's signature with the SDK's signer. Returns null, or [status, code, message].
async function verify(req, url) {
  const auth = req.headers.authorization || "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!auth) return [403, "AccessDenied", "Anonymous access is not allowed"];
  if (!m) return [400, "AuthorizationHeaderMalformed", "The authorization header is malformed"];
  const [, keyId, day, region, service, signedHeaders, signature] = m;
  if (keyId !== opt.keyId) return [403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."];
  const amzDate = req.headers["x-amz-date"];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day)
    return [403, "AccessDenied", "x-amz-date is missing or does not match the credential scope"];
  const sha = req.headers["x-amz-content-sha256"];
  if (sha !== EMPTY_SHA256 && sha !== "UNSIGNED-PAYLOAD")
    return [400, "InvalidRequest", "Missing or wrong x-amz-content-sha256 for a request without a body"];
  const names = signedHeaders.split(";");
  for (const need of ["host", "x-amz-date", "x-amz-content-sha256"])
    if (!names.includes(need)) return [403, "AccessDenied", `${need} must be signed`];
  const token = req.headers["x-amz-security-token"];
  if (opt.token && token !== opt.token) return [403, "InvalidToken", "The provided token is malformed or otherwise invalid."];
  if (!opt.token && token) return [403, "InvalidToken", "The provided token is malformed or otherwise invalid."];
  if (token && !names.includes("x-amz-security-token")) return [403, "AccessDenied", "x-amz-security-token must be signed"];
  const headers = {};
  for (const n of names) {
    if (req.headers[n] === undefined) return [403, "AccessDenied", `signed header ${n} was not sent`];
    headers[n] = req.headers[n];
  }
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : [].concat(query[k], v);
  const rawPath = url.pathname;
  const canonicalPath = rawPath.split("/").map((seg) => awsEscape(decodeURIComponent(seg))).join("/");
  const signer = new SignatureV4({
    credentials: { accessKeyId: opt.keyId, secretAccessKey: opt.secret, sessionToken: opt.token || undefined },
    region, service, sha256: Sha256, uriEscapePath: false, applyChecksum: false,
  });
  const date = new Date(Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
                                 +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15)));
  const signed = await signer.sign({ method: req.method, protocol: "http:", hostname: "127.0.0.1", path: canonicalPath,
                                     query, headers }, { signingDate: date, signingRegion: region, signingService: service });
  const expected = signed.headers.authorization || signed.headers.Authorization;
  if (expected !== auth) {
    stats.mismatch = { received: auth, expected };
    return [403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."];
  }
  if (rawPath !== canonicalPath) return [400, "InvalidURI", "the path is not encoded the S3 way"];
  return { region };
}

function listBucket(res, bucket, url) {
  const prefix = url.searchParams.get("prefix") || "";
  const token = url.searchParams.get("continuation-token");
  const max = Math.min(1000, Number(url.searchParams.get("max-keys") || 1000));
  let keys;
  if (opt.many[bucket] !== undefined) {
    keys = Array.from({ length: opt.many[bucket] }, (_, i) => ({ key: `obj/k${String(i).padStart(6, "0")}`, size: 1, etag: `"e${i}"`, mtime: new Date(0) }));
  } else {
    keys = [];
    const walk = (dir, rel) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const k = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(path.join(dir, e.name), k);
        else if (e.isFile()) { const st = fs.statSync(path.join(dir, e.name)); keys.push({ key: k, size: st.size, etag: etagOf(st), mtime: st.mtime }); }
      }
    };
    walk(path.join(opt.root, bucket), "");
  }
  keys = keys.filter((k) => k.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const after = token ? Buffer.from(token.split(".")[0], "base64url").toString() : null;
  if (after !== null) keys = keys.filter((k) => k.key > after);
  const page = keys.slice(0, max), truncated = keys.length > max;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
    `<IsTruncated>${truncated}</IsTruncated>` +
    (truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1].key).toString("base64url")}.+/=</NextContinuationToken>` : "") +
    page.map((k) => `<Contents><Key>${xmlEscape(k.key)}</Key><LastModified>${k.mtime.toISOString()}</LastModified>` +
                    `<ETag>${xmlEscape(k.etag)}</ETag><Size>${k.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join("") +
    "</ListBucketResult>";
  res.setHeader("Content-Type", "application/xml");
  res.end(body);
  return 200;
}

const etagOf = (st) => `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;

function getObject(req, res, bucket, key) {
  const file = path.join(opt.root, bucket, key);
  if (!file.startsWith(path.join(opt.root, bucket) + path.sep)) return sendError(res, 400, "InvalidArgument", "bad key");
  let st;
  try { st = fs.statSync(file); } catch { st = null; }
  if (req.method === "DELETE") {
    if (st) fs.unlinkSync(file);
    res.statusCode = 204;
    res.end();
    return 204;
  }
  const head = req.method === "HEAD";
  if (!st || !st.isFile()) return sendError(res, 404, "NoSuchKey", "The specified key does not exist.", { Key: key }, head);
  const etag = etagOf(st);
  const match = req.headers["if-match"];
  if (match && match !== etag) return sendError(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", {}, head);
  let start = 0, end = st.size - 1, status = 200;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || "");
  if (range && !head) {
    start = Number(range[1]);
    if (range[2]) end = Math.min(end, Number(range[2]));
    if (start >= st.size) {
      res.setHeader("Content-Range", `bytes */${st.size}`);
      return sendError(res, 416, "InvalidRange", "The requested range is not satisfiable");
    }
    status = 206;
    res.setHeader("Content-Range", `bytes ${start}-${end}/${st.size}`);
  }
  res.statusCode = status;
  res.setHeader("ETag", etag);
  res.setHeader("Last-Modified", st.mtime.toUTCString());
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("Content-Type", "application/octet-stream");
  res.setHeader("Content-Length", String(end - start + 1));
  if (head) { res.end(); return status; }
  stats.gets[key] = (stats.gets[key] || 0) + 1;
  const c = cut;
  cut = null;
  const stream = fs.createReadStream(file, { start, end: c ? Math.min(end, start + c.after - 1) : end });
  if (c) stream.on("end", () => setTimeout(() => res.destroy(), 50));
  stream.pipe(res, { end: !c });
  return status;
}

async function handle(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname.startsWith("/__admin/")) {
    let body = "";
    for await (const chunk of req) body += chunk;
    const what = url.pathname.slice(9);
    if (what === "stats") res.end(JSON.stringify(stats));
    else if (what === "reset") { reset(); fails = []; cut = null; res.end("{}"); }
    else if (what === "fail") { const f = JSON.parse(body); for (let i = 0; i < (f.count || 1); i++) fails.push(f); res.end("{}"); }
    else if (what === "cut") { cut = JSON.parse(body); res.end("{}"); }
    else { res.statusCode = 404; res.end(); }
    return;
  }
  for await (const chunk of req) void chunk; // no operation takes a body
  stats.requests++;
  const head = req.method === "HEAD";
  const record = (status, verified) => {
    stats.by_status[status] = (stats.by_status[status] || 0) + 1;
    stats.log.push({ method: req.method, path: url.pathname, query: url.search, status, verified });
  };
  const v = await verify(req, url);
  if (Array.isArray(v)) {
    stats.unverified++;
    record(sendError(res, v[0], v[1], v[2], {}, head), false);
    return;
  }
  stats.verified++;
  const segs = url.pathname.slice(1).split("/");
  const bucket = decodeURIComponent(segs[0]), key = segs.slice(1).map(decodeURIComponent).join("/");
  const home = opt.bucketRegion[bucket] || opt.region;
  if (!fs.existsSync(path.join(opt.root, bucket)) && opt.many[bucket] === undefined) {
    record(sendError(res, 404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket }, head), true);
    return;
  }
  if (v.region !== home) {
    res.setHeader("x-amz-bucket-region", home);
    record(sendError(res, 400, "AuthorizationHeaderMalformed",
                     `The authorization header is malformed; the region '${v.region}' is wrong; expecting '${home}'`,
                     { Region: home }, head), true);
    return;
  }
  if (fails.length) {
    const f = fails.shift();
    if (f.retry_after) res.setHeader("Retry-After", String(f.retry_after));
    record(sendError(res, f.status, f.code || "InternalError", "We encountered an internal error. Please try again.", {}, head), true);
    return;
  }
  let status;
  if (!key && (req.method === "GET" || head)) status = listBucket(res, bucket, url);
  else if (key && ["GET", "HEAD", "DELETE"].includes(req.method)) status = getObject(req, res, bucket, key);
  else status = sendError(res, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  record(status, true);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) { res.statusCode = 500; res.end(); }
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
