/**
 * Network settings, factory reset and the persisted lockout: cases shared by the
 * ava tier (tests/pairing-storage.test.ts) and the XS tier (tests/pairing.xs.ts). Portable.
 */
import { PortError } from '../hal/ports.js';
import { factoryReset, FactoryResetError, KEPT_KEYS, RESET_MARKER_KEY, resumeFactoryReset } from '../src/factory-reset.js';
import {
  decodeNetworkSettings,
  encodeNetworkSettings,
  loadNetworkSettings,
  MAX_NETWORK_RECORD_BYTES,
  NETWORK_SETTINGS_KEY,
  NetworkSettingsError,
  saveNetworkSettings,
  type NetworkSettings,
} from '../src/network-settings.js';
import { LOCKOUT_KEY, PairingLockout } from '../src/pairing-lockout.js';
import { LOCKOUT_MS, MAX_FAILED_ATTEMPTS } from '../src/pairing-protocol.js';
import { Roster, ROSTER_KEY } from '../src/roster.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import type { MiniAssert } from './setup-code.cases.js';

const GOOD: NetworkSettings = { ssid: 'Home', passphrase: 'hunter22hunter22', brokerHost: 'relay.pawpost.example', brokerPort: 8883 };
const errCode = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped:${String(e)}`;
  }
  return 'none';
};

export const storageCases: [string, (t: MiniAssert) => void][] = [
  [
    'network settings: round trip at the bounds, stored under "net"',
    (t) => {
      const max: NetworkSettings = { ssid: 'S'.repeat(32), passphrase: 'a'.repeat(63), brokerHost: 'h'.repeat(64), brokerPort: 65535 };
      const hex: NetworkSettings = { ssid: 'é'.repeat(16), passphrase: 'ab'.repeat(32), brokerHost: '10.0.0.1', brokerPort: 1 };
      const open: NetworkSettings = { ssid: 'Café', passphrase: '', brokerHost: 'b', brokerPort: 1883 };
      for (const s of [GOOD, max, hex, open]) t.deepEqual(decodeNetworkSettings(encodeNetworkSettings(s)), s);
      t.is(encodeNetworkSettings(max).length <= MAX_NETWORK_RECORD_BYTES, true);
      const st = new MemoryStorage();
      saveNetworkSettings(st, GOOD);
      t.deepEqual(st.keys(), [NETWORK_SETTINGS_KEY]);
      t.deepEqual(loadNetworkSettings(st), GOOD);
    },
  ],
  [
    'network settings: out-of-bounds fields are INVALID, bad records CORRUPT, and the passphrase never shows',
    (t) => {
      const bad: Partial<NetworkSettings>[] = [
        { ssid: '' },
        { ssid: 'S'.repeat(33) },
        { ssid: 'é'.repeat(17) },
        { passphrase: 'short' },
        { passphrase: 'z'.repeat(64) }, // 64 chars must be hex
        { passphrase: 'tab\there12' },
        { brokerHost: '' },
        { brokerHost: 'h'.repeat(65) },
        { brokerHost: 'evil host' },
        { brokerHost: '-lead.example' },
        { brokerHost: 'a..b' },
        { brokerPort: 0 },
        { brokerPort: 65536 },
        { brokerPort: 1.5 },
      ];
      for (const b of bad) {
        const s = { ...GOOD, ...b };
        t.is(errCode(() => encodeNetworkSettings(s)), 'INVALID', JSON.stringify(Object.keys(b)));
      }
      try {
        encodeNetworkSettings({ ...GOOD, passphrase: 'secretpw\u0001' });
        t.true(false, 'should throw');
      } catch (e) {
        t.true(e instanceof NetworkSettingsError && !e.message.includes('secretpw'));
      }
      const rec = encodeNetworkSettings(GOOD);
      const corrupt: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(2, ...rec.subarray(1)), rec.subarray(0, rec.length - 1), Uint8Array.of(...rec, 0), new Uint8Array(200)];
      const lenBomb = rec.slice();
      lenBomb[1] = 200;
      corrupt.push(lenBomb);
      for (const c of corrupt) t.is(errCode(() => decodeNetworkSettings(c)), 'CORRUPT');
      const st = new MemoryStorage();
      st.write(NETWORK_SETTINGS_KEY, lenBomb);
      let n = 0;
      t.is(loadNetworkSettings(st, () => n++), undefined);
      t.is(n, 1);
    },
  ],
  [
    'factory reset wipes roster, settings, messages and replay records, keeps the lockout record and the send counter',
    (t) => {
      const st = new MemoryStorage();
      const roster = new Roster(st);
      roster.add({ id: 'mum', name: 'Mum', publicKey: new Uint8Array(32).fill(1), sharedKey: new Uint8Array(32).fill(2) });
      saveNetworkSettings(st, GOOD);
      st.write('msg.00000001', new Uint8Array(100));
      st.write('rp.0123456789ab', Uint8Array.of(1, 2, 3)); // a receive replay record: wiped
      st.write('rp.tx', Uint8Array.of(0, 0, 0, 9)); // the toy's own send counter: kept
      st.write('rp.rx', Uint8Array.of(2, 0)); // the receive replay record (envelope v2): kept
      st.write('eg.seq', Uint8Array.of(0, 0, 0, 3)); // the enrollment notice counter: kept
      st.write(LOCKOUT_KEY, Uint8Array.of(1, 3));
      st.write('upd.secver', Uint8Array.of(0, 0, 0, 2)); // firmware anti-rollback (issue 14): kept
      st.write('upd.pending', new Uint8Array(10)); // its pending-update record: kept
      st.write('fn.seq', Uint8Array.of(0, 0, 0, 7)); // the family note counter (issue 15): kept
      st.write('fn.set', new Uint8Array(13)); // family settings: wiped with the family
      t.is(factoryReset(st), 5);
      t.deepEqual(st.keys(), [...KEPT_KEYS].sort());
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 3));
      t.deepEqual(st.read('rp.tx'), Uint8Array.of(0, 0, 0, 9));
      roster.reload();
      t.is(roster.size, 0);
      t.is(factoryReset(st), 0, 'idempotent');
    },
  ],
  [
    'factory reset interrupted by a power cut is finished at the next boot',
    (t) => {
      const st = new MemoryStorage();
      for (const k of [ROSTER_KEY, NETWORK_SETTINGS_KEY, 'msg.1', 'msg.2', 'replay']) st.write(k, Uint8Array.of(1));
      st.failAfter = 3; // marker + roster + net succeed, then the power goes
      t.is(errCode(() => factoryReset(st)), 'IO');
      st.failAfter = -1;
      t.true(st.read(RESET_MARKER_KEY) !== undefined, 'marker survives');
      t.is(st.read(ROSTER_KEY), undefined, 'roster went first');
      t.is(st.read(NETWORK_SETTINGS_KEY), undefined, 'network settings second');
      t.true(resumeFactoryReset(st));
      t.deepEqual(st.keys(), []);
      t.is(resumeFactoryReset(st), false);
      const e = new FactoryResetError(2);
      t.is(e.code, 'IO');
      t.true(new PortError('IO', 'x').code === 'IO');
    },
  ],
  [
    'lockout: only recorded failures count, persisted, re-armed at boot, corrupt record fails closed',
    (t) => {
      const st = new MemoryStorage();
      const clock = new ManualClock();
      let l = new PairingLockout(st, clock);
      // begin() counts nothing (a started handshake that is abandoned costs nothing).
      for (let i = 0; i < 20; i++) t.true(l.begin());
      t.is(l.failures, 0);
      t.is(st.read(LOCKOUT_KEY), undefined);
      for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i++) t.is(l.recordFailure(), false);
      // Restart in the middle: the count survives.
      l.close();
      l = new PairingLockout(st, clock);
      t.is(l.failures, MAX_FAILED_ATTEMPTS - 1);
      t.true(l.recordFailure(), 'the fifth failed proof locks');
      t.is(l.begin(), false);
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, MAX_FAILED_ATTEMPTS));
      // Restart while locked: locked again for a full LOCKOUT_MS from boot.
      l.close();
      l = new PairingLockout(st, clock);
      t.true(l.isLocked());
      t.is(l.remainingMs(), LOCKOUT_MS);
      clock.advance(LOCKOUT_MS);
      t.is(l.isLocked(), false);
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 0));
      // A success resets.
      l.recordFailure();
      l.succeeded();
      t.is(l.failures, 0);
      // Corrupt record: locked.
      st.write(LOCKOUT_KEY, Uint8Array.of(9, 9, 9));
      const c = new PairingLockout(st, clock);
      t.true(c.isLocked());
      t.is(c.counters.get('pair.lock_corrupt'), 1);
      c.close();
      // The failure cannot be written: it still counts in memory and the error reaches the caller.
      const st2 = new MemoryStorage();
      const l2 = new PairingLockout(st2, clock, undefined, 1);
      st2.failAfter = 0;
      t.is(errCode(() => l2.recordFailure()), 'IO');
      t.true(l2.isLocked(), 'fail closed');
      l2.close();
    },
  ],
  [
    'lockout: the lock ends by its own timer, with nothing reading the clock, and a local gesture clears it',
    (t) => {
      const st = new MemoryStorage();
      const clock = new ManualClock();
      const l = new PairingLockout(st, clock, undefined, 2);
      let unlocked = 0;
      l.onUnlock = () => unlocked++;
      l.recordFailure();
      t.true(l.recordFailure());
      // Idle: no isLocked()/now() call. The timer alone writes the record back to zero.
      clock.advance(LOCKOUT_MS - 1);
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 2));
      clock.advance(1);
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 0), 'unlocked without anyone reading the clock');
      t.is(unlocked, 1);
      t.is(l.counters.get('pair.lock_expired'), 1);
      // Lock again; a local gesture clears the lock and the count at once.
      l.recordFailure();
      l.recordFailure();
      t.true(l.isLocked());
      t.true(l.clearByLocalGesture());
      t.false(l.isLocked());
      t.is(l.failures, 0);
      t.deepEqual(st.read(LOCKOUT_KEY), Uint8Array.of(1, 0));
      t.is(l.counters.get('pair.lock_cleared_local'), 1);
      clock.advance(LOCKOUT_MS);
      t.is(unlocked, 1, 'the cleared lock\'s timer was cancelled');
      // The record cannot be written: the gesture does not clear (stays locked, fail closed).
      l.recordFailure();
      l.recordFailure();
      st.failAfter = 0;
      t.false(l.clearByLocalGesture());
      t.true(l.isLocked());
      st.failAfter = -1;
      l.close();
    },
  ],
];
