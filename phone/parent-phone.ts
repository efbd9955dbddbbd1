/**
 * The family's phone as a library: one family member's keys, its pairing with one
 * toy, its sealed message history, and the steps a parent app takes (pair over
 * BLE, send, receive, play/export, remove a member). Used by the parent command
 * line (tools/parent-cli.ts); a phone app would use it the same way. Portable: it
 * gets its platform as ports (StoragePort for keys and counters, HistoryFilesPort
 * for messages, CryptoPort, RandomPort, ClockPort) and its network as a
 * PhoneTransport (BLE, phone/phone-pairing.ts) and a ParentLink (MQTT publish).
 *
 * What is stored (all in the phone's data directory, which must be private to its user):
 *   phone.sk      this member's X25519 secret key (32 bytes, made on first use). Secret.
 *   parent.pair   JSON: toy id and public key, the cached shared key (secret), member
 *                 id and name, the label's setup code (secret: needed to remove a member
 *                 later), the broker account (user derived from the public key,
 *                 password secret), the broker address.
 *   rp.tx, rp.rx  the envelope's send counter and replay record (phone/phone-envelope.ts).
 *   family.seq    the highest note seq accepted from the toy (replayed receipts are refused).
 *   family.sseq   the last family-settings seq sealed (the next run numbers its settings above it).
 *   m-<id>.pm     one sealed message each (phone/message-history.ts).
 *   p-<id>.pm     a message still arriving: its chunks so far, kept across runs so that
 *                 a message whose chunks span two connections is never lost.
 *
 * Incoming chunks (receive()) never throw: a chunk that does not open is counted
 * (`parent.drop_<CODE>`) and dropped; one that opens is written to disk before
 * receive() returns (the MQTT client acknowledges after that).
 * Errors thrown: ParentError NOT_PAIRED, BAD_INPUT, STORE; and the PairingError /
 * SetupCodeError of pairing, HistoryError, OggError, AudioImportError passed through.
 */
import type { ClockPort, CryptoPort, RandomPort, StoragePort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { makeEnrollRequest, phoneBrokerUser, toHex } from '../src/enrollment-grant.js';
import { isSmallOrderKey } from '../src/key-checks.js';
import { EnvelopeError, MAX_PACKETS, PACKET_MS, pairKey, bytesEqual, peekChunk } from '../src/envelope-format.js';
import { EnvelopeOpener } from '../src/envelope-opener.js';
import type { NetworkSettings } from '../src/network-settings.js';
import { toyTopics } from '../src/topics.js';
import { DEFAULT_SETTINGS, PhoneFamily, checkSettings, familyTopics, parseToyStatus, type FamilySettings, type ToyNote } from './phone-family.js';
import { PhoneEnvelope } from './phone-envelope.js';
import { checkSetupCode, pairWithToy, type PairWithToyResult, type PhoneTransport } from './phone-pairing.js';
import { decodeRecord, encodeRecord, HistoryError, MessageHistory, type HistoryFilesPort, type HistoryRecord, type MessageState } from './message-history.js';
import { writeOggOpus } from './ogg-opus.js';

export type ParentErrorCode = 'NOT_PAIRED' | 'BAD_INPUT' | 'STORE';

export class ParentError extends Error {
  override readonly name = 'ParentError';
  readonly code: ParentErrorCode;
  constructor(code: ParentErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Publishing to the relay: resolves once the broker acknowledged (MQTT QoS 1 PUBACK). */
export interface ParentLink {
  publish(topic: string, payload: Uint8Array): Promise<void>;
}

/** What a pairing leaves in the data directory (parent.pair). */
export interface PairingRecord {
  toyId: string;
  toyPublicKey: string;
  sharedKey: string;
  memberId: string;
  name: string;
  /** What received messages are shown as coming from. */
  toyName: string;
  setupCode: string;
  brokerUser: string;
  brokerPassword: string;
  /** mqtt://host:port the phone uses (informational; the CLI may be given another). */
  brokerUrl: string;
  pairedAt: number;
}

export interface ParentPhoneOptions {
  storage: StoragePort;
  files: HistoryFilesPort;
  crypto: CryptoPort;
  random: RandomPort;
  clock: Pick<ClockPort, 'wallNow'>;
  counters?: Counters;
}

const PAIR_KEY = 'parent.pair';
/** The highest toy note seq accepted (4 bytes, big-endian): replays of older receipts and notices are refused. */
const NOTE_SEQ_KEY = 'family.seq';
/** The last settings seq this phone sealed (4 bytes, big-endian): the next run's settings are numbered above it. */
const SETTINGS_SEQ_KEY = 'family.sseq';

function readU32(storage: StoragePort, key: string): number {
  const b = storage.read(key);
  return b && b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : 0;
}
function writeU32(storage: StoragePort, key: string, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  storage.write(key, b);
}
/** The family settings this phone sent last (JSON), so a change of one keeps the others. */
const SETTINGS_KEY = 'family.settings';
const SK_KEY = 'phone.sk';
/** Set (1 byte) once this phone has seen the toy's retained status record: the relay queues for the toy from then on. */
const SEEN_KEY = 'family.seen';
/** Set (1 byte) while the last settings (SETTINGS_KEY) still wait on this phone for the toy to be seen. */
const SETTINGS_PENDING_KEY = 'family.setwait';
const PARTIAL = 'p-';
const te = new TextEncoder();
const td = new TextDecoder();

export function fromHex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new ParentError('STORE', 'bad hex in the pairing record');
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** A broker password: 32 characters of [A-Za-z0-9_-] (192 bits). */
function makePassword(random: RandomPort): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const b = new Uint8Array(32);
  random.fill(b);
  let s = '';
  for (const x of b) s += A[x & 63];
  return s;
}

interface Incoming {
  opener: EnvelopeOpener;
  chunks: Uint8Array[];
  packets: number;
  createdMs: number;
}

export interface ReceiveResult {
  /** 'stored': a whole message is in the history; 'partial': a chunk kept; 'dropped': counted and dropped. */
  outcome: 'stored' | 'partial' | 'dropped';
  record?: HistoryRecord;
  code?: string;
}

export class ParentPhone {
  readonly counters: Counters;
  private pairing: PairingRecord | undefined;
  private env: PhoneEnvelope | undefined;
  private hist: MessageHistory | undefined;
  private fam: PhoneFamily | undefined;
  private readonly incoming = new Map<string, Incoming>();

  constructor(private readonly o: ParentPhoneOptions) {
    this.counters = o.counters ?? new Counters();
    const saved = o.storage.read(PAIR_KEY);
    if (saved) {
      let rec: PairingRecord;
      try {
        rec = JSON.parse(td.decode(saved)) as PairingRecord;
        if (typeof rec.toyId !== 'string' || typeof rec.toyPublicKey !== 'string' || typeof rec.sharedKey !== 'string' || typeof rec.brokerUser !== 'string') throw new Error('fields');
      } catch {
        throw new ParentError('STORE', 'the pairing record (parent.pair) is damaged: pair again');
      }
      this.load(rec);
    }
  }

  /** This member's public key (makes the secret key on first use). */
  get publicKey(): Uint8Array {
    return this.o.crypto.boxKeyPairFromSecret(this.secretKey()).publicKey;
  }

  /** The broker user this phone has on every relay (derived from its public key). */
  get brokerUser(): string {
    return phoneBrokerUser(this.o.crypto, this.publicKey);
  }

  get paired(): PairingRecord | undefined {
    return this.pairing;
  }

  /** The history (throws NOT_PAIRED before a pairing: the keys to open messages come from it). */
  get history(): MessageHistory {
    if (!this.hist) throw new ParentError('NOT_PAIRED', 'not paired with a toy yet: run pair first');
    return this.hist;
  }

  private secretKey(): Uint8Array {
    let sk = this.o.storage.read(SK_KEY);
    if (!sk || sk.length !== 32) {
      sk = new Uint8Array(32);
      this.o.random.fill(sk);
      this.o.storage.write(SK_KEY, sk);
    }
    return sk;
  }

  private load(rec: PairingRecord): void {
    const toyPk = fromHex(rec.toyPublicKey);
    const shared = fromHex(rec.sharedKey);
    const sk = this.secretKey();
    this.env = new PhoneEnvelope({
      crypto: this.o.crypto,
      random: this.o.random,
      storage: this.o.storage,
      clock: this.o.clock,
      secretKey: sk,
      toyPublicKey: toyPk,
      sharedKey: shared,
      packetsPerChunk: 25,
      counters: this.counters,
    });
    const mine = this.env.publicKey;
    const fromToy = pairKey(this.o.crypto, shared, toyPk, mine);
    const fromMe = pairKey(this.o.crypto, shared, mine, toyPk);
    this.hist = new MessageHistory({
      files: this.o.files,
      crypto: this.o.crypto,
      clock: this.o.clock,
      counters: this.counters,
      keys: { receiveKeyFor: (pk) => (bytesEqual(pk, toyPk) ? fromToy : bytesEqual(pk, mine) ? fromMe : undefined) },
    });
    const lastToySeq = readU32(this.o.storage, NOTE_SEQ_KEY);
    const lastSettingsSeq = readU32(this.o.storage, SETTINGS_SEQ_KEY);
    this.fam = new PhoneFamily({ crypto: this.o.crypto, random: this.o.random, clock: this.o.clock, secretKey: sk, toyPublicKey: toyPk, sharedKey: shared, lastToySeq, lastSettingsSeq, counters: this.counters });
    this.pairing = rec;
    this.resumePartials();
  }

  /**
   * Pairs with the toy over `transport` (the toy must be in pairing mode) with the
   * label's setup code, as family member `name`. Sends the network settings when
   * given (the first phone must). Stores the pairing; returns it and the toy's answer.
   * Throws PairingError / SetupCodeError (the code is checked before the radio is used).
   */
  async pair(
    transport: () => Promise<PhoneTransport>,
    o: { setupCode: string; name: string; toyName?: string; network?: NetworkSettings; brokerUrl: string; memberId?: string },
  ): Promise<{ record: PairingRecord; result: PairWithToyResult }> {
    checkSetupCode(o.setupCode);
    const nameBytes = te.encode(o.name).length;
    if (nameBytes < 1 || nameBytes > 32) throw new ParentError('BAD_INPUT', 'the name must be 1 to 32 bytes');
    const sk = this.secretKey();
    const pk = this.o.crypto.boxKeyPairFromSecret(sk).publicKey;
    const id = new Uint8Array(6);
    this.o.random.fill(id);
    const memberId = o.memberId ?? `p${toHex(id)}`;
    const result = await pairWithToy(await transport(), {
      crypto: this.o.crypto,
      random: this.o.random,
      setupCode: o.setupCode,
      member: { publicKey: pk, secretKey: sk },
      memberId,
      name: o.name,
      network: o.network,
    });
    const old = this.pairing;
    const rec: PairingRecord = {
      toyId: result.toyId,
      toyPublicKey: toHex(result.toyPublicKey),
      sharedKey: toHex(result.sharedKey),
      memberId,
      name: o.name,
      toyName: o.toyName ?? old?.toyName ?? 'the toy',
      setupCode: o.setupCode,
      brokerUser: phoneBrokerUser(this.o.crypto, pk),
      // the same password when pairing again with the same toy: the account stays valid
      brokerPassword: old && old.toyId === result.toyId ? old.brokerPassword : makePassword(this.o.random),
      brokerUrl: o.brokerUrl,
      pairedAt: this.o.clock.wallNow(),
    };
    result.sharedKey.fill(0);
    if (old?.toyId !== result.toyId) {
      // another toy: not seen at the relay yet; settings kept for the old one do not apply
      this.o.storage.remove(SEEN_KEY);
      this.o.storage.remove(SETTINGS_PENDING_KEY);
    }
    this.o.storage.write(PAIR_KEY, te.encode(JSON.stringify(rec)));
    this.load(rec);
    return { record: rec, result };
  }

  /**
   * Removes family member `memberId` from the toy over BLE (the toy must be in pairing
   * mode: paw and heart held 3 s). This phone authenticates with the stored setup code
   * and is re-registered under its own id (a no-op for the toy). Throws NOT_PAIRED,
   * BAD_INPUT (removing itself), PairingError (REFUSED with the toy's NOT_FOUND, ...).
   */
  async removeMember(transport: () => Promise<PhoneTransport>, memberId: string): Promise<PairWithToyResult> {
    const p = this.requirePaired();
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(memberId)) throw new ParentError('BAD_INPUT', 'a member id is 1 to 16 of A-Z a-z 0-9 _ -');
    if (memberId === p.memberId) throw new ParentError('BAD_INPUT', 'this phone cannot remove itself (factory-reset the toy, or remove it from another phone)');
    const sk = this.secretKey();
    const r = await pairWithToy(await transport(), {
      crypto: this.o.crypto,
      random: this.o.random,
      setupCode: p.setupCode,
      member: { publicKey: this.o.crypto.boxKeyPairFromSecret(sk).publicKey, secretKey: sk },
      memberId: p.memberId,
      name: p.name,
      remove: [memberId],
    });
    r.sharedKey.fill(0);
    return r;
  }

  private requirePaired(): PairingRecord {
    if (!this.pairing || !this.env || !this.hist) throw new ParentError('NOT_PAIRED', 'not paired with a toy yet: run pair first');
    return this.pairing;
  }

  /** The toy's topics for this pairing: messages (in, out) and the family's (fam: receipts and notices, status, set). */
  topics(): { in: string; out: string; fam: string; status: string; set: string } {
    const id = this.requirePaired().toyId;
    return { ...toyTopics(id), ...familyTopics(id) };
  }

  /**
   * A note from the toy (the fam topic, docs/PROTOCOL.md "Family notes"). A receipt moves
   * the sent message's state forward (delivered, heard); a member notice is returned for
   * the app to show. Never throws: a note that does not open (forged, for another member,
   * a replay) is counted `family.<CODE>` and gives undefined; a receipt for a message this
   * phone does not have is counted `parent.receipt_unknown`.
   */
  receiveNote(payload: Uint8Array): ToyNote | undefined {
    const fam = this.fam;
    if (!fam) return undefined;
    let n: ToyNote;
    try {
      n = fam.openToyNote(payload);
    } catch {
      return undefined;
    }
    writeU32(this.o.storage, NOTE_SEQ_KEY, fam.lastToySeq);
    if (n.kind === 'receipt') {
      try {
        this.history.setState(n.messageId, n.state);
      } catch {
        this.counters.inc('parent.receipt_unknown');
      }
    }
    return n;
  }

  /** Seals family settings for the toy (publish on topics().set). Throws FamilyNoteError BAD_SETTINGS, ParentError NOT_PAIRED. */
  sealSettings(settings: FamilySettings): Uint8Array {
    this.requirePaired();
    checkSettings(settings);
    const note = this.fam!.sealSettings(settings);
    // kept before the note leaves: settings sealed by the next run (even within the same second) are numbered above it
    writeU32(this.o.storage, SETTINGS_SEQ_KEY, this.fam!.lastSettingsSeq);
    return note;
  }

  /** The settings this phone sent last (DEFAULT_SETTINGS before any, or when the kept copy is unreadable). */
  lastSettings(): FamilySettings {
    const b = this.o.storage.read(SETTINGS_KEY);
    if (!b) return { ...DEFAULT_SETTINGS };
    try {
      const s = { ...DEFAULT_SETTINGS, ...(JSON.parse(td.decode(b)) as Partial<FamilySettings>) };
      checkSettings(s);
      return s;
    } catch {
      this.counters.inc('parent.settings_unreadable');
      return { ...DEFAULT_SETTINGS };
    }
  }

  /**
   * Keeps the settings just sent (after the relay took them), or, with `pending`, settings
   * that wait on this phone until the toy has been seen (sendWaiting() sends them).
   */
  keepSettings(settings: FamilySettings, pending = false): void {
    this.o.storage.write(SETTINGS_KEY, te.encode(JSON.stringify(settings)));
    if (pending) this.o.storage.write(SETTINGS_PENDING_KEY, new Uint8Array([1]));
    else this.o.storage.remove(SETTINGS_PENDING_KEY);
  }

  /** The last settings wait on this phone (kept with keepSettings(…, true), not yet at the relay). */
  get settingsPending(): boolean {
    return this.o.storage.read(SETTINGS_PENDING_KEY) !== undefined;
  }

  /**
   * The toy's retained status record (the status topic), or undefined when it does not parse
   * (counted). A record that parses, online or offline, marks the toy as seen: the toy
   * publishes it only after the broker granted its subscriptions (src/mqtt-session.ts), so
   * from then on the relay keeps what is sent to the toy while it is away. The one
   * exception is the last will of a toy whose subscriptions were never granted (state 2,
   * `neverSubscribed`): it does not mark the toy as seen.
   */
  readStatus(payload: Uint8Array): { online: boolean; sinceMs: number } | undefined {
    try {
      const st = parseToyStatus(payload);
      // a new toy's last will (its subscriptions never granted: no queue at the relay yet) is not "seen"
      if (!this.toySeen && !st.neverSubscribed) this.o.storage.write(SEEN_KEY, new Uint8Array([1]));
      return st;
    } catch {
      this.counters.inc('parent.status_malformed');
      return undefined;
    }
  }

  /**
   * This phone has seen the toy's status record since pairing (kept across runs). Before
   * that the toy may never have subscribed at the relay, and a broker such as Mosquitto
   * drops (while acknowledging) what is published for a client id that never subscribed:
   * a message sent then would be lost, so the app keeps it (send() without a link).
   */
  get toySeen(): boolean {
    return this.o.storage.read(SEEN_KEY) !== undefined;
  }

  /**
   * Seals `packets` (20 ms Opus packets, 1..3000) for the toy, stores the sealed message
   * as 'sending', publishes every chunk through `link`, then marks it 'queued' (the relay
   * holds it for the toy). Without a link (the toy not seen yet: toySeen) the message stays
   * 'sending', waiting on this phone for sendWaiting(). When publishing fails the message
   * stays 'sending' too, and the error is thrown. Throws NOT_PAIRED, BAD_INPUT, the link's error.
   */
  async send(packets: readonly Uint8Array[], link: ParentLink | undefined): Promise<HistoryRecord> {
    const p = this.requirePaired();
    if (packets.length < 1 || packets.length > MAX_PACKETS) throw new ParentError('BAD_INPUT', `a message has 1 to ${MAX_PACKETS} packets (60 s), not ${packets.length}`);
    const msg = this.env!.begin();
    const chunks: Uint8Array[] = [];
    for (const pkt of packets) {
      const c = msg.addPacket(pkt, pkt.length);
      if (c) chunks.push(c.slice());
    }
    chunks.push(msg.finish().slice());
    const now = this.o.clock.wallNow();
    const rec = this.hist!.add({ direction: 'sent', state: 'sending', name: p.name, at: now, createdMs: now, durationMs: packets.length * PACKET_MS, chunks });
    if (!link) {
      this.counters.inc('parent.kept');
      return rec;
    }
    return this.publishSent(rec, link);
  }

  private async publishSent(rec: HistoryRecord, link: ParentLink): Promise<HistoryRecord> {
    const topic = this.topics().in;
    for (const c of rec.chunks) await link.publish(topic, c);
    this.hist!.setState(rec.id, 'queued');
    this.counters.inc('parent.sent');
    return { ...rec, state: 'queued' };
  }

  /**
   * Sends what waits on this phone, oldest first: sent messages still 'sending' (kept
   * before the toy was seen, or a publish that failed; a chunk the toy already has is
   * dropped there as a duplicate) and settings kept with keepSettings(…, true), sealed
   * again now. Call it once the toy is seen. Returns the messages sent and whether the
   * settings went. Throws NOT_PAIRED, the link's error (what is left keeps waiting).
   */
  async sendWaiting(link: ParentLink): Promise<{ messages: HistoryRecord[]; settings: boolean }> {
    this.requirePaired();
    const waiting = this.history.list().records.filter((r) => r.direction === 'sent' && r.state === 'sending').reverse();
    const messages: HistoryRecord[] = [];
    for (const r of waiting) messages.push(await this.publishSent(r, link));
    let settings = false;
    if (this.settingsPending) {
      const st = this.lastSettings();
      await link.publish(this.topics().set, this.sealSettings(st));
      this.keepSettings(st);
      settings = true;
    }
    return { messages, settings };
  }

  /**
   * One chunk from the toy's topic. Never throws: a chunk that does not open is counted
   * and dropped; an accepted one is on disk when this returns.
   */
  receive(chunk: Uint8Array): ReceiveResult {
    if (!this.env || !this.hist || !this.pairing) {
      this.counters.inc('parent.drop_NOT_PAIRED');
      return { outcome: 'dropped', code: 'NOT_PAIRED' };
    }
    try {
      const h = peekChunk(chunk);
      const resumed = h ? this.incoming.get(h.messageKey) : undefined;
      const r = (resumed?.opener ?? this.env.opener).push(chunk);
      const key = r.info.messageKey;
      let m = this.incoming.get(key);
      if (!m) {
        m = { opener: this.env.opener, chunks: [], packets: 0, createdMs: r.info.createdMs };
        this.incoming.set(key, m);
      }
      m.chunks.push(chunk.slice());
      m.packets += r.packets.length;
      if (!r.final) {
        this.savePartial(key, m);
        return { outcome: 'partial' };
      }
      m.opener.finish(key);
      this.incoming.delete(key);
      const record = this.hist.add({
        direction: 'received',
        state: 'delivered',
        name: this.pairing.toyName,
        at: this.o.clock.wallNow(),
        createdMs: m.createdMs,
        durationMs: m.packets * PACKET_MS,
        chunks: m.chunks,
      });
      this.o.files.remove(`${PARTIAL}${key}.pm`);
      this.counters.inc('parent.received');
      return { outcome: 'stored', record };
    } catch (e) {
      const code = e instanceof EnvelopeError ? e.code : e instanceof HistoryError ? `HISTORY_${e.code}` : 'STORE';
      this.counters.inc(`parent.drop_${code}`);
      return { outcome: 'dropped', code };
    }
  }

  private savePartial(key: string, m: Incoming): void {
    this.o.files.write(
      `${PARTIAL}${key}.pm`,
      encodeRecord({ id: key, direction: 'received', state: 'sending', name: 'partial', at: this.o.clock.wallNow(), createdMs: m.createdMs, durationMs: m.packets * PACKET_MS, chunks: m.chunks }),
    );
  }

  /** Re-opens messages that were still arriving when the last run ended (their chunks were admitted then). */
  private resumePartials(): void {
    this.incoming.clear();
    for (const f of this.o.files.list()) {
      if (!f.startsWith(PARTIAL) || !f.endsWith('.pm')) continue;
      const key = f.slice(PARTIAL.length, -3);
      try {
        const rec = decodeRecord(key, this.o.files.read(f) ?? new Uint8Array(0));
        const opener = new EnvelopeOpener({
          crypto: this.o.crypto,
          keys: { receiveKeyFor: (pk) => this.hist && this.pairing && bytesEqual(pk, fromHex(this.pairing.toyPublicKey)) ? pairKey(this.o.crypto, fromHex(this.pairing.sharedKey), pk, this.env!.publicKey) : undefined },
          clock: this.o.clock,
          counters: this.counters,
        });
        let packets = 0;
        for (const c of rec.chunks) packets += opener.push(c).packets.length;
        this.incoming.set(key, { opener, chunks: rec.chunks, packets, createdMs: rec.createdMs });
      } catch {
        this.counters.inc('parent.partial_corrupt');
      }
    }
  }

  /** Messages still arriving (their final chunk has not come). */
  get arriving(): number {
    return this.incoming.size;
  }

  /**
   * The message as an Ogg Opus file (phone/ogg-opus.ts), from its stored packets, with
   * TITLE/ARTIST/DATE comments. Marks a received message 'heard'. Throws HistoryError.
   */
  exportOgg(id: string): { record: HistoryRecord; ogg: Uint8Array } {
    const { record, packets } = this.history.open(id);
    const ogg = writeOggOpus(packets, {
      inputRate: 16000,
      comments: [`TITLE=PawPost message ${record.id.slice(0, 8)}`, `ARTIST=${record.name}`, `DATE=${new Date(record.at).toISOString()}`],
    });
    if (record.direction === 'received') this.history.setState(record.id, 'heard');
    return { record, ogg };
  }

  /**
   * The enroll request for the relay's enrollment service (docs/BROKER.md "Phone
   * enrollment"): this phone's broker password sealed from its key to the relay's,
   * with `grant` (the toy's grant when the pairing handed one over; empty: "the grant
   * my toy delivered on its ctl topic"). Throws NOT_PAIRED, BAD_INPUT (relay key not
   * 32 bytes or of small order), GrantError.
   */
  enrollRequest(relayPublicKey: Uint8Array, grant: Uint8Array = new Uint8Array(0)): Uint8Array {
    const p = this.requirePaired();
    if (relayPublicKey.length !== 32 || isSmallOrderKey(relayPublicKey)) throw new ParentError('BAD_INPUT', 'the relay public key must be 32 bytes and not of small order');
    const sk = this.secretKey();
    const k = this.o.crypto.boxBefore(relayPublicKey, sk);
    const nonce = new Uint8Array(24);
    this.o.random.fill(nonce);
    try {
      return makeEnrollRequest({ crypto: this.o.crypto, phonePublicKey: this.o.crypto.boxKeyPairFromSecret(sk).publicKey, phoneRelayKey: k, grant, password: p.brokerPassword, nonce });
    } finally {
      k.fill(0);
    }
  }

  /** The receipts' entry point (see phone/message-history.ts): moves a message's state forward. */
  setState(id: string, state: MessageState): boolean {
    return this.history.setState(id, state);
  }
}
