/**
 * Issue 11 through the whole toy (src/app.ts with the state machine, LED and
 * pairing service on fakes and the simulated radio; tests/app-rig.ts): a hostile
 * phone locks pairing, then the toy is left alone for 10 minutes of virtual time,
 * or the parent uses the local gesture. Shared by tests/pairing-app.test.ts and
 * tests/pairing-app.xs.ts. Portable.
 */
import { naclCrypto } from '../src/nacl-crypto.js';
import { LOCKOUT_KEY } from '../src/pairing-lockout.js';
import { CHR_PAIR, LOCKOUT_MS, MAX_FAILED_ATTEMPTS, MSG_M3, decodeWireError } from '../src/pairing-protocol.js';
import { PhonePairing } from '../phone/phone-pairing.js';
import { parseSetupCode } from '../src/setup-code.js';
import { SimCentral } from '../sim/ble-sim.js';
import { AppRig, Phone } from './app-rig.js';
import type { CaseAssert } from './xs/harness.js';

/** A phone in range without the secret sends five wrong proofs while the toy is in pairing mode. */
function attack(t: CaseAssert, rig: AppRig): void {
  const code = parseSetupCode(rig.setupCode);
  const wrong = code.setupSecret.slice();
  wrong[3] ^= 0x40;
  for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) {
    const c = new SimCentral(rig.radio);
    t.is(c.connect(), 'OK');
    const p = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: { ...code, setupSecret: wrong }, member: naclCrypto.boxKeyPairFromSecret(new Uint8Array(32).fill(0x99)) });
    c.writeNow(CHR_PAIR, p.start());
    c.take(CHR_PAIR);
    const m3 = new Uint8Array(81).fill(0x5a);
    m3[0] = MSG_M3;
    c.writeNow(CHR_PAIR, m3);
    t.is(decodeWireError(c.take(CHR_PAIR)!), 'AUTH');
  }
}

export const pairingAppCases: [string, (t: CaseAssert) => void | Promise<void>][] = [
  [
    'whole toy: a locked toy left alone for 10 minutes of virtual time unlocks by itself and pairs',
    async (t) => {
      const rig = new AppRig();
      rig.holdPaw(3000);
      t.is(rig.app.toy.state, 'pairing');
      attack(t, rig);
      t.is(rig.app.pairing!.status(), 'locked');
      t.is(rig.app.toy.state, 'idle');
      rig.clock.advance(1000); // the one-shot 'failed' flash, then the steady 'locked'
      t.is(rig.app.led.current, 'locked');
      // Nothing touches the toy: only its own timers run.
      rig.clock.advance(LOCKOUT_MS - 1000 - 1);
      t.is(rig.app.pairing!.lockRemainingMs(), 1);
      rig.clock.advance(1);
      t.deepEqual(rig.data.read(LOCKOUT_KEY), Uint8Array.of(1, 0));
      t.is(rig.app.pairing!.status(), 'idle');
      rig.holdPaw(3000);
      t.is(rig.app.toy.state, 'pairing');
      await new Phone(rig, 1).pair();
      t.is(rig.app.roster!.size, 1);
    },
  ],
  [
    'whole toy: the local pairing gesture on a locked toy clears the lock at once; a restart does not bring it back',
    async (t) => {
      const rig = new AppRig();
      rig.holdPaw(3000);
      attack(t, rig);
      t.is(rig.app.pairing!.status(), 'locked');
      rig.clock.advance(10_000);
      rig.holdPaw(3000);
      t.is(rig.app.toy.state, 'pairing', 'the paw hold cleared the lock and opened pairing mode');
      t.is(rig.app.counters.get('pair.lock_cleared_local'), 1);
      rig.boot();
      t.is(rig.app.pairing!.status(), 'idle');
      rig.holdPaw(3000);
      await new Phone(rig, 1).pair();
      t.is(rig.app.roster!.size, 1);
    },
  ],
];
