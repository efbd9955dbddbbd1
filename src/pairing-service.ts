/**
 * The toy's side of BLE pairing (docs/PROTOCOL.md "## Pairing"), on the
 * BlePeripheralPort. Portable.
 *
 * Life cycle:
 * - Idle: not advertising; every connection is dropped and every write refused
 *   (NOT_PAIRING). Nothing a phone writes changes anything.
 * - enterPairingMode() (only after a local press, decided by the toy's state
 *   machine): advertises the pairing service for PAIRING_WINDOW_MS. One phone at
 *   a time: advertising stops while a phone is connected, a second phone is
 *   dropped (BUSY), and advertising resumes when the phone leaves and the window
 *   is still open.
 * - A connected phone must send M1 within PRE_M1_TIMEOUT_MS and M3 within
 *   HANDSHAKE_TIMEOUT_MS of M2, else it is dropped (not counted): a silent phone
 *   cannot hold the toy.
 * - Handshake: M1 → M2 → M3 → M4 on the `pair` characteristic (ephemeral
 *   X25519, key confirmation bound to the transcript and to the setup secret,
 *   mutual; M4 carries the toy's proof of its static key). Only a failed proof
 *   (an M3 that does not authenticate) counts toward PairingLockout; a phone
 *   key of small order is refused (BAD_POINT); an ATT MTU too small for M2 is
 *   answered MTU (not counted).
 * - An authenticated session ends at the latest SESSION_GRACE_MS after the
 *   window closed, whatever the phone sends (the overall session limit).
 * - enter() (the local gesture) while locked clears the lock first: physical
 *   presence is the authority (docs/USER-GUIDE.md).
 * - Session: sealed, numbered requests on the `session` characteristic:
 *   REGISTER (roster), NETWORK (settings), REMOVE (a member; only for a phone
 *   that is itself in the roster), DONE (ends pairing mode: 'paired').
 * - `info` is readable by any connected phone: model, firmware, security
 *   contact, end of security updates. Every other characteristic is refused
 *   without a session.
 *
 * Errors: every malformed, oversized, out-of-order or unauthenticated write is a
 * PairingError code counted as `pair.err.<CODE>`, answered (before a session) by
 * an error notification in clear (type 0x7f + code: no secret) and followed by a
 * disconnect; a started attempt then ends (counted only if it was a failed
 * proof of the secret). BLE callbacks never
 * throw: an unexpected exception is counted ('pair.internal') and routed to
 * onError, and the toy drops the connection and stays usable.
 *
 * Events for the toy's state machine and LED (onEvent):
 *   { kind: 'status', status }            status() changed
 *   { kind: 'attempt-failed', reason }    one attempt failed; pairing mode may stay open (LED: failed)
 *   { kind: 'ended', result }             pairing mode ended: paired | timeout | cancelled | locked
 *   { kind: 'member-added' | 'member-removed', id }
 *   { kind: 'network-changed' }           new settings stored under 'net'
 * The object also implements src/toy.ts PairingControl (familySize, enter, cancel).
 */
import type { BleEvent, BlePeripheralPort, ClockPort, CryptoPort, LogPort, PortStatus, RandomPort, StoragePort, TimerHandle } from '../hal/ports.js';
import { PortError } from '../hal/ports.js';
import { Counters } from './counters.js';
import { NetworkSettingsError, saveNetworkSettings } from './network-settings.js';
import { PairingLockout } from './pairing-lockout.js';
import {
  CHR_INFO,
  CHR_PAIR,
  CHR_SESSION,
  DIR_P2T,
  DIR_T2P,
  HANDSHAKE_TIMEOUT_MS,
  MAX_NOTIFY_BYTES,
  PRE_M1_TIMEOUT_MS,
  SESSION_GRACE_MS,
  MAX_WRITE_BYTES,
  MSG_M1,
  MSG_M2,
  MSG_M3,
  MSG_M4,
  PAIRING_WINDOW_MS,
  PROTOCOL_VERSION,
  PairingError,
  SESSION_IDLE_MS,
  concat,
  ctEqual,
  decodeRequest,
  deriveKeys,
  encodeDeviceInfo,
  encodeResponse,
  encodeWireError,
  nonceFor,
  openFrame,
  phoneTag,
  sealFrame,
  toyKeyProof,
  toyTag,
  transcript1,
  transcriptNext,
  wipe,
  type DeviceInfo,
  type PairingErrorCode,
  type SessionKeys,
  type SessionRequest,
  type StatusName,
} from './pairing-protocol.js';
import { isSmallOrderKey } from './key-checks.js';
import { Roster, RosterError } from './roster.js';
import { toyIdBytes } from './setup-code.js';

/** The toy's identity, as the factory provisioned it (src/identity.ts). Secret fields are kept by reference, never logged. */
export interface ToyIdentity {
  /** 32 lowercase hex characters. */
  toyId: string;
  /** X25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** X25519 secret key, 32 bytes. Secret. */
  secretKey: Uint8Array;
  /** The label's setup secret, 16 bytes. Secret. */
  setupSecret: Uint8Array;
}

export type PairingStatus = 'idle' | 'pairing' | 'handshake' | 'session' | 'locked';
export type PairingResult = 'paired' | 'timeout' | 'cancelled' | 'locked';
export type PairingEvent =
  | { kind: 'status'; status: PairingStatus }
  /** One attempt ended without pairing; `counted` when it was a failed proof of the secret (toward the lockout). */
  | { kind: 'attempt-failed'; reason: PairingErrorCode | 'VANISHED' | 'TIMEOUT' | 'STORAGE'; counted: boolean }
  | { kind: 'ended'; result: PairingResult }
  | { kind: 'member-added'; id: string }
  | { kind: 'member-removed'; id: string }
  | { kind: 'network-changed' };

export interface PairingServiceOptions {
  ble: BlePeripheralPort;
  clock: ClockPort;
  random: RandomPort;
  crypto: CryptoPort;
  /** The data StoragePort (lockout record, network settings). */
  storage: StoragePort;
  /** The family roster (shared with the envelope code). */
  roster: Roster;
  identity: ToyIdentity;
  deviceInfo: DeviceInfo;
  /** Advertised local name (default "PawPost"). */
  name?: string;
  counters?: Counters;
  log?: LogPort;
  onEvent?: (e: PairingEvent) => void;
  /** Unexpected internal exceptions (never thrown from BLE callbacks). */
  onError?: (e: unknown) => void;
  /** Overrides for tests of the rate limit (defaults from pairing-protocol.ts). The caller then owns its close(). */
  lockout?: PairingLockout;
}

type Phase = 'none' | 'await-m3' | 'session';

export class PairingService {
  readonly counters: Counters;
  readonly lockout: PairingLockout;
  private readonly o: PairingServiceOptions;
  private readonly toyIdRaw: Uint8Array;
  private readonly info: Uint8Array;
  private mode: 'idle' | 'pairing' = 'idle';
  private conn: number | undefined;
  private phase: Phase = 'none';
  private attemptOpen = false;
  private keys: SessionKeys | undefined;
  private th2: Uint8Array | undefined;
  private phonePublic: Uint8Array | undefined;
  private staticShared: Uint8Array | undefined;
  private rx = 0;
  private tx = 0;
  private registeredHere = false;
  private windowTimer: TimerHandle | undefined;
  private stepTimer: TimerHandle | undefined;
  private graceTimer: TimerHandle | undefined;
  private readonly ownLockout: boolean;
  private lastStatus: PairingStatus = 'idle';
  private closed = false;

  /** Throws PairingError('MALFORMED') / SetupCodeError when the identity or device info is malformed (a provisioning fault). */
  constructor(o: PairingServiceOptions) {
    this.o = o;
    this.counters = o.counters ?? new Counters();
    const id = o.identity;
    if (!(id.publicKey instanceof Uint8Array) || id.publicKey.length !== 32 || !(id.secretKey instanceof Uint8Array) || id.secretKey.length !== 32)
      throw new PairingError('MALFORMED', 'identity: keys must be 32 bytes');
    if (!(id.setupSecret instanceof Uint8Array) || id.setupSecret.length !== 16) throw new PairingError('MALFORMED', 'identity: setup secret must be 16 bytes');
    this.toyIdRaw = toyIdBytes(id.toyId);
    this.info = encodeDeviceInfo(o.deviceInfo);
    this.ownLockout = o.lockout === undefined;
    this.lockout = o.lockout ?? new PairingLockout(o.storage, o.clock, this.counters);
    this.lockout.onUnlock = () => this.guard(() => this.emitStatus());
    o.ble.onEvent((e) => this.onBle(e));
    this.lastStatus = this.status();
  }

  // ---------------------------------------------------------------- control (src/toy.ts PairingControl)

  /** Number of paired family members. */
  familySize(): number {
    return this.o.roster.size;
  }

  /** What the toy is doing about pairing now. */
  status(): PairingStatus {
    if (this.phase === 'session') return 'session';
    if (this.phase === 'await-m3') return 'handshake';
    if (this.mode === 'pairing') return 'pairing';
    return this.lockout.isLocked() ? 'locked' : 'idle';
  }

  /** Milliseconds until pairing unlocks (0 when not locked). */
  lockRemainingMs(): number {
    return this.lockout.remainingMs();
  }

  /**
   * Enters pairing mode for PAIRING_WINDOW_MS: call only after the local press.
   * Returns 'LOCKED' (pairing refused: rate limit), 'BUSY' (already in pairing
   * mode or a session is open) or 'OK'.
   */
  enterPairingMode(): 'OK' | 'LOCKED' | 'BUSY' {
    if (this.closed) return 'BUSY';
    if (this.lockout.isLocked()) {
      this.counters.inc('pair.refused_locked');
      this.emitStatus();
      return 'LOCKED';
    }
    if (this.mode === 'pairing' || this.phase !== 'none') return 'BUSY';
    this.mode = 'pairing';
    this.counters.inc('pair.mode');
    this.windowTimer = this.o.clock.after(PAIRING_WINDOW_MS, () => this.guard(() => this.windowEnded()));
    this.o.ble.startAdvertising(this.o.name ?? 'PawPost');
    this.o.log?.log('info', 'pair.mode', { windowMs: PAIRING_WINDOW_MS });
    this.emitStatus();
    return 'OK';
  }

  /**
   * PairingControl.enter(), called only on the local pairing gesture: clears a
   * lock (physical presence is the authority; counted 'pair.lock_cleared_local'),
   * then as enterPairingMode(), with BUSY reported as OK (already open).
   * 'LOCKED' only when the cleared record could not be written.
   */
  enter(): 'OK' | 'LOCKED' {
    if (!this.closed && this.lockout.isLocked() && this.lockout.clearByLocalGesture()) {
      this.o.log?.log('info', 'pair.lock_cleared_local');
      this.emitStatus();
    }
    return this.enterPairingMode() === 'LOCKED' ? 'LOCKED' : 'OK';
  }

  /** Leaves pairing mode now (the heart was pressed). An attempt in progress counts as failed. */
  cancel(): void {
    if (this.mode === 'idle' && this.phase === 'none') return;
    this.endMode('cancelled');
  }

  /** Stops everything; safe to call twice. Does not close the BLE port (the caller owns it). */
  close(): void {
    if (this.closed) return;
    if (this.mode === 'pairing' || this.phase !== 'none') this.endMode('cancelled');
    if (this.ownLockout) this.lockout.close();
    this.closed = true;
  }

  // ---------------------------------------------------------------- BLE events

  private onBle(e: BleEvent): void {
    this.guard(() => {
      if (this.closed) return;
      switch (e.kind) {
        case 'connect':
          return this.onConnect(e.connection);
        case 'disconnect':
          return this.onDisconnect(e.connection);
        case 'read':
          return this.onRead(e.connection, e.characteristic, e.reply);
        case 'write':
          return this.onWrite(e.connection, e.characteristic, e.value);
      }
    });
  }

  private onConnect(c: number): void {
    if (this.mode !== 'pairing' || this.lockout.isLocked()) {
      // Say why (the phone shows "locked for N minutes" or "not in pairing mode"), then drop.
      const code = this.lockout.isLocked() ? 'LOCKED' : 'NOT_PAIRING';
      this.counters.inc(`pair.err.${code}`);
      if (this.conn === undefined && this.o.ble.notify(CHR_PAIR, encodeWireError(code, this.lockout.remainingMs())) !== 'OK') this.counters.inc('pair.notify_dropped');
      this.o.ble.disconnect(c);
      return;
    }
    if (this.conn !== undefined) {
      this.counters.inc('pair.err.BUSY');
      this.o.ble.disconnect(c);
      return;
    }
    this.conn = c;
    this.counters.inc('pair.connect');
    this.o.ble.stopAdvertising();
    // A phone that connects and says nothing is dropped soon (not counted): it cannot hide the toy for the window.
    this.armStep(PRE_M1_TIMEOUT_MS, () => {
      if (this.phase !== 'none' || this.conn !== c) return;
      this.counters.inc('pair.pre_m1_timeout');
      this.drop();
    });
  }

  private onDisconnect(c: number): void {
    if (c !== this.conn) return;
    this.conn = undefined;
    this.counters.inc('pair.disconnect');
    if (this.phase === 'await-m3') this.failAttempt('VANISHED', false);
    else if (this.phase === 'session') this.endSession();
    else this.stepTimer?.cancel();
    this.resumeAdvertising();
  }

  private onRead(c: number, chr: string, reply: (v: Uint8Array) => void): void {
    if (c !== this.conn || chr !== CHR_INFO) {
      this.counters.inc('pair.read_refused');
      reply(new Uint8Array(0));
      return;
    }
    this.counters.inc('pair.info_read');
    reply(this.info.slice());
  }

  private onWrite(c: number, chr: string, value: Uint8Array): void {
    const open = this.mode === 'pairing' || this.phase === 'session';
    if (c !== this.conn || !open) {
      // Outside pairing mode, or a phone that is not the one being paired: nothing changes.
      this.counters.inc(open ? 'pair.err.BUSY' : 'pair.err.NOT_PAIRING');
      this.o.ble.disconnect(c);
      if (c === this.conn) this.conn = undefined;
      return;
    }
    if (!(value instanceof Uint8Array) || value.length > MAX_WRITE_BYTES) return this.reject('OVERSIZE', true);
    if (chr === CHR_PAIR) return this.onPairWrite(value);
    if (chr === CHR_SESSION) return this.onSessionWrite(value);
    // `info` is read-only; anything else (record, play, LED, volume, ...) does not exist.
    this.counters.inc('pair.unknown_characteristic');
    this.reject(this.phase === 'session' ? 'MALFORMED' : 'NO_SESSION', true);
  }

  // ---------------------------------------------------------------- handshake

  private onPairWrite(v: Uint8Array): void {
    const type = v.length > 0 ? v[0] : -1;
    if (type === MSG_M1) {
      if (this.phase !== 'none') return this.reject('OUT_OF_ORDER', true);
      if (v.length !== 34 || v[1] !== PROTOCOL_VERSION) return this.reject('MALFORMED', true);
      return this.handleM1(v.subarray(2, 34));
    }
    if (type === MSG_M3) {
      if (this.phase !== 'await-m3') return this.reject('OUT_OF_ORDER', true);
      if (v.length !== 1 + 16 + 64) return this.reject('MALFORMED', true);
      return this.handleM3(v);
    }
    this.reject(type === MSG_M2 || type === MSG_M4 ? 'OUT_OF_ORDER' : 'MALFORMED', true);
  }

  private handleM1(ePhone: Uint8Array): void {
    const { crypto, identity } = this.o;
    if (!this.lockout.begin()) return this.reject('LOCKED', true);
    this.attemptOpen = true;
    this.counters.inc('pair.attempt');
    const eSecret = new Uint8Array(32);
    this.o.random.fill(eSecret);
    const eToy = crypto.boxKeyPairFromSecret(eSecret).publicKey;
    const dh = crypto.scalarMult(eSecret, ePhone);
    wipe(eSecret);
    const th1 = transcript1(crypto, this.toyIdRaw, ePhone, eToy);
    let keys: SessionKeys;
    try {
      keys = deriveKeys(crypto, identity.setupSecret, dh, th1);
    } catch (e) {
      wipe(dh);
      if (e instanceof PairingError) return this.reject(e.code, true);
      throw e;
    }
    wipe(dh);
    const tag = toyTag(crypto, keys, th1, identity.publicKey);
    const box = crypto.secretbox(concat(identity.publicKey, tag), nonceFor(DIR_T2P, 0), keys.t2p);
    const m2 = concat(Uint8Array.of(MSG_M2), eToy, box);
    this.keys = keys;
    this.th2 = transcriptNext(crypto, th1, m2);
    this.phase = 'await-m3';
    this.armStep(HANDSHAKE_TIMEOUT_MS, () => {
      this.counters.inc('pair.handshake_timeout');
      this.failAttempt('TIMEOUT', false);
      this.drop();
    });
    if (this.send(CHR_PAIR, m2) === 'FULL') {
      // The link's ATT MTU cannot carry M2: a named error the phone can act on, not a failed attempt.
      this.counters.inc('pair.mtu_too_small');
      return this.reject('MTU', true);
    }
    this.emitStatus();
  }

  private handleM3(m3: Uint8Array): void {
    const { crypto, identity } = this.o;
    const keys = this.keys!;
    const pt = crypto.secretboxOpen(m3.subarray(1), nonceFor(DIR_P2T, 0), keys.p2t);
    // Only here does a phone prove (or fail to prove) the setup secret: the one failure that counts.
    if (!pt || pt.length !== 64) return this.reject('AUTH', true, true);
    const phonePublic = pt.slice(0, 32);
    const tag = pt.subarray(32, 64);
    const shared = crypto.boxBefore(phonePublic, identity.secretKey);
    const expect = phoneTag(crypto, keys, this.th2!, phonePublic, shared);
    if (!ctEqual(tag, expect)) {
      wipe(shared);
      return this.reject('AUTH', true, true);
    }
    if (isSmallOrderKey(phonePublic)) {
      // It knows the secret but offers a member key every message could be forged under: refused, not counted.
      wipe(shared);
      return this.reject('BAD_POINT', true);
    }
    try {
      this.lockout.succeeded();
    } catch (e) {
      // The count stays as it was (fail closed); the session is still authentic.
      this.counters.inc('pair.storage_error');
      this.o.onError?.(e);
    }
    this.attemptOpen = false;
    this.phonePublic = phonePublic;
    this.staticShared = shared;
    this.phase = 'session';
    this.rx = 1;
    this.tx = 1;
    this.counters.inc('pair.authenticated');
    // M4 proves that this toy holds the secret key of the public key it sent in M2 (an evil twin with a copied label does not).
    const proof = toyKeyProof(crypto, shared, transcriptNext(crypto, this.th2!, m3));
    const m4box = crypto.secretbox(concat(this.toyIdRaw, Uint8Array.of(this.o.roster.size), proof), nonceFor(DIR_T2P, this.tx++), keys.t2p);
    this.send(CHR_PAIR, concat(Uint8Array.of(MSG_M4), m4box));
    this.armSessionIdle();
    this.o.log?.log('info', 'pair.authenticated');
    this.emitStatus();
  }

  // ---------------------------------------------------------------- session

  private onSessionWrite(v: Uint8Array): void {
    if (this.phase !== 'session') return this.reject('NO_SESSION', true);
    const keys = this.keys!;
    let pt: Uint8Array;
    try {
      pt = openFrame(this.o.crypto, keys.p2t, DIR_P2T, this.rx, v);
    } catch (e) {
      if (e instanceof PairingError) return this.reject(e.code, true);
      throw e;
    }
    this.rx++;
    this.armSessionIdle();
    let req: SessionRequest;
    try {
      req = decodeRequest(pt);
    } catch (e) {
      if (!(e instanceof PairingError) && !(e instanceof NetworkSettingsError)) throw e;
      this.counters.inc('pair.err.MALFORMED');
      return this.respond(pt.length > 0 ? pt[0]! & 0x7f : 0, 'INVALID');
    }
    this.counters.inc(`pair.req.${req.op}`);
    switch (req.op) {
      case 'register':
        return this.register(req.id, req.name);
      case 'network':
        return this.network(req);
      case 'remove':
        return this.removeMember(req.id);
      case 'done':
        this.respond(0x04, 'OK');
        return this.endMode(this.isMember() || this.registeredHere ? 'paired' : 'cancelled');
    }
  }

  private isMember(): boolean {
    return this.phonePublic !== undefined && this.o.roster.byPublicKey(this.phonePublic) !== undefined;
  }

  private register(id: string, name: string): void {
    const roster = this.o.roster;
    const same = roster.byPublicKey(this.phonePublic!);
    if (same && same.id === id) {
      this.registeredHere = true;
      return this.respond(0x01, 'OK', roster.size);
    }
    try {
      roster.add({ id, name, publicKey: this.phonePublic!, sharedKey: this.staticShared! });
    } catch (e) {
      return this.respond(0x01, this.statusOf(e), roster.size);
    }
    this.registeredHere = true;
    this.o.log?.log('info', 'pair.member_added', { members: roster.size });
    this.respond(0x01, 'OK', roster.size);
    this.emit({ kind: 'member-added', id });
  }

  private network(req: Extract<SessionRequest, { op: 'network' }>): void {
    if (!this.isMember()) return this.respond(0x02, 'DENIED');
    try {
      saveNetworkSettings(this.o.storage, req.settings);
    } catch (e) {
      return this.respond(0x02, this.statusOf(e));
    }
    this.o.log?.log('info', 'pair.network_settings', { port: req.settings.brokerPort });
    this.respond(0x02, 'OK');
    this.emit({ kind: 'network-changed' });
  }

  private removeMember(id: string): void {
    if (!this.isMember()) return this.respond(0x03, 'DENIED');
    try {
      this.o.roster.remove(id);
    } catch (e) {
      return this.respond(0x03, this.statusOf(e));
    }
    this.o.log?.log('info', 'pair.member_removed', { members: this.o.roster.size });
    this.respond(0x03, 'OK');
    this.emit({ kind: 'member-removed', id });
  }

  private statusOf(e: unknown): StatusName {
    if (e instanceof RosterError) {
      if (e.code === 'FULL') return 'FULL';
      if (e.code === 'DUPLICATE') return 'DUPLICATE';
      if (e.code === 'NOT_FOUND') return 'NOT_FOUND';
      return 'INVALID';
    }
    if (e instanceof NetworkSettingsError) return 'INVALID';
    if (e instanceof PortError) {
      this.counters.inc('pair.storage_error');
      return 'STORAGE';
    }
    throw e;
  }

  private respond(op: number, status: StatusName, members?: number): void {
    this.counters.inc(`pair.status.${status}`);
    const frame = sealFrame(this.o.crypto, this.keys!.t2p, DIR_T2P, this.tx++, encodeResponse(op, status, members));
    this.send(CHR_SESSION, frame);
  }

  // ---------------------------------------------------------------- endings

  /**
   * A protocol error: count it, tell the phone (in clear, before a session), end a started
   * attempt (toward the lockout only when `proofFailed`), drop the phone.
   */
  private reject(code: PairingErrorCode, drop: boolean, proofFailed = false): void {
    this.counters.inc(`pair.err.${code}`);
    if (this.phase !== 'session' && this.conn !== undefined) this.send(CHR_PAIR, encodeWireError(code, this.lockout.remainingMs()));
    if (this.attemptOpen) this.failAttempt(code, proofFailed);
    else if (this.phase === 'session' && drop) this.endSession();
    if (drop) this.drop();
  }

  /** Ends the attempt in progress. `counted`: a failed proof of the secret (persisted toward the lockout). */
  private failAttempt(reason: PairingErrorCode | 'VANISHED' | 'TIMEOUT' | 'STORAGE', counted: boolean): void {
    this.attemptOpen = false;
    this.clearCrypto();
    this.phase = 'none';
    this.stepTimer?.cancel();
    this.counters.inc(counted ? 'pair.attempt_failed' : 'pair.attempt_abandoned');
    this.o.log?.log('warn', 'pair.attempt_failed', { reason, counted });
    let locked = false;
    if (counted) {
      try {
        locked = this.lockout.recordFailure();
      } catch (e) {
        // Locked in memory if it reached the limit; the record could not be written.
        this.counters.inc('pair.storage_error');
        this.o.onError?.(e);
      }
    }
    this.emit({ kind: 'attempt-failed', reason, counted });
    if (locked || this.lockout.isLocked()) {
      this.endMode('locked');
      return;
    }
    this.emitStatus();
  }

  private endSession(): void {
    const paired = this.registeredHere;
    this.clearCrypto();
    this.phase = 'none';
    this.stepTimer?.cancel();
    // The window may have closed while the session ran: pairing mode ends with it.
    if (this.mode !== 'pairing' || paired) this.endMode(paired ? 'paired' : 'timeout');
    else this.emitStatus();
  }

  private endMode(result: 'paired' | 'timeout' | 'cancelled' | 'locked'): void {
    if (this.attemptOpen) {
      // A handshake cut short by the window's end or a cancel: not a failed proof, not counted.
      this.attemptOpen = false;
      this.counters.inc('pair.attempt_abandoned');
      this.emit({ kind: 'attempt-failed', reason: result === 'timeout' ? 'TIMEOUT' : 'VANISHED', counted: false });
      if (this.lockout.isLocked()) result = 'locked';
    }
    const wasActive = this.mode === 'pairing' || this.phase !== 'none';
    this.mode = 'idle';
    this.phase = 'none';
    this.clearCrypto();
    this.windowTimer?.cancel();
    this.stepTimer?.cancel();
    this.graceTimer?.cancel();
    this.windowTimer = this.stepTimer = this.graceTimer = undefined;
    this.o.ble.stopAdvertising();
    this.drop();
    if (wasActive) {
      this.counters.inc(`pair.ended.${result}`);
      this.o.log?.log('info', 'pair.ended', { result });
      this.emit({ kind: 'ended', result });
    }
    this.emitStatus();
  }

  private windowEnded(): void {
    this.windowTimer = undefined;
    if (this.mode !== 'pairing') return;
    if (this.phase === 'session') {
      // An authenticated phone may finish, within SESSION_GRACE_MS; no new phone can come.
      this.mode = 'idle';
      this.o.ble.stopAdvertising();
      this.graceTimer = this.o.clock.after(SESSION_GRACE_MS, () =>
        this.guard(() => {
          this.graceTimer = undefined;
          if (this.phase !== 'session') return;
          this.counters.inc('pair.session_limit');
          this.endMode(this.registeredHere ? 'paired' : 'timeout');
        }),
      );
      this.emitStatus();
      return;
    }
    this.endMode('timeout');
  }

  private drop(): void {
    const c = this.conn;
    if (c === undefined) return;
    this.conn = undefined;
    if (this.phase === 'session') this.endSession();
    this.o.ble.disconnect(c);
    this.resumeAdvertising();
  }

  private resumeAdvertising(): void {
    if (this.mode === 'pairing' && this.conn === undefined && !this.lockout.isLocked()) this.o.ble.startAdvertising(this.o.name ?? 'PawPost');
  }

  private armStep(ms: number, fn: () => void): void {
    this.stepTimer?.cancel();
    this.stepTimer = this.o.clock.after(ms, () => this.guard(fn));
  }

  private armSessionIdle(): void {
    this.armStep(SESSION_IDLE_MS, () => {
      this.counters.inc('pair.session_idle');
      this.drop();
    });
  }

  private clearCrypto(): void {
    if (this.keys) {
      wipe(this.keys.t2p);
      wipe(this.keys.p2t);
      wipe(this.keys.confirmToy);
      wipe(this.keys.confirmPhone);
    }
    // staticShared may now live in the roster as a copy (Roster.add copies); wipe ours.
    wipe(this.staticShared);
    this.keys = this.th2 = this.phonePublic = this.staticShared = undefined;
    this.registeredHere = false;
    this.rx = this.tx = 0;
  }

  /** Notifies; returns the port's status ('FULL': longer than the link's MTU allows). */
  private send(chr: string, v: Uint8Array): PortStatus {
    if (v.length > MAX_NOTIFY_BYTES) throw new PairingError('OVERSIZE', 'notification too long');
    const st = this.o.ble.notify(chr, v);
    if (st !== 'OK') this.counters.inc('pair.notify_dropped');
    return st;
  }

  private emitStatus(): void {
    const s = this.status();
    if (s === this.lastStatus) return;
    this.lastStatus = s;
    this.emit({ kind: 'status', status: s });
  }

  private emit(e: PairingEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch (err) {
      this.counters.inc('pair.listener_error');
      this.o.onError?.(err);
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.counters.inc('pair.internal');
      this.o.onError?.(e);
      try {
        if (this.attemptOpen) this.failAttempt('MALFORMED', false);
        this.drop();
      } catch {
        this.counters.inc('pair.internal');
      }
    }
  }
}
