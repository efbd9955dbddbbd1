/**
 * sim/embedded-broker.ts (aedes, for `npm start`) applies the same rules as the
 * Mosquitto configuration: passwords from Mosquitto hashes, client id = username,
 * a toy only on its own topics, a phone only on its paired toys; delivery both ways.
 */
import test from 'ava';
import { aclAllows, mosquittoHash, startEmbeddedBroker, toyTopics, verifyMosquittoHash } from '../sim/embedded-broker.js';
import { familyTopics } from '../src/family-note.js';
import { Device, makeAccounts, sleep, waitFor } from './mqtt-node-helpers.js';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasMosquitto } from './mqtt-node-helpers.js';

const chunk = (i: number) => new Uint8Array(1500).map((_, j) => (i * 7 + j) & 255);

test('password hashes: ours verify, wrong passwords do not, and mosquitto_passwd lines verify', (t) => {
  const h = mosquittoHash('correct horse');
  t.true(verifyMosquittoHash(new TextEncoder().encode('correct horse'), h));
  t.false(verifyMosquittoHash(new TextEncoder().encode('correct hors'), h));
  t.false(verifyMosquittoHash(new TextEncoder().encode('x'), '$7$abc$$'));
  if (hasMosquitto()) {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pp-pw-')), 'pw');
    execFileSync('mosquitto_passwd', ['-b', '-c', f, 'user1', 'pass-1']);
    const line = fs.readFileSync(f, 'utf8').trim();
    t.true(verifyMosquittoHash(new TextEncoder().encode('pass-1'), line.slice(line.indexOf(':') + 1)));
    fs.rmSync(path.dirname(f), { recursive: true });
  }
});

test('the ACL rule', (t) => {
  const { a, b, phone, registry } = makeAccounts();
  const A = toyTopics(a.id);
  const B = toyTopics(b.id);
  t.true(aclAllows(registry, a.id, 'write', A.out));
  t.true(aclAllows(registry, a.id, 'read', A.in));
  t.false(aclAllows(registry, a.id, 'read', A.out));
  t.false(aclAllows(registry, a.id, 'write', A.in));
  t.false(aclAllows(registry, b.id, 'read', A.in));
  t.false(aclAllows(registry, b.id, 'write', A.out));
  t.false(aclAllows(registry, b.id, 'read', 'pp/t/+/in'));
  t.true(aclAllows(registry, phone.id, 'read', A.out));
  t.true(aclAllows(registry, phone.id, 'write', A.in));
  t.false(aclAllows(registry, phone.id, 'read', B.out));
  t.false(aclAllows(registry, phone.id, 'write', B.in));
  t.false(aclAllows(registry, phone.id, 'read', 'pp/t/#'));
  t.false(aclAllows(registry, 'ph-unknown', 'read', A.out));
});

test('the ACL rule of the family topics (issue 15): the toy writes its /fam and /status and reads /set; its family the other way round; nobody else', (t) => {
  const { a, b, phone, registry } = makeAccounts();
  const F = familyTopics(a.id);
  const G = familyTopics(b.id);
  t.true(aclAllows(registry, a.id, 'write', F.fam));
  t.true(aclAllows(registry, a.id, 'write', F.status));
  t.true(aclAllows(registry, a.id, 'read', F.set));
  t.false(aclAllows(registry, a.id, 'write', F.set));
  t.false(aclAllows(registry, a.id, 'read', F.status));
  t.false(aclAllows(registry, b.id, 'write', F.status), 'another toy cannot write this toy\'s status');
  t.false(aclAllows(registry, b.id, 'read', F.fam));
  t.true(aclAllows(registry, phone.id, 'read', F.fam));
  t.true(aclAllows(registry, phone.id, 'read', F.status));
  t.true(aclAllows(registry, phone.id, 'write', F.set));
  t.false(aclAllows(registry, phone.id, 'write', F.status), 'a phone cannot fake the toy\'s status');
  t.false(aclAllows(registry, phone.id, 'write', F.fam));
  t.false(aclAllows(registry, phone.id, 'read', G.status), 'another family\'s toy status is not readable');
  t.false(aclAllows(registry, phone.id, 'write', G.set));
});

test.serial('aedes with the PawPost rules: delivery both ways and refusals', async (t) => {
  const { a, b, phone, registry } = makeAccounts();
  const broker = await startEmbeddedBroker({ port: 0, registry });
  const A = toyTopics(a.id);
  const devices: Device[] = [];
  const dev = (user: string, password: string, subs: string[]) => {
    const d = new Device({ user, password, port: broker.port, subscriptions: subs });
    devices.push(d);
    d.session.start();
    return d;
  };
  try {
    const toy = dev(a.id, a.pw, [A.in]);
    const ph = dev(phone.id, phone.pw, [A.out]);
    await waitFor(() => toy.session.state === 'online' && ph.session.state === 'online', 10000, 'online');
    ph.session.send(A.in, chunk(1));
    toy.session.send(A.out, chunk(2));
    await waitFor(() => toy.received.length === 1 && ph.received.length === 1, 10000, 'delivery');
    t.deepEqual(toy.received[0], chunk(1));
    t.deepEqual(ph.received[0], chunk(2));

    const spy = dev(b.id, b.pw, [A.in]);
    await waitFor(() => spy.errors.some((e) => e.code === 'SUB_REFUSED'), 10000, 'SUB_REFUSED');
    t.true(broker.refused.subscribe >= 1);
    spy.session.close();

    const liar = dev(a.id, 'wrong', [A.in]);
    await waitFor(() => liar.errors.some((e) => e.code === 'REFUSED'), 10000, 'REFUSED');
    t.is(liar.errors.find((e) => e.code === 'REFUSED')!.detail, 4);
    liar.session.close();

    const forger = dev(b.id, b.pw, [toyTopics(b.id).in]);
    await waitFor(() => forger.session.state === 'online', 10000, 'forger online');
    forger.session.send(A.out, chunk(9));
    await waitFor(() => broker.refused.publish >= 1, 10000, 'publish refused');
    await sleep(200);
    t.is(ph.received.length, 1, 'the forged chunk did not reach the phone');
    forger.session.close();
  } finally {
    for (const d of devices) d.session.close();
    await broker.close();
  }
});
