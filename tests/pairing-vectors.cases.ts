/**
 * Pairing test vectors (tests/vectors/pairing-v2.json): fixed throwaway inputs
 * run through the real toy (PairingService over the fake radio) and the real
 * phone (PhonePairing), with every intermediate value of docs/PROTOCOL.md
 * "## Pairing". Written by tools/make-pairing-vectors.ts; checked against this
 * implementation in both tiers (tests/pairing-vectors.test.ts, tests/pairing.xs.ts)
 * and against an independent implementation on @noble/* (tests/pairing-vectors.test.ts).
 * Portable.
 */
import type { CryptoPort, RandomPort } from '../hal/ports.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import type { NetworkSettings } from '../src/network-settings.js';
import { PairingService } from '../src/pairing-service.js';
import {
  CHR_PAIR,
  CHR_SESSION,
  deriveKeys,
  toyKeyHash,
  toyKeyProof,
  phoneTag,
  toyTag,
  transcript1,
  transcriptNext,
  type SessionRequest,
} from '../src/pairing-protocol.js';
import { PhonePairing } from '../phone/phone-pairing.js';
import { Roster } from '../src/roster.js';
import { formatSetupCode, toyIdBytes } from '../src/setup-code.js';
import { SimBlePeripheral, SimCentral } from '../sim/ble-sim.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { DEVICE_INFO } from './pairing-rig.js';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}
export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A RandomPort that hands out scripted bytes, then fails (a test must not draw more than it scripted). */
export class ScriptedRandom implements RandomPort {
  private o = 0;
  constructor(private readonly bytes: Uint8Array) {}
  fill(into: Uint8Array): void {
    if (this.o + into.length > this.bytes.length) throw new Error('ScriptedRandom: script exhausted');
    for (let i = 0; i < into.length; i++) into[i] = this.bytes[this.o++]!;
  }
}

export interface PairingVectorInputs {
  toyId: string;
  setupSecret: string;
  toyStaticSecret: string;
  phoneStaticSecret: string;
  toyEphemeralSecret: string;
  phoneEphemeralSecret: string;
  memberId: string;
  memberName: string;
  network: NetworkSettings;
}

export interface PairingVector {
  name: string;
  inputs: PairingVectorInputs;
  setupCode: string;
  toyPublic: string;
  phonePublic: string;
  m1: string;
  toyEphemeralPublic: string;
  dh: string;
  th1: string;
  keys: { t2p: string; p2t: string; confirmToy: string; confirmPhone: string };
  tagToy: string;
  m2: string;
  th2: string;
  staticShared: string;
  tagPhone: string;
  m3: string;
  /** toyKeyHash(toyPublic): the label's key check (PP2). */
  toyKeyHash: string;
  th3: string;
  /** The toy's proof of its static key, inside M4. */
  toyKeyProof: string;
  m4: string;
  session: { request: string; requestFrame: string; responseFrame: string; response: string }[];
  /** The same exchange with the phone holding a setup secret with one bit flipped: the phone must refuse M2 (TOY_AUTH). */
  wrongSecret: { setupSecret: string; m2: string; phoneError: string };
}

export interface PairingVectors {
  description: string;
  vectors: PairingVector[];
}

export const VECTOR_INPUTS: PairingVectorInputs[] = [
  {
    toyId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    setupSecret: '00112233445566778899aabbccddeeff',
    toyStaticSecret: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    phoneStaticSecret: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
    toyEphemeralSecret: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    phoneEphemeralSecret: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    memberId: 'mum',
    memberName: 'Mum',
    network: { ssid: 'Home', passphrase: 'throwaway passphrase', brokerHost: 'relay.example.org', brokerPort: 8883 },
  },
  {
    toyId: 'ffffffffffffffff0000000000000001',
    setupSecret: 'fedcba98765432100123456789abcdef',
    toyStaticSecret: '1111111111111111111111111111111111111111111111111111111111111111',
    phoneStaticSecret: '2222222222222222222222222222222222222222222222222222222222222222',
    toyEphemeralSecret: '3333333333333333333333333333333333333333333333333333333333333333',
    phoneEphemeralSecret: '4444444444444444444444444444444444444444444444444444444444444444',
    memberId: 'grandpa_2',
    memberName: 'Opa 👴',
    network: { ssid: 'Ünïcode SSID', passphrase: '', brokerHost: '192.168.1.20', brokerPort: 1884 },
  },
];

/** Runs one vector through the real toy and phone. Throws when they disagree with each other. */
export function makePairingVector(name: string, i: PairingVectorInputs, crypto: CryptoPort = naclCrypto): PairingVector {
  const toyKp = crypto.boxKeyPairFromSecret(fromHex(i.toyStaticSecret));
  const phoneKp = crypto.boxKeyPairFromSecret(fromHex(i.phoneStaticSecret));
  const setupSecret = fromHex(i.setupSecret);
  const identity = { toyId: i.toyId, publicKey: toyKp.publicKey, secretKey: toyKp.secretKey, setupSecret };
  const keyHash = toyKeyHash(crypto, toyKp.publicKey);
  const setupCode = formatSetupCode({ toyId: i.toyId, setupSecret, toyKeyHash: keyHash });

  const runToy = (secretForPhone: Uint8Array) => {
    const radio = new SimBlePeripheral();
    const storage = new MemoryStorage();
    const svc = new PairingService({
      ble: radio,
      clock: new ManualClock(),
      random: new ScriptedRandom(fromHex(i.toyEphemeralSecret)),
      crypto,
      storage,
      roster: new Roster(storage),
      identity,
      deviceInfo: DEVICE_INFO,
    });
    svc.enterPairingMode();
    const central = new SimCentral(radio);
    central.connect();
    const phone = new PhonePairing({
      crypto,
      random: new ScriptedRandom(fromHex(i.phoneEphemeralSecret)),
      setupCode: { toyId: i.toyId, setupSecret: secretForPhone, toyKeyHash: keyHash },
      member: phoneKp,
    });
    return { svc, central, phone, storage };
  };

  // The good run.
  const { central, phone } = runToy(setupSecret);
  const m1 = phone.start();
  central.writeNow(CHR_PAIR, m1);
  const m2 = central.take(CHR_PAIR)!;
  const m3 = phone.handleM2(m2);
  central.writeNow(CHR_PAIR, m3);
  const m4 = central.take(CHR_PAIR)!;
  phone.handleM4(m4);
  const requests: SessionRequest[] = [
    { op: 'register', id: i.memberId, name: i.memberName },
    { op: 'network', settings: i.network },
    { op: 'done' },
  ];
  const session = requests.map((r) => {
    const requestFrame = phone.seal(r);
    central.writeNow(CHR_SESSION, requestFrame);
    const responseFrame = central.take(CHR_SESSION)!;
    const resp = phone.open(responseFrame);
    if (resp.status !== 'OK') throw new Error(`vector ${name}: ${r.op} answered ${resp.status}`);
    return { request: r.op, requestFrame: toHex(requestFrame), responseFrame: toHex(responseFrame), response: JSON.stringify(resp) };
  });

  // Intermediate values, recomputed with the protocol functions (the toy and phone used the same).
  const ePhone = m1.subarray(2, 34);
  const eToy = m2.subarray(1, 33);
  const dh = crypto.scalarMult(fromHex(i.toyEphemeralSecret), ePhone);
  const th1 = transcript1(crypto, toyIdBytes(i.toyId), ePhone, eToy);
  const keys = deriveKeys(crypto, setupSecret, dh, th1);
  const th2 = transcriptNext(crypto, th1, m2);
  const staticShared = crypto.boxBefore(toyKp.publicKey, phoneKp.secretKey);
  const th3 = transcriptNext(crypto, th2, m3);

  // The wrong-secret run: the toy is the same; the phone's copy of the secret differs by one bit.
  const wrong = setupSecret.slice();
  wrong[0] ^= 1;
  const w = runToy(wrong);
  w.central.writeNow(CHR_PAIR, w.phone.start());
  const wm2 = w.central.take(CHR_PAIR)!;
  let phoneError = 'none';
  try {
    w.phone.handleM2(wm2);
  } catch (e) {
    phoneError = (e as { code?: string }).code ?? 'unknown';
  }

  return {
    name,
    inputs: i,
    setupCode,
    toyPublic: toHex(toyKp.publicKey),
    phonePublic: toHex(phoneKp.publicKey),
    m1: toHex(m1),
    toyEphemeralPublic: toHex(eToy),
    dh: toHex(dh),
    th1: toHex(th1),
    keys: { t2p: toHex(keys.t2p), p2t: toHex(keys.p2t), confirmToy: toHex(keys.confirmToy), confirmPhone: toHex(keys.confirmPhone) },
    tagToy: toHex(toyTag(crypto, keys, th1, toyKp.publicKey)),
    m2: toHex(m2),
    th2: toHex(th2),
    staticShared: toHex(staticShared),
    tagPhone: toHex(phoneTag(crypto, keys, th2, phoneKp.publicKey, staticShared)),
    m3: toHex(m3),
    toyKeyHash: toHex(keyHash),
    th3: toHex(th3),
    toyKeyProof: toHex(toyKeyProof(crypto, staticShared, th3)),
    m4: toHex(m4),
    session,
    wrongSecret: { setupSecret: toHex(wrong), m2: toHex(wm2), phoneError },
  };
}

/** `crypto`: tweetnacl by default; the device tier passes the native one (tests/device-vectors.ts). */
export function makePairingVectors(crypto: CryptoPort = naclCrypto): PairingVectors {
  return {
    description:
      'PawPost pairing, protocol version 2 (docs/PROTOCOL.md "## Pairing"). Throwaway keys only. Hex strings; m1..m4 and frames are the exact characteristic values. Generated by tools/make-pairing-vectors.ts.',
    vectors: VECTOR_INPUTS.map((inp, k) => makePairingVector(`case-${k + 1}`, inp, crypto)),
  };
}
