/**
 * Pairing inside the real XS engine: the committed vectors, a full pairing over
 * the fake radio, a wrong secret, the lockout, CloudPets-style writes, garbage,
 * the storage cases (network settings, factory reset, lockout record) and the
 * issue-11 hardening cases (tests/pairing-hardening.cases.ts).
 */
import { test } from './xs/harness.js';
import vectors from './vectors/pairing-v2.json' with { type: 'json' };
import { makePairingVectors, type PairingVectors } from './pairing-vectors.cases.js';
import { NETWORK, PairingRig } from './pairing-rig.js';
import { storageCases } from './pairing-storage.cases.js';
import { hardeningCases } from './pairing-hardening.cases.js';
import { deviceInfoCases } from './pairing-device-info.cases.js';
import { CHR_PAIR, decodeWireError, LOCKOUT_MS, MAX_WRITE_BYTES } from '../src/pairing-protocol.js';
import { loadNetworkSettings } from '../src/network-settings.js';
import { naclCrypto } from '../src/nacl-crypto.js';

const code = (e: unknown) => (e as { code?: string }).code;

test('the committed pairing vectors are reproduced byte for byte in XS', (t) => {
  t.deepEqual(JSON.parse(JSON.stringify(makePairingVectors())), vectors as PairingVectors);
});

test('pairing succeeds with the right secret (XS)', async (t) => {
  const rig = new PairingRig(7);
  t.is(rig.svc.enterPairingMode(), 'OK');
  const { result } = await rig.pair(1, { network: NETWORK });
  t.deepEqual(rig.roster.get('phone1')?.sharedKey, result.sharedKey);
  t.deepEqual(result.sharedKey, naclCrypto.boxBefore(rig.phoneKeys(1).publicKey, rig.identity.secretKey));
  t.deepEqual(loadNetworkSettings(rig.storage), NETWORK);
  t.deepEqual(rig.endedResults(), ['paired']);
});

test('a wrong secret fails at the phone, uncounted; five failed proofs lock; the lock outlives a restart (XS)', async (t) => {
  const rig = new PairingRig(8);
  rig.svc.enterPairingMode();
  let err: unknown;
  try {
    await rig.pair(1, { setupCode: rig.wrongCode() });
  } catch (e) {
    err = e;
  }
  t.is(code(err), 'TOY_AUTH');
  t.is(rig.svc.lockout.failures, 0);
  for (let i = 0; i < 5; i++) t.is(decodeWireError(rig.wrongProof().answer!), 'AUTH');
  t.is(rig.roster.size, 0);
  t.deepEqual(rig.endedResults(), ['locked']);
  t.is(rig.svc.enterPairingMode(), 'LOCKED');
  rig.boot();
  t.is(rig.svc.enterPairingMode(), 'LOCKED');
  rig.clock.advance(LOCKOUT_MS);
  t.is(rig.svc.enterPairingMode(), 'OK');
});

test('nothing is accepted outside pairing mode or without a session (XS)', (t) => {
  const rig = new PairingRig(9);
  t.is(rig.phone().connect(), 'NOT_ADVERTISING');
  t.is(rig.phone().connect({ race: true }), 'DROPPED');
  rig.svc.enterPairingMode();
  for (const chr of ['record', 'play', 'led', 'volume', 'session']) {
    const p = rig.phone();
    t.is(p.connect(), 'OK');
    p.writeNow(chr, Uint8Array.of(1, 2, 3));
    t.false(p.connected);
  }
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(0), 'MALFORMED'],
    [new Uint8Array(MAX_WRITE_BYTES + 1), 'OVERSIZE'],
    [Uint8Array.of(0x03, ...new Uint8Array(80)), 'OUT_OF_ORDER'],
  ];
  for (const [v, want] of cases) {
    const p = rig.phone();
    p.connect();
    p.writeNow(CHR_PAIR, v);
    t.is(decodeWireError(p.take(CHR_PAIR)!), want);
  }
  t.is(rig.storage.writes, 0);
  t.is(rig.svc.status(), 'pairing');
});

for (const [name, fn] of storageCases) test(`${name} (XS)`, (t) => fn(t));
for (const [name, fn] of hardeningCases) test(`${name} (XS)`, (t) => fn(t));
for (const [name, fn] of deviceInfoCases) test(`${name} (XS)`, (t) => fn(t));
