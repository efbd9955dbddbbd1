/**
 * The phone's side of pairing (docs/PROTOCOL.md "## Pairing"): used by the
 * parent app, the simulator and the tests. Portable (no Node, no Moddable).
 *
 * Two layers:
 * - PhonePairing: the pure protocol state machine (no I/O): start() → M1,
 *   handleM2(M2) → M3, handleM4(M4), then seal(request) / open(response frame).
 *   Each step may be called once, in order; anything else is a PairingError.
 * - pairWithToy(transport, ...): the whole exchange over a PhoneTransport (a BLE
 *   central: Web Bluetooth, a native app bridge, or sim/ble-sim.ts).
 *
 * The phone checks that the toy knows the setup secret (mutual): a toy that
 * does not (or a phone that scanned a wrong code) fails with PairingError
 * 'TOY_AUTH' before the phone reveals anything, and the phone sends nothing more.
 * It also authenticates the toy's static key: the key in M2 must hash to the
 * label's toy key hash (PP2 setup code) and M4 must carry the toy's proof that
 * it holds the matching secret key; otherwise 'TOY_KEY' (an evil twin that
 * copied the label). A PP1 code (no key hash) is refused with 'TOY_KEY' before
 * anything is sent.
 *
 * Errors: PairingError (MALFORMED, OUT_OF_ORDER, TOY_AUTH, TOY_KEY, AUTH, LOCKED,
 * NOT_PAIRING, BUSY, MTU, BAD_POINT, REFUSED, TIMEOUT, CLOSED) and SetupCodeError
 * from the setup code. A toy's error notification becomes a PairingError with the
 * toy's code when the phone can act on it (LOCKED, with `lockedMinutes`; NOT_PAIRING;
 * BUSY; MTU), else REFUSED; `toyCode` always holds the toy's code.
 * Messages never contain keys.
 */
import type { CryptoPort, RandomPort } from '../hal/ports.js';
import {
  CHR_INFO,
  CHR_PAIR,
  CHR_SESSION,
  DIR_P2T,
  DIR_T2P,
  MSG_ERROR,
  MSG_M1,
  MSG_M2,
  MSG_M3,
  MSG_M4,
  PROTOCOL_VERSION,
  PairingError,
  concat,
  ctEqual,
  decodeDeviceInfo,
  decodeResponse,
  decodeWireErrorDetail,
  deriveKeys,
  MIN_ATT_MTU,
  encodeRequest,
  nonceFor,
  openFrame,
  phoneTag,
  sealFrame,
  toyKeyHash,
  toyKeyProof,
  toyTag,
  transcript1,
  transcriptNext,
  wipe,
  type DeviceInfo,
  type SessionKeys,
  type SessionRequest,
  type SessionResponse,
} from '../src/pairing-protocol.js';
import type { NetworkSettings } from '../src/network-settings.js';
import { isSmallOrderKey } from '../src/key-checks.js';
import { parseSetupCode, toyIdBytes, type SetupCode } from '../src/setup-code.js';

/** The phone's long-term X25519 key pair (its family-member key). Secret key: secret. */
export interface PhoneKeys {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface PhonePairingOptions {
  crypto: CryptoPort;
  random: RandomPort;
  /** The label's QR payload, as text or parsed. */
  setupCode: string | SetupCode;
  member: PhoneKeys;
}

type Step = 'new' | 'sent-m1' | 'sent-m3' | 'session' | 'closed';

/** A PairingError from the toy's error notification; `toyCode` is the toy's code, `lockedMinutes` set for LOCKED. */
export type ToyRefusal = PairingError & { toyCode?: string; lockedMinutes?: number };

/** Throws a PairingError that says what happened when `msg` is a toy error notification. */
function checkToyError(msg: Uint8Array): void {
  if (msg.length > 0 && msg[0] === MSG_ERROR) {
    const d = decodeWireErrorDetail(msg) ?? { code: 'MALFORMED' as const, minutes: 0 };
    let e: ToyRefusal;
    switch (d.code) {
      case 'LOCKED':
        e = new PairingError('LOCKED', `pairing is locked after too many wrong codes: try again in ${d.minutes || 'a few'} minute(s), or press the toy's pairing gesture again`);
        e.lockedMinutes = d.minutes;
        break;
      case 'NOT_PAIRING':
        e = new PairingError('NOT_PAIRING', 'the toy is not in pairing mode: hold its paw for 3 seconds (or paw and heart) and try again');
        break;
      case 'BUSY':
        e = new PairingError('BUSY', 'another phone is pairing with the toy: wait and try again');
        break;
      case 'MTU':
        e = new PairingError('MTU', `this phone's Bluetooth link is too small (ATT MTU below ${MIN_ATT_MTU}): update the app or the phone`);
        break;
      default:
        e = new PairingError('REFUSED', `toy refused: ${d.code}`);
    }
    e.toyCode = d.code;
    throw e;
  }
}

export class PhonePairing {
  private step: Step = 'new';
  private readonly setup: SetupCode;
  private readonly toyIdRaw: Uint8Array;
  private eSecret: Uint8Array | undefined;
  private ePhone: Uint8Array | undefined;
  private keys: SessionKeys | undefined;
  private th2: Uint8Array | undefined;
  private th3: Uint8Array | undefined;
  private tx = 0;
  private rx = 0;
  /** The toy's static X25519 public key (after handleM2). */
  toyPublicKey: Uint8Array | undefined;
  /** crypto_box_beforenm(toy public, phone secret): the key the envelope uses (after handleM2). Secret. */
  sharedKey: Uint8Array | undefined;
  /** Members the toy had when it accepted us (after handleM4). */
  membersAtStart: number | undefined;

  constructor(private readonly o: PhonePairingOptions) {
    this.setup = typeof o.setupCode === 'string' ? parseSetupCode(o.setupCode) : o.setupCode;
    this.toyIdRaw = toyIdBytes(this.setup.toyId);
    if (!(this.setup.toyKeyHash instanceof Uint8Array) || this.setup.toyKeyHash.length !== 16)
      throw new PairingError('TOY_KEY', 'this setup code has no toy key check (an old PP1 label): the toy cannot be authenticated');
    if (o.member.publicKey.length !== 32 || o.member.secretKey.length !== 32) throw new PairingError('MALFORMED', 'member keys must be 32 bytes');
  }

  /** The toy id from the setup code (32 lowercase hex). */
  get toyId(): string {
    return this.setup.toyId;
  }

  /** M1 = 0x01, version, ephemeral public key (32). */
  start(): Uint8Array {
    this.expect('new');
    this.eSecret = new Uint8Array(32);
    this.o.random.fill(this.eSecret);
    this.ePhone = this.o.crypto.boxKeyPairFromSecret(this.eSecret).publicKey;
    this.step = 'sent-m1';
    return concat(Uint8Array.of(MSG_M1, PROTOCOL_VERSION), this.ePhone);
  }

  /** Checks M2 (the toy's proof of the secret) and returns M3. Throws PairingError TOY_AUTH, MALFORMED, REFUSED, BAD_POINT. */
  handleM2(m2: Uint8Array): Uint8Array {
    this.expect('sent-m1');
    const { crypto } = this.o;
    try {
      checkToyError(m2);
      if (m2.length !== 1 + 32 + 16 + 64 || m2[0] !== MSG_M2) throw new PairingError('MALFORMED', 'M2: bad shape');
      const eToy = m2.slice(1, 33);
      const dh = crypto.scalarMult(this.eSecret!, eToy);
      wipe(this.eSecret);
      const th1 = transcript1(crypto, this.toyIdRaw, this.ePhone!, eToy);
      const keys = deriveKeys(crypto, this.setup.setupSecret, dh, th1);
      wipe(dh);
      this.keys = keys;
      const pt = crypto.secretboxOpen(m2.subarray(33), nonceFor(DIR_T2P, 0), keys.t2p);
      if (!pt) throw new PairingError('TOY_AUTH', 'the toy did not prove the setup secret (wrong code, or not this toy)');
      const toyPublic = pt.slice(0, 32);
      if (!ctEqual(pt.subarray(32, 64), toyTag(crypto, keys, th1, toyPublic)))
        throw new PairingError('TOY_AUTH', 'the toy did not prove the setup secret (wrong code, or not this toy)');
      if (!ctEqual(toyKeyHash(crypto, toyPublic), this.setup.toyKeyHash!) || isSmallOrderKey(toyPublic))
        throw new PairingError('TOY_KEY', "the toy's key does not match its label: this is not the toy the label belongs to");
      this.toyPublicKey = toyPublic;
      this.sharedKey = crypto.boxBefore(toyPublic, this.o.member.secretKey);
      this.th2 = transcriptNext(crypto, th1, m2);
      const tag = phoneTag(crypto, keys, this.th2, this.o.member.publicKey, this.sharedKey);
      const box = crypto.secretbox(concat(this.o.member.publicKey, tag), nonceFor(DIR_P2T, 0), keys.p2t);
      const m3 = concat(Uint8Array.of(MSG_M3), box);
      this.th3 = transcriptNext(crypto, this.th2, m3);
      this.step = 'sent-m3';
      return m3;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Checks M4 (the toy accepted us). Returns the toy id it sealed (must match the label) and its member count. */
  handleM4(m4: Uint8Array): { toyId: string; members: number } {
    this.expect('sent-m3');
    try {
      checkToyError(m4);
      if (m4.length !== 1 + 16 + 49 || m4[0] !== MSG_M4) throw new PairingError('MALFORMED', 'M4: bad shape');
      const pt = this.o.crypto.secretboxOpen(m4.subarray(1), nonceFor(DIR_T2P, 1), this.keys!.t2p);
      if (!pt || pt.length !== 49) throw new PairingError('AUTH', 'M4: authentication failed');
      if (!ctEqual(pt.subarray(0, 16), this.toyIdRaw)) throw new PairingError('TOY_AUTH', 'M4: toy id differs from the label');
      if (!ctEqual(pt.subarray(17, 49), toyKeyProof(this.o.crypto, this.sharedKey!, this.th3!)))
        throw new PairingError('TOY_KEY', "the toy did not prove it holds its key: this is not the toy the label belongs to");
      this.membersAtStart = pt[16]!;
      this.step = 'session';
      this.tx = 1;
      this.rx = 2;
      return { toyId: this.setup.toyId, members: pt[16]! };
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Seals one request as the next numbered session frame. */
  seal(req: SessionRequest): Uint8Array {
    this.expect('session');
    return sealFrame(this.o.crypto, this.keys!.p2t, DIR_P2T, this.tx++, encodeRequest(req));
  }

  /** Opens the next numbered response frame. Throws PairingError MALFORMED, OUT_OF_ORDER, AUTH. */
  open(frame: Uint8Array): SessionResponse {
    this.expect('session');
    const pt = openFrame(this.o.crypto, this.keys!.t2p, DIR_T2P, this.rx, frame);
    this.rx++;
    return decodeResponse(pt);
  }

  /** Wipes every secret this object holds (not the member keys, which the caller owns). Safe to call twice. */
  close(): void {
    wipe(this.eSecret);
    if (this.keys) for (const k of [this.keys.t2p, this.keys.p2t, this.keys.confirmToy, this.keys.confirmPhone]) wipe(k);
    this.keys = undefined;
    this.step = 'closed';
  }

  private expect(s: Step): void {
    if (this.step === 'closed') throw new PairingError('CLOSED', 'pairing object closed');
    if (this.step !== s) throw new PairingError('OUT_OF_ORDER', `expected step ${s}, at ${this.step}`);
  }
}

// ---------------------------------------------------------------- over a transport

/** A BLE central connected to the toy. Notifications are queued per characteristic. */
export interface PhoneTransport {
  /** Writes with response (the stack does long writes). */
  write(characteristic: string, value: Uint8Array): Promise<void>;
  read(characteristic: string): Promise<Uint8Array>;
  /** The next notification on `characteristic`; rejects with PairingError('TIMEOUT') when none comes in time. */
  nextNotification(characteristic: string): Promise<Uint8Array>;
  /** Drops the link (pairWithToy calls it on every failure, so the toy can take the next try at once). Safe when not connected. */
  disconnect?(): void;
}

/**
 * Parses and checks a setup code BEFORE connecting (the app calls it on the scanned
 * text): a malformed code is a SetupCodeError, a PP1 code without the toy key check
 * is PairingError('TOY_KEY'). Returns the parsed code (its secret is the caller's).
 */
export function checkSetupCode(text: string | SetupCode): SetupCode {
  const code = typeof text === 'string' ? parseSetupCode(text) : text;
  toyIdBytes(code.toyId);
  if (!(code.setupSecret instanceof Uint8Array) || code.setupSecret.length !== 16) throw new PairingError('MALFORMED', 'setup secret must be 16 bytes');
  if (!(code.toyKeyHash instanceof Uint8Array) || code.toyKeyHash.length !== 16)
    throw new PairingError('TOY_KEY', 'this setup code has no toy key check (an old PP1 label): the toy cannot be authenticated');
  return code;
}

export interface PairWithToyOptions extends PhonePairingOptions {
  /** Roster id for this phone, 1..16 of [A-Za-z0-9_-]. */
  memberId: string;
  /** Display name, 1..32 bytes. */
  name: string;
  /** Network settings to send after registering (optional). */
  network?: NetworkSettings;
  /** Members to remove (this phone must be a member: it is, once registered). */
  remove?: string[];
}

export interface PairWithToyResult {
  info: DeviceInfo;
  toyId: string;
  toyPublicKey: Uint8Array;
  /** crypto_box_beforenm(toy, phone): secret, owned by the caller. */
  sharedKey: Uint8Array;
  members: number;
}

/** Throws the toy's error notification if one is queued on `pair` (LOCKED, NOT_PAIRING, ...); returns otherwise. */
async function explainDrop(t: PhoneTransport): Promise<void> {
  let msg: Uint8Array | undefined;
  try {
    msg = await t.nextNotification(CHR_PAIR);
  } catch {
    return;
  }
  if (msg) checkToyError(msg);
}

async function request(t: PhoneTransport, p: PhonePairing, req: SessionRequest): Promise<SessionResponse> {
  await t.write(CHR_SESSION, p.seal(req));
  const r = p.open(await t.nextNotification(CHR_SESSION));
  if (r.status !== 'OK') throw new PairingError('REFUSED', `toy answered ${r.status} to ${req.op}`);
  return r;
}

/**
 * The whole pairing: read info, handshake, REGISTER, [NETWORK], [REMOVE...], DONE.
 * The setup code is checked first (checkSetupCode), before anything goes on the air.
 * On any failure the link is dropped (t.disconnect) so the next try starts clean.
 * Throws PairingError: TOY_AUTH (wrong code, or a toy without the secret), TOY_KEY
 * (an evil twin: the toy's key does not match the label), LOCKED (lockedMinutes),
 * NOT_PAIRING, BUSY, MTU, REFUSED (DUPLICATE, FULL, ...), TIMEOUT, CLOSED.
 */
export async function pairWithToy(t: PhoneTransport, o: PairWithToyOptions): Promise<PairWithToyResult> {
  const p = new PhonePairing({ ...o, setupCode: checkSetupCode(o.setupCode) });
  let ok = false;
  try {
    const info = decodeDeviceInfo(await t.read(CHR_INFO));
    await t.write(CHR_PAIR, p.start());
    const m3 = p.handleM2(await t.nextNotification(CHR_PAIR));
    await t.write(CHR_PAIR, m3);
    p.handleM4(await t.nextNotification(CHR_PAIR));
    const reg = await request(t, p, { op: 'register', id: o.memberId, name: o.name });
    if (o.network) await request(t, p, { op: 'network', settings: o.network });
    for (const id of o.remove ?? []) await request(t, p, { op: 'remove', id });
    await request(t, p, { op: 'done' });
    ok = true;
    return { info, toyId: p.toyId, toyPublicKey: p.toyPublicKey!, sharedKey: p.sharedKey!.slice(), members: reg.members ?? 0 };
  } catch (e) {
    // The link went away: a toy that refused us at once (locked, not in pairing mode) said why first.
    if (e instanceof PairingError && (e.code === 'CLOSED' || e.code === 'TIMEOUT')) await explainDrop(t);
    throw e;
  } finally {
    p.close();
    if (!ok) {
      try {
        t.disconnect?.();
      } catch {
        // the link is gone already
      }
    }
  }
}
