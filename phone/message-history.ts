/**
 * The phone's message history: every message received from the toy and every
 * message this phone sent, stored SEALED as it went over the wire (the envelope
 * chunks, ciphertext), with what the app shows beside it: direction, sender name,
 * time, duration and state. Audio is opened only for playback or export (open()),
 * with the keys the phone already holds; nothing readable lies on disk but the
 * names and times. Portable: files come through a HistoryFilesPort (a directory on
 * the host: tools/parent-node.ts DirFiles; app storage on a phone).
 *
 * One file per message, `m-<id>.pm`, where id = the envelope's message id (32
 * lowercase hex, src/envelope-format.ts messageKey): the same id the toy sees, so a
 * receipt that names a message finds it here. Record (little endian):
 *   "PPM1" | direction u8 (0 received, 1 sent) | state u8 | reserved u16
 *   | at f64 (ms since epoch: arrival, or sending) | created f64 (envelope creation, ms)
 *   | duration u32 (ms) | name length u8 | name UTF-8 (≤ 64 bytes)
 *   | chunk count u16 (1..MAX_CHUNKS) | per chunk: length u16 (≤ MAX_CHUNK_BYTES), bytes
 *   | CRC-32 (Ogg polynomial, of everything before it) u32
 * Files are written whole through the port (atomic replace), at most MAX_RECORD_BYTES.
 *
 * States move only forward: sending → queued → delivered → heard
 * (setState refuses to go back and answers false). For a sent message: 'sending'
 * while chunks are published, 'queued' when the relay acknowledged every chunk
 * (MQTT QoS 1 PUBACK), 'delivered' when the toy has it, 'heard' when the child
 * played it. RECEIPTS PLUG IN HERE: the code that opens the toy's sealed
 * delivered/played receipts (phone/phone-family.ts, another change) calls
 * `history.setState(messageId, 'delivered' | 'heard')`; an unknown id is a
 * HistoryError NOT_FOUND it should count and drop. A received message is stored as
 * 'delivered' and becomes 'heard' when the parent plays or exports it.
 *
 * Bounds: a file that is short, has the wrong magic, a length past its end, a bad
 * CRC or an unknown state is HistoryError CORRUPT and the counter `history.corrupt`;
 * list() skips it (reporting its name in `corrupt`) and every other message stays
 * readable; the damaged file is left on disk for inspection, never rewritten.
 * Errors: HistoryError NOT_FOUND, AMBIGUOUS (an id prefix matching several), CORRUPT,
 * OPEN (stored chunks no longer open: wrong keys or tampered ciphertext), INVALID
 * (bad name, too many chunks, an empty message).
 */
import type { ClockPort, CryptoPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { EnvelopeError, MAX_CHUNK_BYTES, MAX_CHUNKS, PACKET_MS, peekChunk } from '../src/envelope-format.js';
import { EnvelopeOpener, type SenderKeys } from '../src/envelope-opener.js';
import { oggCrc } from './ogg-opus.js';

/** Files by name, whole: the port the history needs from its platform. */
export interface HistoryFilesPort {
  /** A copy of the file, or undefined when absent. */
  read(name: string): Uint8Array | undefined;
  /** Replaces the file atomically (a crash leaves the old or the new file, never half). */
  write(name: string, bytes: Uint8Array): void;
  /** Removes the file; an absent file is not an error. */
  remove(name: string): void;
  /** Names of the files, ascending. */
  list(): string[];
}

export type MessageDirection = 'received' | 'sent';
export type MessageState = 'sending' | 'queued' | 'delivered' | 'heard';
export const MESSAGE_STATES: readonly MessageState[] = ['sending', 'queued', 'delivered', 'heard'];

export interface HistoryRecord {
  /** The envelope message id, 32 lowercase hex. */
  id: string;
  direction: MessageDirection;
  state: MessageState;
  /** Who spoke: the toy's name for a received message, this member's name for a sent one. */
  name: string;
  /** Arrival (received) or sending (sent) time, ms since the Unix epoch. */
  at: number;
  /** The envelope's creation time, ms since the Unix epoch. */
  createdMs: number;
  durationMs: number;
  /** The sealed chunks as they went over the wire (copies). */
  chunks: Uint8Array[];
}

export type HistoryErrorCode = 'NOT_FOUND' | 'AMBIGUOUS' | 'CORRUPT' | 'OPEN' | 'INVALID';

export class HistoryError extends Error {
  override readonly name = 'HistoryError';
  readonly code: HistoryErrorCode;
  constructor(code: HistoryErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const MAX_NAME_BYTES = 64;
/** Largest record file, bytes (a 60 s message at 15 packets per chunk is about 200 KB). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
const MAGIC = [0x50, 0x50, 0x4d, 0x31]; // "PPM1"
const PREFIX = 'm-';
const SUFFIX = '.pm';
const ID_RE = /^[0-9a-f]{32}$/;

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

/** The record file's bytes. Throws HistoryError INVALID. */
export function encodeRecord(r: HistoryRecord): Uint8Array {
  const name = te.encode(r.name);
  if (name.length < 1 || name.length > MAX_NAME_BYTES) throw new HistoryError('INVALID', `name of ${name.length} bytes (1..${MAX_NAME_BYTES})`);
  if (r.chunks.length < 1 || r.chunks.length > MAX_CHUNKS) throw new HistoryError('INVALID', `${r.chunks.length} chunks`);
  if (!ID_RE.test(r.id)) throw new HistoryError('INVALID', 'message id must be 32 lowercase hex');
  let size = 4 + 4 + 8 + 8 + 4 + 1 + name.length + 2 + 4;
  for (const c of r.chunks) {
    if (c.length < 1 || c.length > MAX_CHUNK_BYTES) throw new HistoryError('INVALID', `chunk of ${c.length} bytes`);
    size += 2 + c.length;
  }
  if (size > MAX_RECORD_BYTES) throw new HistoryError('INVALID', `record of ${size} bytes`);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set(MAGIC, 0);
  b[4] = r.direction === 'received' ? 0 : 1;
  b[5] = MESSAGE_STATES.indexOf(r.state);
  dv.setFloat64(8, r.at, true);
  dv.setFloat64(16, r.createdMs, true);
  dv.setUint32(24, Math.max(0, Math.min(0xffffffff, Math.round(r.durationMs))), true);
  b[28] = name.length;
  b.set(name, 29);
  let at = 29 + name.length;
  dv.setUint16(at, r.chunks.length, true);
  at += 2;
  for (const c of r.chunks) {
    dv.setUint16(at, c.length, true);
    b.set(c, at + 2);
    at += 2 + c.length;
  }
  dv.setUint32(at, oggCrc(b, 0, at), true);
  return b;
}

/** Parses a record file, checking every bound. Throws HistoryError CORRUPT. */
export function decodeRecord(id: string, b: Uint8Array): HistoryRecord {
  const bad = (why: string) => new HistoryError('CORRUPT', `message ${id.slice(0, 8)}: ${why}`);
  if (b.length < 35 || b.length > MAX_RECORD_BYTES) throw bad(`file of ${b.length} bytes`);
  for (let i = 0; i < 4; i++) if (b[i] !== MAGIC[i]) throw bad('not a message record');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(b.length - 4, true) !== oggCrc(b, 0, b.length - 4)) throw bad('checksum does not match');
  const direction = b[4] === 0 ? 'received' : b[4] === 1 ? 'sent' : undefined;
  const state = MESSAGE_STATES[b[5]!];
  if (!direction || !state) throw bad('unknown direction or state');
  const atMs = dv.getFloat64(8, true);
  const createdMs = dv.getFloat64(16, true);
  if (!Number.isFinite(atMs) || !Number.isFinite(createdMs)) throw bad('bad time');
  const durationMs = dv.getUint32(24, true);
  const nameLen = b[28]!;
  let at = 29 + nameLen;
  if (nameLen < 1 || nameLen > MAX_NAME_BYTES || at + 2 > b.length - 4) throw bad('name runs past the end');
  let name: string;
  try {
    name = td.decode(b.subarray(29, at));
  } catch {
    throw bad('name is not UTF-8');
  }
  const count = dv.getUint16(at, true);
  at += 2;
  if (count < 1 || count > MAX_CHUNKS) throw bad(`${count} chunks`);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 2 > b.length - 4) throw bad('chunk table runs past the end');
    const n = dv.getUint16(at, true);
    if (n < 1 || n > MAX_CHUNK_BYTES || at + 2 + n > b.length - 4) throw bad('chunk runs past the end');
    chunks.push(b.slice(at + 2, at + 2 + n));
    at += 2 + n;
  }
  if (at !== b.length - 4) throw bad('trailing bytes');
  return { id, direction, state, name, at: atMs, createdMs, durationMs, chunks };
}

export interface MessageHistoryOptions {
  files: HistoryFilesPort;
  crypto: CryptoPort;
  /** Receive keys by sender: K(toy→phone) for the toy, K(phone→toy) for this phone's own messages. */
  keys: SenderKeys;
  clock: Pick<ClockPort, 'wallNow'>;
  counters?: Counters;
}

/** A listing: the readable records, newest first, and the names of damaged files. */
export interface HistoryListing {
  records: HistoryRecord[];
  corrupt: string[];
}

export class MessageHistory {
  readonly counters: Counters;
  constructor(private readonly o: MessageHistoryOptions) {
    this.counters = o.counters ?? new Counters();
  }

  private fileOf(id: string): string {
    return `${PREFIX}${id}${SUFFIX}`;
  }

  /** Stores a message (received or sent) as its sealed chunks. Throws HistoryError INVALID. */
  add(r: Omit<HistoryRecord, 'id'> & { id?: string }): HistoryRecord {
    const head = peekChunk(r.chunks[0] ?? new Uint8Array(0));
    if (!head || head.index !== 0) throw new HistoryError('INVALID', 'the first chunk is not a message head');
    const rec: HistoryRecord = { ...r, id: head.messageKey, chunks: r.chunks.map((c) => c.slice()) };
    this.o.files.write(this.fileOf(rec.id), encodeRecord(rec));
    this.counters.inc(`history.add_${rec.direction}`);
    return rec;
  }

  /** Every readable record, newest first; damaged files are counted and named, not thrown. */
  list(): HistoryListing {
    const records: HistoryRecord[] = [];
    const corrupt: string[] = [];
    for (const f of this.o.files.list()) {
      if (!f.startsWith(PREFIX) || !f.endsWith(SUFFIX)) continue;
      const id = f.slice(PREFIX.length, -SUFFIX.length);
      if (!ID_RE.test(id)) continue;
      try {
        records.push(this.read(id));
      } catch (e) {
        if (!(e instanceof HistoryError)) throw e;
        corrupt.push(f);
      }
    }
    records.sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1));
    return { records, corrupt };
  }

  /** Resolves a full id or a unique prefix (at least 4 hex digits). Throws NOT_FOUND, AMBIGUOUS. */
  resolve(idOrPrefix: string): string {
    const p = idOrPrefix.toLowerCase();
    if (!/^[0-9a-f]{4,32}$/.test(p)) throw new HistoryError('NOT_FOUND', 'a message id is 4 to 32 hex digits');
    const hits = this.o.files
      .list()
      .filter((f) => f.startsWith(PREFIX + p) && f.endsWith(SUFFIX))
      .map((f) => f.slice(PREFIX.length, -SUFFIX.length))
      .filter((id) => ID_RE.test(id));
    if (hits.length === 0) throw new HistoryError('NOT_FOUND', `no message ${idOrPrefix}`);
    if (hits.length > 1) throw new HistoryError('AMBIGUOUS', `${hits.length} messages start with ${idOrPrefix}: give more digits`);
    return hits[0]!;
  }

  /** One record by id or unique prefix. Throws NOT_FOUND, AMBIGUOUS, CORRUPT (counted). */
  get(idOrPrefix: string): HistoryRecord {
    return this.read(this.resolve(idOrPrefix));
  }

  private read(id: string): HistoryRecord {
    const b = this.o.files.read(this.fileOf(id));
    if (!b) throw new HistoryError('NOT_FOUND', `no message ${id}`);
    try {
      return decodeRecord(id, b);
    } catch (e) {
      this.counters.inc('history.corrupt');
      throw e;
    }
  }

  /**
   * Moves a message's state forward (the receipts' entry point). Returns true when it
   * changed, false when the message is already at or past `state`. Throws NOT_FOUND,
   * CORRUPT (counted; the file is left as it is).
   */
  setState(id: string, state: MessageState): boolean {
    const full = this.resolve(id);
    const r = this.read(full);
    if (MESSAGE_STATES.indexOf(state) <= MESSAGE_STATES.indexOf(r.state)) return false;
    r.state = state;
    this.o.files.write(this.fileOf(full), encodeRecord(r));
    this.counters.inc(`history.state_${state}`);
    return true;
  }

  /** Removes a message from the phone. Throws NOT_FOUND, AMBIGUOUS. */
  remove(idOrPrefix: string): void {
    this.o.files.remove(this.fileOf(this.resolve(idOrPrefix)));
  }

  /**
   * Opens a stored message for playback: its Opus packets in order (copies). The
   * envelope is checked again (authentication of every chunk, order, the final
   * flag) as at arrival, at the time it arrived (so an old message still opens), with
   * no replay check (it was admitted once). Throws NOT_FOUND, CORRUPT, OPEN.
   */
  open(idOrPrefix: string): { record: HistoryRecord; packets: Uint8Array[] } {
    const record = this.get(idOrPrefix);
    const opener = new EnvelopeOpener({ crypto: this.o.crypto, keys: this.o.keys, clock: { wallNow: () => record.createdMs }, counters: this.counters });
    const packets: Uint8Array[] = [];
    try {
      let final = false;
      for (const c of record.chunks) {
        const r = opener.push(c);
        for (const p of r.packets) packets.push(p.slice());
        if (r.final) {
          opener.finish(r.info.messageKey);
          final = true;
        }
      }
      if (!final) throw new EnvelopeError('TRUNCATED', 'no final chunk');
    } catch (e) {
      this.counters.inc('history.open_failed');
      throw new HistoryError('OPEN', `message ${record.id.slice(0, 8)} does not open: ${e instanceof EnvelopeError ? e.code : 'error'}`);
    } finally {
      opener.close();
    }
    return { record, packets };
  }
}

/** Duration of `packets` Opus packets of 20 ms, in ms. */
export function packetsDurationMs(packets: number): number {
  return packets * PACKET_MS;
}
