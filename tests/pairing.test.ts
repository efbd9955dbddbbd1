import test from 'ava';
import { naclCrypto } from '../src/nacl-crypto.js';
import { loadNetworkSettings, NETWORK_SETTINGS_KEY } from '../src/network-settings.js';
import { LOCKOUT_KEY } from '../src/pairing-lockout.js';
import {
  CHR_INFO,
  CHR_PAIR,
  CHR_SESSION,
  HANDSHAKE_TIMEOUT_MS,
  LOCKOUT_MS,
  MAX_WRITE_BYTES,
  PAIRING_WINDOW_MS,
  PROTOCOL_VERSION,
  PairingError,
  decodeWireError,
} from '../src/pairing-protocol.js';
import { PhonePairing, pairWithToy } from '../phone/phone-pairing.js';
import { ROSTER_KEY } from '../src/roster.js';
import { factoryReset } from '../src/factory-reset.js';
import { NETWORK, PairingRig } from './pairing-rig.js';

const code = (e: unknown) => (e as { code?: string }).code;
const toyCode = (e: unknown) => (e as { toyCode?: string }).toyCode;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

test('pairing with the right secret registers the phone, stores the network settings and ends "paired"', async (t) => {
  const rig = new PairingRig();
  t.is(rig.radio.advertising, undefined, 'silent before the local press');
  t.is(rig.svc.enterPairingMode(), 'OK');
  t.is(rig.radio.advertising, 'PawPost');
  t.is(rig.svc.status(), 'pairing');
  const { central, result } = await rig.pair(1, { network: NETWORK });
  t.is(result.toyId, rig.identity.toyId);
  t.deepEqual(result.toyPublicKey, rig.identity.publicKey);
  t.is(result.info.model, 'PawPost PP-1');
  t.is(result.info.securityUpdatesUntil, '2031-12-31');
  t.is(result.members, 1);
  const m = rig.roster.get('phone1')!;
  t.truthy(m);
  t.is(m.name, 'Parent 1');
  t.deepEqual(m.publicKey, rig.phoneKeys(1).publicKey);
  // Both sides computed the same static shared key (the envelope key), once, here.
  t.deepEqual(m.sharedKey, result.sharedKey);
  t.deepEqual(m.sharedKey, naclCrypto.boxBefore(rig.phoneKeys(1).publicKey, rig.identity.secretKey));
  t.deepEqual(loadNetworkSettings(rig.storage), NETWORK);
  t.deepEqual(rig.endedResults(), ['paired']);
  t.is(rig.svc.status(), 'idle');
  t.is(rig.radio.advertising, undefined);
  t.false(central.connected, 'the toy drops the phone after DONE');
  t.is(rig.svc.lockout.failures, 0);
  t.true(rig.events.some((e) => e.kind === 'member-added') && rig.events.some((e) => e.kind === 'network-changed'));
});

test('nothing but the ephemeral keys travels in clear, and no secret reaches the log', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const { result } = await rig.pair(1, { network: NETWORK });
  const air = rig.radio.air.map((r) => hex(r.value)).join('|');
  for (const [what, v] of [
    ['setup secret', rig.identity.setupSecret],
    ['toy public key', rig.identity.publicKey],
    ['phone public key', rig.phoneKeys(1).publicKey],
    ['toy id', Buffer.from(rig.identity.toyId, 'hex')],
    ['shared key', result.sharedKey],
    ['passphrase', new TextEncoder().encode(NETWORK.passphrase)],
    ['ssid', new TextEncoder().encode(NETWORK.ssid)],
    ['member name', new TextEncoder().encode('Parent 1')],
  ] as const) {
    t.false(air.includes(hex(v)), `${what} must not be on the air`);
  }
  const log = rig.log.text();
  t.false(log.includes(NETWORK.passphrase));
  t.false(log.includes(hex(rig.identity.setupSecret)));
  t.true(log.includes('pair.authenticated'));
});

test('a wrong secret fails on the phone (TOY_AUTH), which closes the link; not counted (no proof was sent); the toy stays usable', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const e = await t.throwsAsync(rig.pair(1, { setupCode: rig.wrongCode() }));
  t.is(code(e), 'TOY_AUTH');
  t.is(rig.roster.size, 0);
  t.is(rig.svc.lockout.failures, 0);
  // The phone closed the link after the failure: the toy closes the attempt and advertises again.
  t.deepEqual(rig.radio.connections(), []);
  t.is(rig.failures(), 1);
  t.is(rig.radio.advertising, 'PawPost');
  rig.wrongProof();
  t.is(rig.svc.lockout.failures, 1, 'a failed proof counts');
  await rig.pair(2);
  t.is(rig.roster.size, 1);
  t.is(rig.svc.lockout.failures, 0, 'a success clears the count');
});

test('an attacker without the secret is refused at M3 with AUTH', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const central = rig.phone();
  t.is(central.connect(), 'OK');
  const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.wrongCode(), member: rig.phoneKeys(9) });
  central.writeNow(CHR_PAIR, p.start());
  const m2 = central.take(CHR_PAIR)!;
  t.is(m2[0], 0x02);
  // The attacker cannot check M2; it guesses an M3 of the right size.
  const fake = new Uint8Array(81);
  fake[0] = 0x03;
  fake.fill(0xab, 1);
  central.writeNow(CHR_PAIR, fake);
  t.is(decodeWireError(central.take(CHR_PAIR)!), 'AUTH');
  t.false(central.connected);
  t.is(rig.counters.get('pair.err.AUTH'), 1);
  t.is(rig.roster.size, 0);
  t.is(rig.svc.lockout.failures, 1);
  t.is(rig.radio.advertising, 'PawPost', 'advertising resumes while the window is open');
});

test('five failed proofs lock pairing; the sixth is refused, also across a restart, for 10 minutes', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  for (let i = 0; i < 5; i++) t.is(decodeWireError(rig.wrongProof().answer!), 'AUTH');
  t.deepEqual(rig.endedResults(), ['locked']);
  t.is(rig.svc.status(), 'locked');
  t.is(rig.radio.advertising, undefined);
  // Sixth attempt: pairing mode is refused (only the local gesture, enter(), clears it), a phone cannot even connect, a raced connection is dropped.
  t.is(rig.svc.enterPairingMode(), 'LOCKED');
  t.is(rig.phone().connect(), 'NOT_ADVERTISING');
  const racer = rig.phone();
  t.is(racer.connect({ race: true }), 'DROPPED');
  t.is(rig.svc.lockout.failures, 5);
  // Restart (power cycle) 5 minutes later: still locked, for a full LOCKOUT_MS from boot.
  rig.clock.advance(5 * 60_000);
  rig.boot();
  t.is(rig.svc.status(), 'locked');
  t.is(rig.svc.enterPairingMode(), 'LOCKED');
  rig.clock.advance(LOCKOUT_MS - 1000);
  t.is(rig.svc.enterPairingMode(), 'LOCKED', 'a restart never shortens the lockout');
  rig.clock.advance(1000);
  t.is(rig.svc.lockRemainingMs(), 0);
  t.is(rig.svc.enterPairingMode(), 'OK');
  await rig.pair(1);
  t.is(rig.roster.size, 1);
  t.deepEqual(rig.storage.read(LOCKOUT_KEY), Uint8Array.of(1, 0));
});

test('the wall clock jumping (SNTP) neither shortens nor extends the lockout', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  for (let i = 0; i < 5; i++) rig.wrongProof();
  rig.clock.setWall(Date.UTC(2030, 0, 1));
  t.is(rig.svc.enterPairingMode(), 'LOCKED');
  rig.clock.advance(LOCKOUT_MS);
  rig.clock.setWall(Date.UTC(2001, 0, 1));
  t.is(rig.svc.enterPairingMode(), 'OK');
});

test('nothing is accepted outside pairing mode', async (t) => {
  const rig = new PairingRig();
  const phone = rig.phone();
  t.is(phone.connect(), 'NOT_ADVERTISING');
  // Even a link that slipped in (race) is dropped at once and its writes go nowhere.
  t.is(rig.phone().connect({ race: true }), 'DROPPED');
  t.is(rig.storage.writes, 0);
  t.is(rig.counters.get('pair.err.NOT_PAIRING'), 1);
  // After the window closes, the same holds.
  t.is(rig.svc.enterPairingMode(), 'OK');
  rig.clock.advance(PAIRING_WINDOW_MS);
  t.deepEqual(rig.endedResults(), ['timeout']);
  t.is(rig.radio.advertising, undefined);
  t.is(rig.phone().connect(), 'NOT_ADVERTISING');
  t.is(rig.storage.writes, 0);
  t.is(rig.roster.size, 0);
});

test('CloudPets-style commands (record, play, LED, volume) without a session change nothing', (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const cmds: [string, Uint8Array][] = [
    ['record', Uint8Array.of(1)],
    ['play', Uint8Array.of(1)],
    ['led', Uint8Array.of(255, 0, 0)],
    ['volume', Uint8Array.of(100)],
    [CHR_SESSION, Uint8Array.of(0x10, 0, 0, 0, 1, ...new Uint8Array(40))],
    [CHR_INFO, Uint8Array.of(1, 2, 3)],
  ];
  for (const [chr, v] of cmds) {
    const phone = rig.phone();
    t.is(phone.connect(), 'OK', chr);
    phone.writeNow(chr, v);
    t.false(phone.connected, `${chr}: dropped`);
  }
  t.is(rig.storage.writes, 0, 'no storage write at all');
  t.is(rig.roster.size, 0);
  t.is(rig.counters.get('pair.err.NO_SESSION'), cmds.length);
  t.is(rig.svc.lockout.failures, 0, 'no attempt was started');
  t.is(rig.svc.status(), 'pairing', 'still usable');
});

test('a recorded pairing transcript replayed later fails and changes nothing', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  await rig.pair(1, { network: NETWORK });
  const recorded = rig.radio.air.filter((r) => r.dir === 'to-toy');
  t.true(recorded.length >= 5);
  // Wipe the toy's family (factory reset) so a successful replay would show.
  factoryReset(rig.storage);
  rig.boot();
  rig.svc.enterPairingMode();
  const attacker = rig.phone();
  t.is(attacker.connect(), 'OK');
  for (const r of recorded) {
    if (!attacker.connected) break;
    attacker.writeNow(r.characteristic, r.value);
  }
  t.is(rig.counters.get('pair.authenticated'), 0);
  t.is(rig.counters.get('pair.err.AUTH'), 1, 'the replayed M3 does not open under fresh keys');
  t.is(rig.roster.size, 0);
  t.is(rig.storage.read(ROSTER_KEY), undefined);
  t.is(rig.storage.read(NETWORK_SETTINGS_KEY), undefined);
  t.is(rig.svc.lockout.failures, 1);
});

test('garbage, oversized and out-of-order writes are typed errors and counted; the toy stays usable', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const cases: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'MALFORMED'],
    ['unknown type', Uint8Array.of(0x42, 1, 2), 'MALFORMED'],
    ['short M1', Uint8Array.of(0x01, 1, 2, 3), 'MALFORMED'],
    ['M1 bad version', Uint8Array.of(0x01, 9, ...new Uint8Array(32).fill(9)), 'MALFORMED'],
    ['M1 of protocol version 1 (a downgrade)', Uint8Array.of(0x01, 1, ...new Uint8Array(32).fill(9)), 'MALFORMED'],
    ['oversized', new Uint8Array(MAX_WRITE_BYTES + 1).fill(1), 'OVERSIZE'],
    ['M3 first', Uint8Array.of(0x03, ...new Uint8Array(80)), 'OUT_OF_ORDER'],
    ['M2 from a phone', Uint8Array.of(0x02, ...new Uint8Array(112)), 'OUT_OF_ORDER'],
    ['low-order ephemeral key', Uint8Array.of(0x01, PROTOCOL_VERSION, ...new Uint8Array(32)), 'BAD_POINT'],
  ];
  for (const [what, v, want] of cases) {
    const phone = rig.phone();
    t.is(phone.connect(), 'OK', what);
    phone.writeNow(CHR_PAIR, v);
    t.is(decodeWireError(phone.take(CHR_PAIR)!) as string | undefined, want, what);
    t.false(phone.connected, what);
    t.is(rig.counters.get(`pair.err.${want}`) > 0, true, what);
  }
  t.is(rig.svc.lockout.failures, 0, 'none of them is a failed proof');
  // M1 twice in a row: the second is out of order and ends the attempt.
  const p = rig.phone();
  p.connect();
  const pp = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  const m1 = pp.start();
  p.writeNow(CHR_PAIR, m1);
  p.writeNow(CHR_PAIR, m1);
  t.is(decodeWireError(p.received[1]!.value), 'OUT_OF_ORDER');
  t.is(rig.svc.lockout.failures, 0);
  await rig.pair(3);
  t.is(rig.roster.size, 1);
});

test('session frames out of order or tampered end the session without effect', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const phone = rig.phone();
  phone.connect();
  const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  phone.writeNow(CHR_PAIR, p.start());
  phone.writeNow(CHR_PAIR, p.handleM2(phone.take(CHR_PAIR)!));
  p.handleM4(phone.take(CHR_PAIR)!);
  const f1 = p.seal({ op: 'register', id: 'phone1', name: 'A' });
  const f2 = p.seal({ op: 'network', settings: NETWORK });
  phone.writeNow(CHR_SESSION, f2); // skips counter 1
  t.is(rig.counters.get('pair.err.OUT_OF_ORDER'), 1);
  t.false(phone.connected);
  t.is(rig.roster.size, 0);
  t.is(rig.storage.read(NETWORK_SETTINGS_KEY), undefined);
  // Tampered frame in a fresh session.
  const phone2 = rig.phone();
  t.is(phone2.connect(), 'OK');
  const q = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(2) });
  phone2.writeNow(CHR_PAIR, q.start());
  phone2.writeNow(CHR_PAIR, q.handleM2(phone2.take(CHR_PAIR)!));
  q.handleM4(phone2.take(CHR_PAIR)!);
  const g = q.seal({ op: 'register', id: 'phone2', name: 'B' });
  g[g.length - 1] ^= 1;
  phone2.writeNow(CHR_SESSION, g);
  t.is(rig.counters.get('pair.err.AUTH'), 1);
  t.is(rig.roster.size, 0);
  t.false(phone2.connected);
  t.is(f1.length > 0, true);
  // Still usable.
  await rig.pair(3);
  t.is(rig.roster.size, 1);
});

test('a second phone connecting mid-pairing is refused and the first one completes', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const first = rig.phone();
  first.connect();
  t.is(rig.radio.advertising, undefined, 'advertising stops while a phone is connected');
  t.is(rig.phone().connect(), 'NOT_ADVERTISING');
  const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  first.writeNow(CHR_PAIR, p.start());
  // A second phone slips in (race) and writes: it is dropped, the first session is untouched.
  const second = rig.phone();
  t.is(second.connect({ race: true }), 'DROPPED');
  t.is(rig.counters.get('pair.err.BUSY'), 1);
  first.writeNow(CHR_PAIR, p.handleM2(first.take(CHR_PAIR)!));
  p.handleM4(first.take(CHR_PAIR)!);
  first.writeNow(CHR_SESSION, p.seal({ op: 'register', id: 'first', name: 'First' }));
  t.is(p.open(first.take(CHR_SESSION)!).status, 'OK');
  t.is(rig.roster.get('first')?.name, 'First');
});

test('a phone that vanishes mid-pairing ends the attempt uncounted; advertising resumes; handshake and window timeouts', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const phone = rig.phone();
  phone.connect();
  const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  phone.writeNow(CHR_PAIR, p.start());
  t.is(rig.svc.status(), 'handshake');
  phone.disconnect();
  t.is(rig.svc.status(), 'pairing');
  t.is(rig.svc.lockout.failures, 0);
  t.true(rig.events.some((e) => e.kind === 'attempt-failed' && e.reason === 'VANISHED' && !e.counted));
  t.is(rig.radio.advertising, 'PawPost');
  // A phone that stalls after M1 is dropped after HANDSHAKE_TIMEOUT_MS.
  const slow = rig.phone();
  slow.connect();
  const s = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(2) });
  slow.writeNow(CHR_PAIR, s.start());
  rig.clock.advance(HANDSHAKE_TIMEOUT_MS);
  t.false(slow.connected);
  t.is(rig.counters.get('pair.handshake_timeout'), 1);
  t.is(rig.svc.lockout.failures, 0);
  // The window ends: timeout, silent again.
  rig.clock.advance(PAIRING_WINDOW_MS);
  t.deepEqual(rig.endedResults(), ['timeout']);
  t.is(rig.radio.advertising, undefined);
  t.is(rig.svc.enterPairingMode(), 'OK');
  await rig.pair(3);
  t.is(rig.roster.size, 1);
});

test('an authenticated family phone can remove a member; a phone that is not in the family cannot', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  await rig.pair(1);
  rig.svc.enterPairingMode();
  await rig.pair(2);
  t.deepEqual(rig.roster.list().map((m) => m.id), ['phone1', 'phone2']);
  // A third phone holding the label (so authenticated) but not registered cannot remove anyone.
  rig.svc.enterPairingMode();
  const phone = rig.phone();
  phone.connect();
  const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(3) });
  phone.writeNow(CHR_PAIR, p.start());
  phone.writeNow(CHR_PAIR, p.handleM2(phone.take(CHR_PAIR)!));
  p.handleM4(phone.take(CHR_PAIR)!);
  phone.writeNow(CHR_SESSION, p.seal({ op: 'remove', id: 'phone1' }));
  t.is(p.open(phone.take(CHR_SESSION)!).status, 'DENIED');
  phone.writeNow(CHR_SESSION, p.seal({ op: 'network', settings: NETWORK }));
  t.is(p.open(phone.take(CHR_SESSION)!).status, 'DENIED');
  phone.writeNow(CHR_SESSION, p.seal({ op: 'done' }));
  t.deepEqual(rig.roster.list().map((m) => m.id), ['phone1', 'phone2']);
  // phone2 (a member) removes phone1.
  rig.svc.enterPairingMode();
  const central = rig.phone();
  central.connect();
  await pairWithToy(central, { crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(2), memberId: 'phone2', name: 'Parent 2', remove: ['phone1'] });
  t.deepEqual(rig.roster.list().map((m) => m.id), ['phone2']);
  t.true(rig.events.some((e) => e.kind === 'member-removed' && e.id === 'phone1'));
  // Removing an unknown member is NOT_FOUND, reported to the phone.
  rig.svc.enterPairingMode();
  const e = await t.throwsAsync(rig.pair(2, { remove: ['nobody'] }));
  t.is(code(e), 'REFUSED');
  t.regex((e as Error).message, /NOT_FOUND/);
});

test('roster full, duplicate names and bad fields are answered with a status, not an exception', async (t) => {
  const rig = new PairingRig();
  for (let i = 0; i < 8; i++) {
    rig.svc.enterPairingMode();
    await rig.pair(i);
  }
  rig.svc.enterPairingMode();
  const e = await t.throwsAsync(rig.pair(8));
  t.regex((e as Error).message, /FULL/);
  for (const c of rig.radio.connections()) rig.radio.disconnect(c);
  // The phone's encoder refuses an over-long id; a malformed one that fits reaches the toy: INVALID.
  const long = await t.throwsAsync(rig.pair(9, { memberId: 'x'.repeat(17) }));
  t.is(code(long), 'MALFORMED');
  for (const c of rig.radio.connections()) rig.radio.disconnect(c);
  const bad = await t.throwsAsync(rig.pair(9, { memberId: 'bad id!' }));
  t.true(bad instanceof PairingError);
  t.regex((bad as Error).message, /INVALID/);
  t.is(rig.roster.size, 8);
  t.is(rig.errors.length, 0, 'no internal error');
});

test('a storage failure during pairing is a status to the phone, and the toy stays usable', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  rig.storage.failAfter = 1; // the attempt counter write succeeds, the roster write fails
  const e = await t.throwsAsync(rig.pair(1));
  t.regex((e as Error).message, /STORAGE/);
  rig.storage.failAfter = -1;
  t.is(rig.roster.size, 0);
  rig.svc.enterPairingMode();
  for (const c of rig.radio.connections()) rig.radio.disconnect(c);
  rig.svc.enterPairingMode();
  await rig.pair(1);
  t.is(rig.roster.size, 1);
});

test('the device-information characteristic is readable without pairing; the toy refuses while locked with LOCKED', async (t) => {
  const rig = new PairingRig();
  rig.svc.enterPairingMode();
  const phone = rig.phone();
  phone.connect();
  const info = JSON.parse(new TextDecoder().decode(await phone.read(CHR_INFO)));
  t.deepEqual(Object.keys(info), ['model', 'firmware', 'securityContact', 'securityUpdatesUntil']);
  t.deepEqual(await phone.read(CHR_SESSION), new Uint8Array(0));
  t.is(rig.storage.writes, 0);
  t.is(toyCode(new PairingError('REFUSED', 'x')), undefined);
});

test('PairingService is the toy state machine\'s PairingControl, and its events map onto it', async (t) => {
  const { Toy } = await import('../src/toy.js');
  type Ctl = ConstructorParameters<typeof Toy>[0]['pairing'];
  const rig = new PairingRig();
  const ctl: Ctl = rig.svc;
  t.is(ctl.familySize(), 0);
  t.is(ctl.enter(), 'OK');
  ctl.cancel();
  t.deepEqual(rig.endedResults(), ['cancelled']);
  t.is(rig.radio.advertising, undefined);
});
