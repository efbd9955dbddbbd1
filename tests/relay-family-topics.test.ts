/**
 * The family topics (issue 15) against the real broker set up as an operator does
 * (`relay init`, mosquitto as its own user, TLS, the dynamic security plugin, phones
 * enrolled by the enrollment service with a toy-made grant): a toy's retained status
 * and its last will are written only by that toy and read only by its family; its
 * sealed notes (/fam) reach only its family; settings (/set) reach the toy only from
 * its family. Skips with one line when not root or mosquitto or the plugin is missing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import type { MqttClient } from 'mqtt';
import nacl from 'tweetnacl';
import { naclCrypto as crypto } from '../src/nacl-crypto.js';
import { makeEnrollRequest, makeNotice, phoneBrokerUser } from '../src/enrollment-grant.js';
import { encodeStatus, decodeStatus, familyTopics } from '../src/family-note.js';
import { DynsecClient } from '../relay/dynsec-client.js';
import { EnrollmentService } from '../relay/enrollment-service.js';
import { readRelayKey, registryLookup } from '../relay/relay-cli.js';
import { RelayRig, RIG_HOST, relayInProcess, relayRigUnavailable } from './relay-rig.js';

const why = relayRigUnavailable();
const rt = why ? test.skip : test.serial;
if (why) test('relay family topic tests skipped: ' + why, (t) => t.pass());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isClient = (c: MqttClient | string): c is MqttClient => typeof c !== 'string';

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

function collect(c: MqttClient): { topic: string; payload: Buffer; retain: boolean }[] {
  const got: { topic: string; payload: Buffer; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  return got;
}

/** The relay as an operator runs it (`add-batch` of `toys` new toys, mosquitto started), its dynsec admin client and an enrollment service. */
async function startedRelay(rig: RelayRig, toys: number) {
  const batch = await rig.provision(toys);
  const r = await relayInProcess(['add-batch', batch.dir, '--conf-dir', rig.paths.confDir]);
  if (r.status !== 0) throw new Error(r.stderr);
  await rig.start();
  const f = rig.files;
  const [admin, adminPass] = fs.readFileSync(f.adminSecret, 'utf8').trim().split(' ') as [string, string];
  const dynsec = await DynsecClient.connect({ host: '127.0.0.1', port: rig.port, servername: RIG_HOST, ca: rig.ca, username: admin, password: adminPass });
  const relayPublic = new Uint8Array(Buffer.from(fs.readFileSync(f.relayPub, 'utf8').trim().split(' ')[1]!, 'hex'));
  const service = new EnrollmentService({ relaySecretKey: readRelayKey(f.relayKey), toyPublicKey: registryLookup(f.registry), dynsec, statePath: f.enrollState });
  return { batch, dynsec, relayPublic, service };
}

rt('family topics on mosquitto: only the toy writes its status (retained, last will) and its notes; only its family reads them; only its family writes its settings', async (t) => {
  const rig = await RelayRig.init();
  const open: MqttClient[] = [];
  let dynsec: DynsecClient | undefined;
  try {
    const started = await startedRelay(rig, 2);
    dynsec = started.dynsec;
    const { batch, relayPublic, service } = started;
    const [A, B] = batch.toys as [typeof batch.toys[0], typeof batch.toys[0]];
    // one phone enrolled for toy A, one for toy B, through the toys' own grants
    const enroll = async (toy: typeof A) => {
      const kp = nacl.box.keyPair();
      const password = Buffer.from(nacl.randomBytes(18)).toString('base64url');
      const grant = makeNotice({ crypto, kind: 'grant', toyId: toy.toyId, toyRelayKey: crypto.boxBefore(relayPublic, toy.secretKey), phonePublicKey: kp.publicKey, seq: 1, nonce: nacl.randomBytes(24) });
      const req = makeEnrollRequest({ crypto, phonePublicKey: kp.publicKey, phoneRelayKey: crypto.boxBefore(relayPublic, kp.secretKey), grant, password, nonce: nacl.randomBytes(24) });
      await service.enroll(req, '127.0.0.1');
      return { user: phoneBrokerUser(crypto, kp.publicKey), password };
    };
    const phoneA = await enroll(A);
    const phoneB = await enroll(B);
    const FA = familyTopics(A.toyId);
    const FB = familyTopics(B.toyId);

    // toy A online: a retained "offline" last will and a retained "online" record
    const since = Date.now();
    const toyA = await rig.connect(A.mqttUser, A.mqttPassword, { clean: false, will: { topic: FA.status, payload: Buffer.from(encodeStatus(false, since)), qos: 1, retain: true } });
    if (!isClient(toyA)) return t.fail(`toy A: ${toyA}`);
    open.push(toyA);
    const toyAGot = collect(toyA);
    await toyA.subscribeAsync(FA.set, { qos: 1 });
    await toyA.publishAsync(FA.status, Buffer.from(encodeStatus(true, since)), { qos: 0, retain: true });

    const pa = await rig.connect(phoneA.user, phoneA.password, { clean: false });
    const pb = await rig.connect(phoneB.user, phoneB.password, { clean: false });
    const toyB = await rig.connect(B.mqttUser, B.mqttPassword);
    if (!isClient(pa) || !isClient(pb) || !isClient(toyB)) return t.fail(`connect: ${String(pa)} ${String(pb)} ${String(toyB)}`);
    open.push(pa, pb, toyB);
    const aGot = collect(pa);
    const bGot = collect(pb);
    const grantedA = await pa.subscribeAsync([FA.status, FA.fam], { qos: 1 });
    const grantedB = await pb.subscribeAsync([FA.status, FA.fam], { qos: 1 });
    t.deepEqual(grantedA.map((g) => g.qos), [1, 1], 'the family may read the status and the notes');
    // (mosquitto's acl_file grants every SUBSCRIBE and filters each delivery by the read rule: B's phone gets nothing, below)
    t.is(grantedB.length, 2);
    await waitFor(() => aGot.some((m) => m.topic === FA.status), 5000, 'retained status');
    const st = aGot.find((m) => m.topic === FA.status)!;
    t.true(st.retain);
    t.deepEqual(decodeStatus(new Uint8Array(st.payload)), { online: true, sinceMs: Math.floor(since / 1000) * 1000 });

    // nobody else writes the status: the family's phone, another family's phone, another toy
    await pa.publishAsync(FA.status, Buffer.from(encodeStatus(false, 1)), { qos: 1, retain: true });
    await pb.publishAsync(FA.status, Buffer.from(encodeStatus(false, 2)), { qos: 1, retain: true });
    await toyB.publishAsync(FA.status, Buffer.from(encodeStatus(false, 3)), { qos: 1, retain: true });
    // notes: only the toy writes /fam; settings: only its family writes /set
    await toyA.publishAsync(FA.fam, Buffer.from('sealed-note'), { qos: 1 });
    await pa.publishAsync(FA.fam, Buffer.from('forged-note'), { qos: 1 });
    await toyB.publishAsync(FA.fam, Buffer.from('toy-b-note'), { qos: 1 });
    await pa.publishAsync(FA.set, Buffer.from('settings-from-family'), { qos: 1 });
    await pb.publishAsync(FA.set, Buffer.from('settings-from-stranger'), { qos: 1 });
    await toyB.publishAsync(FA.set, Buffer.from('settings-from-toy-b'), { qos: 1 });
    await waitFor(() => aGot.some((m) => m.topic === FA.fam) && toyAGot.length >= 1, 5000, 'note and settings');
    await sleep(400);
    t.deepEqual(aGot.filter((m) => m.topic === FA.status).map((m) => decodeStatus(new Uint8Array(m.payload)).online), [true], 'no forged status reached the family');
    t.deepEqual(aGot.filter((m) => m.topic === FA.fam).map((m) => m.payload.toString()), ['sealed-note']);
    t.deepEqual(toyAGot.map((m) => m.payload.toString()), ['settings-from-family']);
    t.deepEqual(bGot, [], 'the other family got nothing');
    // a late subscriber still reads "online": the forgeries did not replace the retained record
    const pa2 = await rig.connect(phoneA.user, phoneA.password, { clientId: undefined, clean: true });
    if (isClient(pa2)) {
      open.push(pa2);
      // (use_username_as_clientid: this replaces pa's connection; the retained record is what counts)
      const late = collect(pa2);
      await pa2.subscribeAsync(FA.status, { qos: 1 });
      await waitFor(() => late.length >= 1, 5000, 'late retained');
      t.true(decodeStatus(new Uint8Array(late[0]!.payload)).online);
      // toy A's link dies: the broker publishes its last will, retained
      toyA.stream.destroy();
      await waitFor(() => late.length >= 2, 10000, 'last will');
      t.deepEqual(decodeStatus(new Uint8Array(late[1]!.payload)), { online: false, sinceMs: Math.floor(since / 1000) * 1000 });
    } else t.fail(String(pa2));
    // toy B's own status is its own to write
    await toyB.publishAsync(FB.status, Buffer.from(encodeStatus(true, since)), { qos: 1, retain: true });
    t.pass();
  } finally {
    for (const c of open) c.end(true);
    await dynsec?.end();
    await rig.dispose();
  }
});

rt('a role made by an older relay gets the family topics when the enrollment service starts (upgradeRoles), once', async (t) => {
  const rig = await RelayRig.init();
  const open: MqttClient[] = [];
  let dynsec: DynsecClient | undefined;
  try {
    const started = await startedRelay(rig, 1);
    dynsec = started.dynsec;
    const { batch, relayPublic, service } = started;
    const A = batch.toys[0]!;
    const kp = nacl.box.keyPair();
    const password = Buffer.from(nacl.randomBytes(18)).toString('base64url');
    const grant = makeNotice({ crypto, kind: 'grant', toyId: A.toyId, toyRelayKey: crypto.boxBefore(relayPublic, A.secretKey), phonePublicKey: kp.publicKey, seq: 1, nonce: nacl.randomBytes(24) });
    await service.enroll(makeEnrollRequest({ crypto, phonePublicKey: kp.publicKey, phoneRelayKey: crypto.boxBefore(relayPublic, kp.secretKey), grant, password, nonce: nacl.randomBytes(24) }), '127.0.0.1');
    const user = phoneBrokerUser(crypto, kp.publicKey);
    const FA = familyTopics(A.toyId);
    // the role as a relay before issue 15 made it: /out and /in only
    const role = `pp-toy-${A.toyId}`;
    const added15: [string, string][] = [
      ['subscribeLiteral', FA.fam], ['publishClientReceive', FA.fam], ['subscribeLiteral', FA.status],
      ['publishClientReceive', FA.status], ['publishClientSend', FA.set],
    ];
    for (const [acltype, topic] of added15) await dynsec.run({ command: 'removeRoleACL', rolename: role, acltype, topic });

    const toy = await rig.connect(A.mqttUser, A.mqttPassword, { clean: false });
    if (!isClient(toy)) return t.fail(`toy: ${toy}`);
    open.push(toy);
    const toyGot = collect(toy);
    await toy.subscribeAsync(FA.set, { qos: 1 });
    const settingsFromPhone = async (what: string) => {
      const phone = await rig.connect(user, password, { clean: true });
      if (!isClient(phone)) throw new Error(`phone: ${phone}`);
      open.push(phone);
      await phone.publishAsync(FA.set, Buffer.from(what), { qos: 1 });
      phone.end(true);
    };
    await settingsFromPhone('before-upgrade');
    await sleep(400);
    t.deepEqual(toyGot.map((m) => m.payload.toString()), [], 'the old role cannot write /set');

    t.deepEqual(await service.upgradeRoles(), { roles: 1, added: added15.length });
    t.deepEqual(await service.upgradeRoles(), { roles: 1, added: 0 }, 'a second start adds nothing');
    await settingsFromPhone('after-upgrade');
    await waitFor(() => toyGot.length >= 1, 5000, 'settings after the upgrade');
    t.deepEqual(toyGot.map((m) => m.payload.toString()), ['after-upgrade']);
    t.is(service.counters.get('enroll.acls_added'), added15.length);
  } finally {
    for (const c of open) c.end(true);
    await dynsec?.end();
    await rig.dispose();
  }
});
