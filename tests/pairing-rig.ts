/**
 * Test rig for pairing: a toy (PairingService over the fake radio, with a manual
 * clock, in-memory storage, a deterministic RandomPort) and simulated phones.
 * Portable: used by the ava tier and the XS tier. Keys here are throwaway.
 */
import { naclCrypto } from '../src/nacl-crypto.js';
import type { CryptoPort } from '../hal/ports.js';
import { PairingService, type PairingEvent, type ToyIdentity } from '../src/pairing-service.js';
import { PhonePairing, pairWithToy, type PairWithToyOptions, type PhoneKeys } from '../phone/phone-pairing.js';
import { Roster } from '../src/roster.js';
import { formatSetupCode } from '../src/setup-code.js';
import { CHR_PAIR, MSG_M3, toyKeyHash } from '../src/pairing-protocol.js';
import { SimBlePeripheral, SimCentral } from '../sim/ble-sim.js';
import { FakeRandom } from './fakes/fake-random.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { Counters } from '../src/counters.js';
import { MemoryLog } from './fakes/memory-log.js';

export const DEVICE_INFO = {
  model: 'PawPost PP-1',
  firmware: '0.1.0',
  securityContact: 'https://pawpost.example/security',
  securityUpdatesUntil: '2031-12-31',
};

export const NETWORK = { ssid: 'Home Wi-Fi', passphrase: 'correct horse battery', brokerHost: 'relay.pawpost.example', brokerPort: 8883 };

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
}

export class PairingRig {
  readonly clock = new ManualClock();
  readonly random: FakeRandom;
  readonly storage: MemoryStorage;
  readonly identity: ToyIdentity;
  readonly setupCode: string;
  radio!: SimBlePeripheral;
  roster!: Roster;
  svc!: PairingService;
  counters!: Counters;
  events: PairingEvent[] = [];
  errors: unknown[] = [];
  readonly log = new MemoryLog();

  /** The toy's CryptoPort (default tweetnacl; the bench passes a native stand-in, bench/xs/host-crypto.ts). */
  toyCrypto: CryptoPort = naclCrypto;

  constructor(seed = 1, storage = new MemoryStorage(), toyCrypto?: CryptoPort) {
    if (toyCrypto) this.toyCrypto = toyCrypto;
    this.random = new FakeRandom(seed);
    this.storage = storage;
    const sk = new Uint8Array(32);
    this.random.fill(sk);
    const kp = naclCrypto.boxKeyPairFromSecret(sk);
    const id = new Uint8Array(16);
    this.random.fill(id);
    const secret = new Uint8Array(16);
    this.random.fill(secret);
    this.identity = { toyId: hex(id), publicKey: kp.publicKey, secretKey: kp.secretKey, setupSecret: secret };
    this.setupCode = formatSetupCode({ toyId: this.identity.toyId, setupSecret: secret, toyKeyHash: toyKeyHash(naclCrypto, kp.publicKey) });
    this.boot();
  }

  /** (Re)builds everything but storage, identity and clock: a restart. */
  boot(): void {
    this.svc?.close();
    this.radio = new SimBlePeripheral();
    this.counters = new Counters();
    this.roster = new Roster(this.storage);
    this.events = [];
    this.svc = new PairingService({
      ble: this.radio,
      clock: this.clock,
      random: this.random,
      crypto: this.toyCrypto,
      storage: this.storage,
      roster: this.roster,
      identity: this.identity,
      deviceInfo: DEVICE_INFO,
      counters: this.counters,
      log: this.log,
      onEvent: (e) => this.events.push(e),
      onError: (e) => this.errors.push(e),
    });
  }

  /** A phone's member key pair (deterministic per n). */
  phoneKeys(n: number): PhoneKeys {
    const sk = new Uint8Array(32).fill(n + 1);
    sk[0] = 0x40 + n;
    return naclCrypto.boxKeyPairFromSecret(sk);
  }

  /** A wrong setup code for the same toy (secret with one bit flipped). */
  wrongCode(): string {
    const s = this.identity.setupSecret.slice();
    s[5] ^= 0x10;
    return formatSetupCode({ toyId: this.identity.toyId, setupSecret: s, toyKeyHash: toyKeyHash(naclCrypto, this.identity.publicKey) });
  }

  phone(opts: { mtu?: number } = {}): SimCentral {
    return new SimCentral(this.radio, opts);
  }

  /**
   * An attacker in range without the secret: connects, sends M1, then an M3 of the
   * right size that cannot authenticate (a failed proof, the one thing the lockout counts).
   * Returns the phone (dropped by the toy) and the toy's answer to M3.
   */
  wrongProof(): { central: SimCentral; answer: Uint8Array | undefined } {
    const central = this.phone();
    if (central.connect() !== 'OK') throw new Error('wrongProof: cannot connect');
    const p = new PhonePairing({ crypto: naclCrypto, random: this.random, setupCode: this.wrongCode(), member: this.phoneKeys(9) });
    central.writeNow(CHR_PAIR, p.start());
    central.take(CHR_PAIR);
    const fake = new Uint8Array(81).fill(0xab);
    fake[0] = MSG_M3;
    if (central.connected) central.writeNow(CHR_PAIR, fake);
    return { central, answer: central.take(CHR_PAIR) };
  }

  /** Connects a new phone and runs the whole pairing. */
  async pair(n: number, extra: Partial<PairWithToyOptions> = {}): Promise<{ central: SimCentral; result: Awaited<ReturnType<typeof pairWithToy>> }> {
    const central = this.phone();
    const c = central.connect();
    if (c !== 'OK') throw new Error(`connect: ${c}`);
    const result = await pairWithToy(central, {
      crypto: naclCrypto,
      random: this.random,
      setupCode: this.setupCode,
      member: this.phoneKeys(n),
      memberId: `phone${n}`,
      name: `Parent ${n}`,
      ...extra,
    });
    return { central, result };
  }

  endedResults(): string[] {
    return this.events.filter((e) => e.kind === 'ended').map((e) => (e as { result: string }).result);
  }
  failures(): number {
    return this.events.filter((e) => e.kind === 'attempt-failed').length;
  }
}
