/**
 * Phone enrollment against the real broker (relay set up by `relay init` as root,
 * mosquitto as its own user, TLS, dynamic security plugin): a toy-made grant gives
 * a phone its account and exactly its toy's topics; forged, relabelled, stolen and
 * replayed grants are refused; a revoke disconnects the phone at once and the old
 * grant never works again; a flood is rate-limited; chunks queued for an offline
 * phone survive a broker restart. Skips with one line when not root or mosquitto
 * or the plugin is missing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import type { MqttClient } from 'mqtt';
import nacl from 'tweetnacl';
import { naclCrypto as crypto } from '../src/nacl-crypto.js';
import { makeEnrollRequest, makeNotice, phoneBrokerUser } from '../src/enrollment-grant.js';
import type { Identity } from '../src/identity.js';
import { DynsecClient } from '../relay/dynsec-client.js';
import { EnrollmentService, startEnrollmentServer, type RateLimits } from '../relay/enrollment-service.js';
import { readRelayKey, registryLookup } from '../relay/relay-cli.js';
import { RelayRig, RIG_HOST, relayInProcess, relayRigUnavailable, track } from './relay-rig.js';
import { freePort } from './mqtt-node-helpers.js';

const why = relayRigUnavailable();
const rt = why ? test.skip : test.serial;
if (why) test('relay enrollment tests skipped: ' + why, (t) => t.pass());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isClient = (c: MqttClient | string): c is MqttClient => typeof c !== 'string';

interface World {
  rig: RelayRig;
  toys: Identity[];
  relayPublic: Uint8Array;
  dynsec: DynsecClient;
  service: EnrollmentService;
  server: Server;
  url: string;
}

async function world(limits?: RateLimits): Promise<World> {
  const rig = await RelayRig.init();
  const batch = await rig.provision(2);
  const r = await relayInProcess(['add-batch', batch.dir, '--conf-dir', rig.paths.confDir]);
  if (r.status !== 0) throw new Error(r.stderr);
  await rig.start();
  const f = rig.files;
  const [user, password] = fs.readFileSync(f.adminSecret, 'utf8').trim().split(' ') as [string, string];
  const dynsec = await DynsecClient.connect({ host: '127.0.0.1', port: rig.port, servername: RIG_HOST, ca: rig.ca, username: user, password });
  const relaySecret = readRelayKey(f.relayKey);
  const service = new EnrollmentService({ relaySecretKey: relaySecret, toyPublicKey: registryLookup(f.registry), dynsec, statePath: f.enrollState, limits });
  const port = await freePort();
  const server = await startEnrollmentServer({ service, port });
  const relayPublic = new Uint8Array(Buffer.from(fs.readFileSync(f.relayPub, 'utf8').trim().split(' ')[1]!, 'hex'));
  return { rig, toys: batch.toys, relayPublic, dynsec, service, server, url: `http://127.0.0.1:${port}` };
}

async function dispose(w: World): Promise<void> {
  await new Promise((r) => w.server.close(r));
  await w.dynsec.end();
  await w.rig.dispose();
}

class Toy {
  seq = 0;
  private readonly key: Uint8Array;
  constructor(readonly id: Identity, relayPublic: Uint8Array) {
    this.key = crypto.boxBefore(relayPublic, id.secretKey);
  }
  notice(kind: 'grant' | 'revoke', phonePk: Uint8Array, seq = ++this.seq): Uint8Array {
    return makeNotice({ crypto, kind, toyId: this.id.toyId, toyRelayKey: this.key, phonePublicKey: phonePk, seq, nonce: nacl.randomBytes(24) });
  }
}

class Phone {
  readonly kp = nacl.box.keyPair();
  readonly password = Buffer.from(nacl.randomBytes(18)).toString('base64url');
  readonly user = phoneBrokerUser(crypto, this.kp.publicKey);
  constructor(private readonly relayPublic: Uint8Array) {}
  request(grant: Uint8Array, as: nacl.BoxKeyPair = this.kp): Uint8Array {
    return makeEnrollRequest({ crypto, phonePublicKey: as.publicKey, phoneRelayKey: crypto.boxBefore(this.relayPublic, as.secretKey), grant, password: this.password, nonce: nacl.randomBytes(24) });
  }
}

async function post(w: World, route: 'enroll' | 'revoke', body: Uint8Array): Promise<{ status: number; body: { ok?: boolean; user?: string; error?: string } }> {
  const r = await fetch(`${w.url}/v1/${route}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  return { status: r.status, body: (await r.json()) as { ok?: boolean; user?: string; error?: string } };
}

/** Collects messages of a client per topic. */
function inbox(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
  return got;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

rt('a paired phone enrolls with its toy\'s grant and reaches only that toy; bad grants are refused; revoke disconnects it at once; the old grant never works again', async (t) => {
  const w = await world({ global: [100, 50], perSource: [100, 50], perPhone: [20, 10], perToy: [20, 10] });
  const open: MqttClient[] = [];
  try {
    const A = new Toy(w.toys[0]!, w.relayPublic);
    const B = new Toy(w.toys[1]!, w.relayPublic);
    const phone = new Phone(w.relayPublic);

    // nobody created the phone's account: it cannot connect before enrolling
    t.is(await w.rig.connect(phone.user, phone.password), 'refused:5');
    const grant = A.notice('grant', phone.kp.publicKey);
    const ok = await post(w, 'enroll', phone.request(grant));
    t.is(ok.status, 200, JSON.stringify(ok.body));
    t.is(ok.body.user, phone.user);

    const toyA = await w.rig.connect(A.id.mqttUser, A.id.mqttPassword);
    const ph = await w.rig.connect(phone.user, phone.password, { clean: false });
    if (!isClient(toyA) || !isClient(ph)) return t.fail(`connect: ${String(toyA)} ${String(ph)}`);
    open.push(toyA, ph);
    const toyGot = inbox(toyA);
    const phoneGot = inbox(ph);
    await toyA.subscribeAsync(`pp/t/${A.id.toyId}/in`, { qos: 1 });
    await ph.subscribeAsync([`pp/t/${A.id.toyId}/out`, `pp/t/${B.id.toyId}/out`, 'pp/t/+/out', '#'], { qos: 1 });
    const toyB = await w.rig.connect(B.id.mqttUser, B.id.mqttPassword);
    if (!isClient(toyB)) return t.fail(String(toyB));
    open.push(toyB);
    const toyBGot = inbox(toyB);
    await toyB.subscribeAsync(`pp/t/${B.id.toyId}/in`, { qos: 1 });
    await toyB.publishAsync(`pp/t/${B.id.toyId}/out`, 'b-secret', { qos: 1 });
    await ph.publishAsync(`pp/t/${B.id.toyId}/in`, 'into-b', { qos: 1 });
    await ph.publishAsync(`pp/t/${A.id.toyId}/out`, 'forged-as-toy', { qos: 1 });
    await toyA.publishAsync(`pp/t/${A.id.toyId}/out`, 'a1', { qos: 1 });
    await ph.publishAsync(`pp/t/${A.id.toyId}/in`, 'p1', { qos: 1 });
    await waitFor(() => phoneGot.length >= 1 && toyGot.length >= 1, 5000, 'delivery');
    await sleep(300);
    t.deepEqual(phoneGot, [`pp/t/${A.id.toyId}/out a1`], 'the phone reads its toy only (no B, no own forgery)');
    t.deepEqual(toyGot, [`pp/t/${A.id.toyId}/in p1`]);
    t.deepEqual(toyBGot, [], 'toy B got nothing from the phone');

    // forged: made with toy B's key, naming toy A
    const thief = new Phone(w.relayPublic);
    const forgedKey = crypto.boxBefore(w.relayPublic, B.id.secretKey);
    const forged = makeNotice({ crypto, kind: 'grant', toyId: A.id.toyId, toyRelayKey: forgedKey, phonePublicKey: thief.kp.publicKey, seq: 99, nonce: nacl.randomBytes(24) });
    t.deepEqual((await post(w, 'enroll', thief.request(forged))).body, { error: 'FORGED' });
    // a genuine grant of toy B relabelled as toy A
    const bGrant = B.notice('grant', thief.kp.publicKey);
    const relabelled = bGrant.slice();
    relabelled.set(Buffer.from(A.id.toyId, 'hex'), 2);
    t.deepEqual((await post(w, 'enroll', thief.request(relabelled))).body, { error: 'FORGED' });
    // the phone's grant, stolen and presented with the thief's own key
    t.deepEqual((await post(w, 'enroll', thief.request(A.notice('grant', phone.kp.publicKey)))).body, { error: 'WRONG_PHONE' });
    // a toy that is not on this relay
    const stranger = nacl.box.keyPair();
    const unknown = makeNotice({ crypto, kind: 'grant', toyId: 'ab'.repeat(16), toyRelayKey: crypto.boxBefore(w.relayPublic, stranger.secretKey), phonePublicKey: thief.kp.publicKey, seq: 1, nonce: nacl.randomBytes(24) });
    t.deepEqual((await post(w, 'enroll', thief.request(unknown))).body, { error: 'UNKNOWN_TOY' });
    // a revoke notice is not a grant
    t.deepEqual((await post(w, 'enroll', thief.request(A.notice('revoke', thief.kp.publicKey)))).body, { error: 'KIND' });
    t.is(await w.rig.connect(thief.user, thief.password), 'refused:5', 'no account was created for any of them');
    // the same grant again
    const replay = await post(w, 'enroll', phone.request(grant));
    t.is(replay.status, 409);
    t.is(replay.body.error, 'REPLAY');
    // garbage and oversize bodies
    t.is((await post(w, 'enroll', new Uint8Array(10))).body.error, 'FORMAT');
    t.is((await post(w, 'enroll', new Uint8Array(5000))).status, 413);

    // removal: the toy's revoke notice disconnects the phone while it is connected
    let closed = false;
    ph.on('close', () => (closed = true));
    const rv = await post(w, 'revoke', A.notice('revoke', phone.kp.publicKey));
    t.is(rv.status, 200, JSON.stringify(rv.body));
    await waitFor(() => closed, 5000, 'the broker disconnects the removed phone');
    t.is(await w.rig.connect(phone.user, phone.password), 'refused:5', 'its account is gone');
    await toyA.publishAsync(`pp/t/${A.id.toyId}/out`, 'after-removal', { qos: 1 });
    // replayed after removal: the old grant, in a fresh request
    const again = await post(w, 'enroll', phone.request(grant));
    t.is(again.body.error, 'REPLAY');
    t.is(await w.rig.connect(phone.user, phone.password), 'refused:5');
    // a replayed revoke cannot remove a later enrollment either
    const oldRevoke = A.notice('revoke', phone.kp.publicKey, 1);
    t.is((await post(w, 'revoke', oldRevoke)).body.error, 'REPLAY');

    // paired again: a new grant works, and the phone never sees what was sent while it was removed
    const regrant = await post(w, 'enroll', phone.request(A.notice('grant', phone.kp.publicKey)));
    t.is(regrant.status, 200);
    const ph2 = await w.rig.connect(phone.user, phone.password, { clean: false });
    if (!isClient(ph2)) return t.fail(String(ph2));
    open.push(ph2);
    const got2 = inbox(ph2);
    await ph2.subscribeAsync(`pp/t/${A.id.toyId}/out`, { qos: 1 });
    await toyA.publishAsync(`pp/t/${A.id.toyId}/out`, 'a2', { qos: 1 });
    await waitFor(() => got2.length >= 1, 5000, 'a2');
    await sleep(200);
    t.deepEqual(got2, [`pp/t/${A.id.toyId}/out a2`]);

    // two toys, one phone: revoking one keeps the other (role removed, account kept)
    const bg = await post(w, 'enroll', phone.request(B.notice('grant', phone.kp.publicKey)));
    t.is(bg.status, 200);
    const c = await w.dynsec.getClient(phone.user);
    t.deepEqual(c?.roles.sort(), [`pp-toy-${A.id.toyId}`, `pp-toy-${B.id.toyId}`].sort());
    t.is((await post(w, 'revoke', B.notice('revoke', phone.kp.publicKey))).status, 200);
    t.deepEqual((await w.dynsec.getClient(phone.user))?.roles, [`pp-toy-${A.id.toyId}`]);

    // store and forward across a broker restart, for the enrolled phone
    ph2.end(true);
    await sleep(200);
    for (const m of ['q1', 'q2', 'q3']) await toyA.publishAsync(`pp/t/${A.id.toyId}/out`, m, { qos: 1 });
    toyA.end(true);
    toyB.end(true);
    await w.rig.stop();
    await w.rig.start();
    const ph3 = await w.rig.connect(phone.user, phone.password, { clean: false });
    if (!isClient(ph3)) return t.fail(`after restart: ${String(ph3)}`);
    open.push(ph3);
    const got3 = inbox(ph3);
    await waitFor(() => got3.length >= 3, 8000, 'queued chunks after the restart');
    await sleep(200);
    t.deepEqual(got3, ['q1', 'q2', 'q3'].map((m) => `pp/t/${A.id.toyId}/out ${m}`));
    t.is(w.service.counters.get('enroll.ok'), 3);
    t.true(w.service.counters.get('enroll.err.REPLAY') >= 2);
  } finally {
    for (const c of open) c.end(true);
    await dispose(w);
  }
});

rt('a flood of enrollments is rate-limited before any crypto (only one burst gets through); a genuine phone still enrolls later', async (t) => {
  let now = 1_000_000;
  const w = await world(undefined);
  // the default limits, on a clock the test moves
  const service = new EnrollmentService({
    relaySecretKey: readRelayKey(w.rig.files.relayKey), toyPublicKey: registryLookup(w.rig.files.registry), dynsec: w.dynsec,
    statePath: w.rig.files.enrollState + '.flood', now: () => now,
  });
  try {
    const A = new Toy(w.toys[0]!, w.relayPublic);
    const results = await Promise.all(Array.from({ length: 200 }, () => {
      const p = new Phone(w.relayPublic);
      const body = p.request(A.notice('grant', p.kp.publicKey));
      return service.enroll(body, '10.0.0.9').then(() => 'ok', (e: { code?: string }) => e.code ?? 'other');
    }));
    const count = (c: string) => results.filter((r) => r === c).length;
    t.is(count('RATE_LIMITED'), 190, JSON.stringify(results.slice(0, 12)));
    t.is(count('ok'), 10, 'the burst of one source');
    t.is(service.counters.get('enroll.err.RATE_LIMITED'), 190);
    // other sources share the global bucket (20 burst): 10 more, then refused
    const others = await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const p = new Phone(w.relayPublic);
      return service.enroll(p.request(A.notice('grant', p.kp.publicKey)), `10.1.0.${i}`).then(() => 'ok', (e: { code?: string }) => e.code ?? 'other');
    }));
    t.is(others.filter((r) => r === 'ok').length, 0, 'global bucket exhausted');
    // a minute later a genuine phone of toy B enrolls (per-toy and global buckets refilled)
    now += 60_000;
    const B = new Toy(w.toys[1]!, w.relayPublic);
    const phone = new Phone(w.relayPublic);
    const r = await service.enroll(phone.request(B.notice('grant', phone.kp.publicKey)), '10.2.0.1');
    t.is(r.user, phone.user);
    t.true(isClient(await w.rig.connect(phone.user, phone.password).then((c) => (isClient(c) && c.end(true), c))));
  } finally {
    await dispose(w);
  }
});

rt('the operator\'s enrollment service (`relay enroll-serve`, HTTPS with the relay certificate) enrolls a phone, which then connects', async (t) => {
  const w = await world();
  const { spawn } = await import('node:child_process');
  const https = await import('node:https');
  const path = await import('node:path');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const port = await freePort();
  const proc = track(spawn(process.execPath, ['--import', 'tsx', path.join(root, 'relay/relay-cli.ts'), 'enroll-serve', '--conf-dir', w.rig.paths.confDir,
    '--listen-port', String(port), '--listen-host', '127.0.0.1', '--broker-host', RIG_HOST], { stdio: ['ignore', 'pipe', 'pipe'], cwd: root }));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => out.includes('enrollment service on') || proc.exitCode !== null, 30000, 'enroll-serve up');
    t.regex(out, /enrollment service on/);
    const A = new Toy(w.toys[0]!, w.relayPublic);
    const phone = new Phone(w.relayPublic);
    const body = phone.request(A.notice('grant', phone.kp.publicKey));
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/v1/enroll', method: 'POST', ca: w.rig.ca, servername: RIG_HOST, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(Buffer.from(body));
    });
    t.is(answer.status, 200, answer.text);
    t.is(JSON.parse(answer.text).user, phone.user);
    const c = await w.rig.connect(phone.user, phone.password);
    t.true(isClient(c), String(c));
    if (isClient(c)) c.end(true);
    t.regex(out, /enroll\.ok toy=[0-9a-f]{8} user=ph-/);
    t.false(out.includes(phone.password), 'the password is never printed');
    // the plugin rewrote its file: owner and mode still as status wants them, the phone counted
    const st = await relayInProcess(['status', '--conf-dir', w.rig.paths.confDir, '--host', RIG_HOST]);
    t.is(st.status, 0, st.stdout);
    t.regex(st.stdout, /1 phones enrolled/);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    await dispose(w);
  }
});

rt('a toy delivers its grant and its revoke itself on its ctl topic: the phone enrolls without carrying a grant, and is cut off when the toy removes it', async (t) => {
  const w = await world({ global: [100, 50], perSource: [100, 50], perPhone: [20, 10], perToy: [20, 10] });
  const open: MqttClient[] = [];
  const outcomes: string[] = [];
  await w.dynsec.onNotices((toyId, payload) => void w.service.notice(toyId, payload).then((r) => outcomes.push(r)));
  try {
    const A = new Toy(w.toys[0]!, w.relayPublic);
    const B = new Toy(w.toys[1]!, w.relayPublic);
    const phone = new Phone(w.relayPublic);
    const noGrant = new Uint8Array(0);
    const toyA = await w.rig.connect(A.id.mqttUser, A.id.mqttPassword);
    const toyB = await w.rig.connect(B.id.mqttUser, B.id.mqttPassword);
    if (!isClient(toyA) || !isClient(toyB)) return t.fail('toys connect');
    open.push(toyA, toyB);

    // before the toy says anything, a grant-less request gets nothing
    t.deepEqual((await post(w, 'enroll', phone.request(noGrant))).body, { error: 'NO_GRANT' });
    // toy B cannot speak for toy A: its publish on A's ctl topic is dropped by the broker
    await toyB.publishAsync(`pp/t/${A.id.toyId}/ctl`, Buffer.from(B.notice('grant', phone.kp.publicKey)), { qos: 1 });
    // and a notice of B's relabelled as A's, on B's own topic, does not open
    const relabelled = B.notice('grant', phone.kp.publicKey);
    relabelled.set(Buffer.from(A.id.toyId, 'hex'), 2);
    await toyB.publishAsync(`pp/t/${B.id.toyId}/ctl`, Buffer.from(relabelled), { qos: 1 });
    await waitFor(() => outcomes.length >= 1, 5000, 'the relabelled notice');
    await sleep(300);
    t.deepEqual(outcomes, ['FORGED'], 'only the notice on B\'s own topic reached the service');

    // toy A delivers the grant for the phone it just paired
    await toyA.publishAsync(`pp/t/${A.id.toyId}/ctl`, Buffer.from(A.notice('grant', phone.kp.publicKey)), { qos: 1 });
    await waitFor(() => outcomes.length >= 2, 5000, 'grant notice');
    t.is(outcomes[1], 'pending');
    const ok = await post(w, 'enroll', phone.request(noGrant));
    t.is(ok.status, 200, JSON.stringify(ok.body));
    t.is(ok.body.user, phone.user);
    // a thief with its own key finds no grant for it
    const thief = new Phone(w.relayPublic);
    t.deepEqual((await post(w, 'enroll', thief.request(noGrant))).body, { error: 'NO_GRANT' });

    const ph = await w.rig.connect(phone.user, phone.password);
    if (!isClient(ph)) return t.fail(String(ph));
    open.push(ph);
    const got = inbox(ph);
    await ph.subscribeAsync(`pp/t/${A.id.toyId}/out`, { qos: 1 });
    await toyA.publishAsync(`pp/t/${A.id.toyId}/out`, 'hello', { qos: 1 });
    await waitFor(() => got.length === 1, 5000, 'delivery');

    // the toy removes the member and says so itself: the phone is disconnected at once
    let closed = false;
    ph.on('close', () => (closed = true));
    await toyA.publishAsync(`pp/t/${A.id.toyId}/ctl`, Buffer.from(A.notice('revoke', phone.kp.publicKey)), { qos: 1 });
    await waitFor(() => closed, 5000, 'disconnect on the toy\'s revoke');
    await waitFor(() => outcomes.length >= 3, 5000, 'revoke outcome');
    t.is(outcomes[2], 'revoked');
    t.is(await w.rig.connect(phone.user, phone.password), 'refused:5');
    // the used grant does not come back
    t.deepEqual((await post(w, 'enroll', phone.request(noGrant))).body, { error: 'NO_GRANT' });
    t.is(w.service.counters.get('notice.err.FORGED'), 1);
  } finally {
    for (const c of open) c.end(true);
    await dispose(w);
  }
});
