/**
 * The hostile-phone findings of issue 11 ("Pairing that cannot be bricked,
 * hijacked or held"), one case each, shared by the ava tier
 * (tests/pairing-hardening.test.ts) and the XS tier (tests/pairing.xs.ts).
 * Each case failed before the fix it names. Portable.
 */
import { naclCrypto } from '../src/nacl-crypto.js';
import { LOCKOUT_KEY } from '../src/pairing-lockout.js';
import {
  CHR_PAIR,
  CHR_SESSION,
  HANDSHAKE_TIMEOUT_MS,
  LOCKOUT_MS,
  MAX_FAILED_ATTEMPTS,
  MIN_ATT_MTU,
  MSG_M1,
  MSG_M3,
  PAIRING_WINDOW_MS,
  PRE_M1_TIMEOUT_MS,
  PROTOCOL_VERSION,
  PairingError,
  SESSION_GRACE_MS,
  concat,
  decodeWireError,
  decodeWireErrorDetail,
  deriveKeys,
  encodeWireError,
  nonceFor,
  DIR_P2T,
  DIR_T2P,
  toyKeyProof,
  toyTag,
  phoneTag,
  transcript1,
  transcriptNext,
} from '../src/pairing-protocol.js';
import { PairingService } from '../src/pairing-service.js';
import { PhonePairing, checkSetupCode, pairWithToy, type ToyRefusal } from '../phone/phone-pairing.js';
import { Roster } from '../src/roster.js';
import { SetupCodeError, formatSetupCode, toyIdBytes } from '../src/setup-code.js';
import { SimBlePeripheral, SimCentral } from '../sim/ble-sim.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { DEVICE_INFO, PairingRig } from './pairing-rig.js';
import type { CaseAssert } from './xs/harness.js';

const code = (e: unknown): string | undefined => (e as { code?: string } | undefined)?.code;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

function options(rig: PairingRig, n: number) {
  return { crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(n), memberId: `phone${n}`, name: `Parent ${n}` };
}

/** Locks the rig's toy with MAX_FAILED_ATTEMPTS failed proofs (a fresh window if needed). */
function lock(t: CaseAssert, rig: PairingRig): void {
  if (rig.svc.status() === 'idle') rig.svc.enterPairingMode();
  for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) t.is(decodeWireError(rig.wrongProof().answer ?? new Uint8Array(0)), 'AUTH');
  t.is(rig.svc.status(), 'locked');
}

/** A low-order X25519 point (order 8, from libsodium's blacklist). */
const SMALL_ORDER = Uint8Array.of(
  0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
  0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
);

export const hardeningCases: [string, (t: CaseAssert) => void | Promise<void>][] = [
  [
    '1. the lockout ends LOCKOUT_MS after the last failed proof on an idle toy: its own timer, nothing reads the clock',
    (t) => {
      const rig = new PairingRig(21);
      lock(t, rig);
      t.deepEqual(rig.storage.read(LOCKOUT_KEY), Uint8Array.of(1, MAX_FAILED_ATTEMPTS));
      const statuses = rig.events.length;
      // Left alone: only timers run (ManualClock.advance fires them); no status(), no now() from outside.
      rig.clock.advance(LOCKOUT_MS - 1);
      t.deepEqual(rig.storage.read(LOCKOUT_KEY), Uint8Array.of(1, MAX_FAILED_ATTEMPTS), 'still locked 1 ms before');
      rig.clock.advance(1);
      t.deepEqual(rig.storage.read(LOCKOUT_KEY), Uint8Array.of(1, 0), 'the record is cleared by the timer');
      t.true(rig.events.slice(statuses).some((e) => e.kind === 'status' && e.status === 'idle'), 'the toy hears that the lock ended');
      // A restart after that does not lock again.
      rig.boot();
      t.is(rig.svc.status(), 'idle');
      t.is(rig.svc.enterPairingMode(), 'OK');
    },
  ],
  [
    '1. timeouts, silent and vanished phones, malformed messages and MTU refusals never count toward the lockout',
    async (t) => {
      const rig = new PairingRig(22);
      rig.svc.enterPairingMode();
      // Eight times M1 then silence (before the fix: the fifth locked the toy).
      for (let i = 0; i < 8; i++) {
        const c = rig.phone();
        t.is(c.connect(), 'OK');
        c.writeNow(CHR_PAIR, new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(9) }).start());
        rig.clock.advance(HANDSHAKE_TIMEOUT_MS);
        t.false(c.connected);
      }
      // M1 then the phone vanishes; a phone that never speaks; garbage.
      const v = rig.phone();
      v.connect();
      v.writeNow(CHR_PAIR, new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(9) }).start());
      v.disconnect();
      const s = rig.phone();
      s.connect();
      rig.clock.advance(PRE_M1_TIMEOUT_MS);
      const g = rig.phone();
      g.connect();
      g.writeNow(CHR_PAIR, Uint8Array.of(MSG_M3, 1, 2, 3));
      t.is(rig.svc.lockout.failures, 0);
      t.is(rig.storage.read(LOCKOUT_KEY), undefined, 'nothing was even written');
      t.is(rig.svc.status(), 'pairing');
      t.is(rig.counters.get('pair.attempt_abandoned'), 9);
      // The parent pairs in the same window.
      t.true(rig.clock.now() < PAIRING_WINDOW_MS);
      await rig.pair(1);
      t.is(rig.roster.size, 1);
    },
  ],
  [
    '2. a phone that connects and says nothing is dropped after PRE_M1_TIMEOUT_MS and cannot hide the toy',
    async (t) => {
      const rig = new PairingRig(23);
      rig.svc.enterPairingMode();
      const silent = rig.phone();
      t.is(silent.connect(), 'OK');
      t.is(rig.radio.advertising, undefined, 'hidden while it is connected');
      t.is(rig.phone().connect(), 'NOT_ADVERTISING');
      rig.clock.advance(PRE_M1_TIMEOUT_MS - 1);
      t.true(silent.connected);
      rig.clock.advance(1);
      t.false(silent.connected);
      t.is(rig.counters.get('pair.pre_m1_timeout'), 1);
      t.is(rig.radio.advertising, 'PawPost');
      await rig.pair(1);
      t.is(rig.roster.size, 1);
      t.is(rig.svc.lockout.failures, 0);
    },
  ],
  [
    '2. an authenticated session ends SESSION_GRACE_MS after the window, however often the phone asks',
    (t) => {
      const rig = new PairingRig(24);
      rig.svc.enterPairingMode();
      const c = rig.phone();
      c.connect();
      const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
      c.writeNow(CHR_PAIR, p.start());
      c.writeNow(CHR_PAIR, p.handleM2(c.take(CHR_PAIR)!));
      p.handleM4(c.take(CHR_PAIR)!);
      t.is(rig.svc.status(), 'session');
      // A REGISTER every 50 s (the idle timeout is 60 s): before the fix this held the toy for 1,000 s.
      let answered = 0;
      for (let at = 0; at < 1_000_000 && c.connected; at += 50_000) {
        c.writeNow(CHR_SESSION, p.seal({ op: 'register', id: 'phone1', name: 'Parent 1' }));
        if (c.take(CHR_SESSION)) answered++;
        rig.clock.advance(50_000);
      }
      t.false(c.connected);
      t.true(rig.clock.now() <= PAIRING_WINDOW_MS + SESSION_GRACE_MS + 50_000, `ended at ${rig.clock.now()} ms`);
      t.is(rig.counters.get('pair.session_limit'), 1);
      t.is(rig.svc.status(), 'idle');
      t.true(answered >= 2);
      t.deepEqual(rig.endedResults(), ['paired']);
    },
  ],
  [
    '1. a local pairing gesture while locked clears the lock and opens pairing mode',
    async (t) => {
      const rig = new PairingRig(25);
      lock(t, rig);
      t.is(rig.svc.enterPairingMode(), 'LOCKED', 'the programmatic entry stays refused');
      t.is(rig.svc.enter(), 'OK', 'the local gesture (PairingControl.enter) clears it');
      t.is(rig.svc.lockout.failures, 0);
      t.is(rig.counters.get('pair.lock_cleared_local'), 1);
      t.is(rig.radio.advertising, 'PawPost');
      await rig.pair(1);
      t.is(rig.roster.size, 1);
    },
  ],
  [
    '3. evil twin: a fake toy with the label\'s id and secret but its own key is refused at M2 (TOY_KEY), the phone sends nothing more',
    async (t) => {
      const rig = new PairingRig(26);
      const twinKeys = naclCrypto.boxKeyPairFromSecret(new Uint8Array(32).fill(0x66));
      const radio = new SimBlePeripheral();
      const storage = new MemoryStorage();
      const twin = new PairingService({
        ble: radio, clock: rig.clock, random: rig.random, crypto: naclCrypto, storage, roster: new Roster(storage),
        identity: { toyId: rig.identity.toyId, setupSecret: rig.identity.setupSecret, publicKey: twinKeys.publicKey, secretKey: twinKeys.secretKey },
        deviceInfo: DEVICE_INFO,
      });
      twin.enterPairingMode();
      const c = new SimCentral(radio);
      c.connect();
      const e = await rejection(pairWithToy(c, options(rig, 1)));
      t.is(code(e), 'TOY_KEY');
      t.false(c.connected, 'the phone closed the link');
      t.is(radio.air.filter((r) => r.dir === 'to-toy' && r.value[0] === MSG_M3).length, 0, 'no M3 (no member key) went to the twin');
      twin.close();
    },
  ],
  [
    '3. evil twin: a fake toy that presents the real toy\'s public key cannot prove it holds the key: refused at M4 (TOY_KEY)',
    async (t) => {
      const rig = new PairingRig(27);
      const crypto = naclCrypto;
      // The twin knows the label (id, secret) and the real public key, not the real secret key.
      // It runs its own code: it answers M1 honestly, accepts any M3 and forges M4 as best it can.
      const phone = new PhonePairing({ crypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
      const m1 = phone.start();
      const eSecret = new Uint8Array(32).fill(0x55);
      const eToy = crypto.boxKeyPairFromSecret(eSecret).publicKey;
      const th1 = transcript1(crypto, toyIdBytes(rig.identity.toyId), m1.subarray(2, 34), eToy);
      const keys = deriveKeys(crypto, rig.identity.setupSecret, crypto.scalarMult(eSecret, m1.subarray(2, 34)), th1);
      const m2 = concat(Uint8Array.of(0x02), eToy, crypto.secretbox(concat(rig.identity.publicKey, toyTag(crypto, keys, th1, rig.identity.publicKey)), nonceFor(DIR_T2P, 0), keys.t2p));
      const m3 = phone.handleM2(m2); // the key hash matches the label: M2 alone cannot tell
      const pt = crypto.secretboxOpen(m3.subarray(1), nonceFor(DIR_P2T, 0), keys.p2t)!;
      t.deepEqual(pt.subarray(0, 32), rig.phoneKeys(1).publicKey);
      // Its best guess at the proof: the shared key with a secret key it has (not the toy's).
      const guess = crypto.boxBefore(pt.subarray(0, 32), new Uint8Array(32).fill(0x77));
      const th3 = transcriptNext(crypto, transcriptNext(crypto, th1, m2), m3);
      const proof = toyKeyProof(crypto, guess, th3);
      const m4 = concat(Uint8Array.of(0x04), crypto.secretbox(concat(toyIdBytes(rig.identity.toyId), Uint8Array.of(0), proof), nonceFor(DIR_T2P, 1), keys.t2p));
      let e: unknown;
      try {
        phone.handleM4(m4);
      } catch (x) {
        e = x;
      }
      t.is(code(e), 'TOY_KEY');
      let closed: unknown;
      try {
        phone.seal({ op: 'register', id: 'phone1', name: 'Parent 1' });
      } catch (x) {
        closed = x;
      }
      t.is(code(closed), 'CLOSED', 'nothing more is sent to the twin');
      // The real toy still pairs with the same phone and label.
      rig.svc.enterPairingMode();
      const { result } = await rig.pair(1);
      t.deepEqual(result.toyPublicKey, rig.identity.publicKey);
    },
  ],
  [
    '3. the setup code is checked before connecting: a PP1 code (no key check) and a malformed code never reach the air',
    async (t) => {
      const rig = new PairingRig(28);
      rig.svc.enterPairingMode();
      const pp1 = formatSetupCode({ toyId: rig.identity.toyId, setupSecret: rig.identity.setupSecret });
      let e: unknown;
      try {
        checkSetupCode(pp1);
      } catch (x) {
        e = x;
      }
      t.is(code(e), 'TOY_KEY');
      const c = rig.phone();
      c.connect();
      t.is(code(await rejection(pairWithToy(c, { ...options(rig, 1), setupCode: pp1 }))), 'TOY_KEY');
      const bad = await rejection(pairWithToy(c, { ...options(rig, 1), setupCode: rig.setupCode.slice(0, 80) }));
      t.true(bad instanceof SetupCodeError);
      t.is(rig.counters.get('pair.info_read'), 0, 'nothing was read');
      t.is(rig.radio.air.length, 0, 'nothing went on the air');
    },
  ],
  [
    '5. a phone that knows the secret but offers a small-order member key is refused (BAD_POINT), not registered, not counted',
    (t) => {
      const rig = new PairingRig(29);
      rig.svc.enterPairingMode();
      const c = rig.phone();
      c.connect();
      const crypto = naclCrypto;
      const eSecret = new Uint8Array(32).fill(0x31);
      const ePhone = crypto.boxKeyPairFromSecret(eSecret).publicKey;
      const m1 = concat(Uint8Array.of(MSG_M1, PROTOCOL_VERSION), ePhone);
      c.writeNow(CHR_PAIR, m1);
      const m2 = c.take(CHR_PAIR)!;
      const th1 = transcript1(crypto, toyIdBytes(rig.identity.toyId), ePhone, m2.subarray(1, 33));
      const keys = deriveKeys(crypto, rig.identity.setupSecret, crypto.scalarMult(eSecret, m2.subarray(1, 33)), th1);
      const th2 = transcriptNext(crypto, th1, m2);
      // What the toy will compute for this point: the shared key of a small-order point is the same for every secret.
      const staticShared = crypto.boxBefore(SMALL_ORDER, new Uint8Array(32).fill(0x42));
      const tag = phoneTag(crypto, keys, th2, SMALL_ORDER, staticShared);
      c.writeNow(CHR_PAIR, concat(Uint8Array.of(MSG_M3), crypto.secretbox(concat(SMALL_ORDER, tag), nonceFor(DIR_P2T, 0), keys.p2t)));
      t.is(decodeWireError(c.take(CHR_PAIR)!), 'BAD_POINT');
      t.false(c.connected);
      t.is(rig.roster.size, 0);
      t.is(rig.svc.lockout.failures, 0);
    },
  ],
  [
    '4. a phone whose ATT MTU cannot carry M2 gets the uncounted, named MTU error; with a larger MTU it pairs at once',
    async (t) => {
      const rig = new PairingRig(30);
      rig.svc.enterPairingMode();
      const small = rig.phone({ mtu: 23 });
      small.connect();
      const e = (await rejection(pairWithToy(small, options(rig, 1)))) as ToyRefusal;
      t.is(code(e), 'MTU');
      t.is(e.toyCode, 'MTU');
      t.true(e instanceof PairingError && e.message.includes(String(MIN_ATT_MTU)));
      t.false(small.connected);
      t.is(rig.svc.lockout.failures, 0);
      const edge = rig.phone({ mtu: MIN_ATT_MTU });
      edge.connect();
      await pairWithToy(edge, options(rig, 2));
      t.is(rig.roster.size, 1);
    },
  ],
  [
    '8. phone errors say what happened: locked for N minutes, not in pairing mode; the phone closes the link after a wrong code',
    async (t) => {
      const rig = new PairingRig(31);
      rig.svc.enterPairingMode();
      // A wrong code: the phone stops at M2 and closes the link, so the right code works at once.
      const w = rig.phone();
      w.connect();
      t.is(code(await rejection(pairWithToy(w, { ...options(rig, 1), setupCode: rig.wrongCode() }))), 'TOY_AUTH');
      t.false(w.connected);
      t.is(rig.radio.advertising, 'PawPost');
      t.is(rig.svc.lockout.failures, 0, 'the honest phone never sent a proof');
      const ok = rig.phone();
      t.is(ok.connect(), 'OK');
      await pairWithToy(ok, options(rig, 1));
      // Locked: a phone that reaches the toy hears LOCKED with the minutes left.
      lock(t, rig);
      rig.clock.advance(60_000 * 3 + 1);
      const r = rig.phone();
      t.is(r.connect({ race: true }), 'DROPPED');
      t.deepEqual(decodeWireErrorDetail(r.take(CHR_PAIR)!), { code: 'LOCKED', minutes: 7 });
      // The same through pairWithToy: the phone reports why the toy dropped it.
      const r2 = rig.phone();
      t.is(r2.connect({ race: true }), 'DROPPED');
      const why = (await rejection(pairWithToy(r2, options(rig, 2)))) as ToyRefusal;
      t.is(code(why), 'LOCKED');
      t.is(why.lockedMinutes, 7);
      const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(2) });
      p.start();
      let e: unknown;
      try {
        p.handleM2(encodeWireError('LOCKED', 6.5 * 60_000));
      } catch (x) {
        e = x;
      }
      t.is(code(e), 'LOCKED');
      t.is((e as ToyRefusal).lockedMinutes, 7);
      t.true((e as Error).message.includes('7 minute'));
      // Not in pairing mode.
      rig.clock.advance(LOCKOUT_MS);
      const n = rig.phone();
      t.is(n.connect({ race: true }), 'DROPPED');
      t.is(decodeWireError(n.take(CHR_PAIR)!), 'NOT_PAIRING');
      const q = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(2) });
      q.start();
      try {
        q.handleM2(encodeWireError('NOT_PAIRING'));
      } catch (x) {
        e = x;
      }
      t.is(code(e), 'NOT_PAIRING');
      t.true((e as Error).message.includes('pairing mode'));
    },
  ],
];
