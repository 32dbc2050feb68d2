// Drives the pcaprun emulator with Cloudflare's official TypeScript SDK, unchanged, through its
// baseURL option: create (simple and full), get, list, download, stop, and the bucket ownership
// flow. Starts nothing itself. Environment:
//   PCAPRUN_EMULATOR_URL      base URL printed by `pcaprun emulator` (…/client/v4)
//   PCAPRUN_EMULATOR_BUCKETS  the emulator's bucket directory
//   PCAPRUN_PCAP_OUT          where to write the downloaded pcap (checked by the caller)
import Cloudflare from 'cloudflare';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const baseURL = process.env.PCAPRUN_EMULATOR_URL;
const bucketDir = process.env.PCAPRUN_EMULATOR_BUCKETS;
const pcapOut = process.env.PCAPRUN_PCAP_OUT || 'sdk-download.pcap';
assert.ok(baseURL && bucketDir, 'PCAPRUN_EMULATOR_URL and PCAPRUN_EMULATOR_BUCKETS are required');

const account_id = '0123456789abcdef0123456789abcdef';
const client = new Cloudflare({ apiToken: 'sdk-test-token', baseURL, maxRetries: 0 });
const pcaps = client.magicTransit.pcaps;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let passed = 0;
const step = (name) => { passed++; console.log(`ok ${passed} - ${name}`); };

async function waitFor(id, want, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const p = await pcaps.get(id, { account_id });
    if (want.includes(p.status)) return p;
    if (Date.now() > end) throw new Error(`capture ${id} stuck in ${p.status}`);
    await sleep(20);
  }
}

// ---- simple capture: create, get, list, download ----
const simple = await pcaps.create({
  account_id, system: 'magic-transit', type: 'simple', time_limit: 30, packet_limit: 200,
  filter_v1: { destination_address: '203.0.113.7', destination_port: 443, protocol: 6 },
});
assert.equal(simple.type, 'simple');
assert.equal(simple.status, 'pending');
assert.match(simple.id, /^[0-9a-f]{32}$/);
assert.equal(simple.filter_v1.destination_port, 443);
step('create simple');

const got = await waitFor(simple.id, ['success']);
assert.equal(got.id, simple.id);
assert.equal(got.time_limit, 30);
step('get until success');

const resp = await pcaps.download.get(simple.id, { account_id });
assert.equal(resp.status, 200);
assert.equal(resp.headers.get('content-type'), 'application/vnd.tcpdump.pcap');
const bytes = Buffer.from(await resp.arrayBuffer());
assert.ok(bytes.length > 24, 'pcap has packets');
assert.equal(bytes.readUInt32LE(0), 0xa1b2c3d4, 'classic pcap magic, little-endian µs');
assert.equal(bytes.readUInt16LE(4), 2);
assert.equal(bytes.readUInt16LE(6), 4);
assert.equal(bytes.readUInt32LE(16), 160, 'snaplen 160');
assert.equal(bytes.readUInt32LE(20), 1, 'link type Ethernet');
writeFileSync(pcapOut, bytes);
const info = execFileSync('capinfos', ['-t', '-M', pcapOut], { encoding: 'utf8' });
assert.match(info, /File type:\s+pcap\b/, info);
step('download is a valid pcap (capinfos says pcap)');

// ---- bucket ownership: add, read the challenge, validate, list, (delete at the end) ----
const dest = 's3://sdk-bucket/pcaps?region=us-east-1';
const own = await pcaps.ownership.create({ account_id, destination_conf: dest });
assert.equal(own.status, 'pending');
assert.equal(own.validated, '');
assert.match(own.filename, /^ownership-challenge-[0-9a-f]{32}\.txt$/);
step('ownership add');

const challengePath = join(bucketDir, 'sdk-bucket', 'pcaps', own.filename);
assert.ok(existsSync(challengePath), `challenge file at ${challengePath}`);
const challenge = readFileSync(challengePath, 'utf8');
const valid = await pcaps.ownership.validate({ account_id, destination_conf: dest,
                                               ownership_challenge: challenge });
assert.equal(valid.status, 'success');
assert.ok(valid.validated.length > 0);
step('ownership validate with the challenge file contents');

const owned = [];
for await (const o of pcaps.ownership.get({ account_id })) owned.push(o);
assert.equal(owned.length, 1);
assert.equal(owned[0].id, own.id);
assert.equal(owned[0].status, 'success');
step('ownership.get lists the bucket');

// ---- full capture: create, stop, delivered to the bucket ----
const full = await pcaps.create({
  account_id, system: 'magic-transit', type: 'full', time_limit: 300, packet_limit: 1000,
  colo_name: 'ORD', destination_conf: dest,
});
assert.equal(full.type, 'full');
assert.equal(full.colo_name, 'ORD');
assert.equal(full.destination_conf, dest);
step('create full');

await waitFor(full.id, ['running']);
const stopped = await pcaps.stop(full.id, { account_id });
assert.ok(stopped == null, 'stop answers 204 with no body');
const afterStop = await pcaps.get(full.id, { account_id });
assert.ok(afterStop.stop_requested, 'stop_requested is set');
assert.ok(['conversion_pending', 'conversion_running', 'success'].includes(afterStop.status));
step('stop a running full capture');

const done = await waitFor(full.id, ['success']);
const delivered = join(bucketDir, 'sdk-bucket', 'pcaps', `pcap_${full.id}.pcap`);
assert.ok(existsSync(delivered), `full capture delivered to ${delivered}`);
assert.equal(readFileSync(delivered).readUInt32LE(0), 0xa1b2c3d4);
assert.ok(done.packets_captured >= 0);
step('full capture delivered to the bucket');

// ---- list: newest first ----
const listed = [];
for await (const p of pcaps.list({ account_id })) listed.push(p);
assert.deepEqual(listed.map((p) => p.id), [full.id, simple.id]);
step('list, newest first');

// ---- errors surface as SDK exceptions with the status ----
await assert.rejects(pcaps.get('ffffffffffffffffffffffffffffffff', { account_id }),
                     (e) => e.status === 404);
await assert.rejects(pcaps.create({ account_id, system: 'magic-transit', type: 'simple',
                                    time_limit: 500, packet_limit: 1 }),
                     (e) => e.status === 400 && /time_limit/.test(e.message));
step('errors: 404 and 400 naming the field');

await pcaps.ownership.delete(own.id, { account_id });
const left = [];
for await (const o of pcaps.ownership.get({ account_id })) left.push(o);
assert.equal(left.length, 0);
step('ownership delete');

// the same calls with the key scheme (X-Auth-Email + X-Auth-Key)
const keyed = new Cloudflare({ apiEmail: 'sdk@example.com', apiKey: 'global-key', baseURL,
                               maxRetries: 0 });
const again = [];
for await (const p of keyed.magicTransit.pcaps.list({ account_id })) again.push(p);
assert.equal(again.length, 2);
step('list with X-Auth-Email/X-Auth-Key');

console.log(`${passed} passed, 0 failed`);
