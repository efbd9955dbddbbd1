/**
 * Family notes: the small sealed messages between the toy and each family phone
 * that are not audio (docs/PROTOCOL.md "Family notes"): receipts (a message was
 * delivered to the toy / heard by the child), member notices (a phone was added
 * or removed) and family settings (quiet hours, volume limit). Also the toy's
 * clear status record (online / offline) and the MQTT topics of all three.
 *
 * Every note is sealed for exactly one recipient under a key only the sender
 * and that recipient can derive (the X25519 shared key K of the pair, cached
 * from pairing, never used directly):
 *
 *   noteKey(S→R) = SHA-512("PawPost family note v1" || K || S.public || R.public)[0,32)
 *   note (137 bytes) = 0x46 || S.public (32) || nonce (24, random) || secretbox(body, nonce, noteKey(S→R))
 *   body (64 bytes)  = u8 kind || u32 seq || u32 time (s since 1970; 0 = the sender's clock unset) || fields || zero padding
 *
 * The kind, the message id of a receipt and a member's name are inside the box;
 * every note has the same length, so the relay cannot tell a receipt from a
 * notice or from settings. `seq` rises per sender (toy: `fn.seq`, kept by a
 * factory reset; phone: its own counter): a receiver refuses a seq that is not
 * above the last one it accepted (STALE), so a relay replaying old notes changes
 * nothing. Portable; no allocation beyond the returned buffers (the toy's receipts
 * use the allocation-free path: encodeReceiptBodyHex and sealNoteInPlace into one
 * note buffer, issue 13).
 *
 * Errors: FamilyNoteError with a stable code (SIZE, VERSION, UNKNOWN_SENDER,
 * AUTH, MALFORMED, KIND, STALE, BAD_SETTINGS, STORAGE); messages never hold keys.
 */
import type { CryptoPort } from '../hal/ports.js';
import { concatBytes } from './bytes.js';
import { KEY_BYTES, MESSAGE_ID_BYTES, NONCE_BYTES, TAG_BYTES, asciiBytes, labelBytes, readU32, writeU32 } from './envelope-format.js';

export const NOTE_VERSION = 0x46;
/** Sealed body length (fields and zero padding). */
export const NOTE_BODY_BYTES = 64;
/** Every note: version (1) + sender key (32) + nonce (24) + tag (16) + body (64) = 137 bytes. */
export const NOTE_BYTES = 1 + KEY_BYTES + NONCE_BYTES + TAG_BYTES + NOTE_BODY_BYTES;
export const LABEL_NOTE_KEY = 'PawPost family note v1';
/** Where the parts of a note start: the nonce (24 bytes), the box (16-byte tag, then the sealed body). */
export const NOTE_NONCE_AT = 1 + KEY_BYTES;
export const NOTE_BOX_AT = NOTE_NONCE_AT + NONCE_BYTES;
/** Where the body sits in a note buffer before sealNoteInPlace seals it there. */
export const NOTE_BODY_AT = NOTE_BOX_AT + TAG_BYTES;

/** Note kinds (body byte 0). */
export const KIND_RECEIPT = 1;
export const KIND_MEMBER = 2;
export const KIND_SETTINGS = 3;

/** Receipt states: the message is stored on the toy (delivered), the child played it to the end (heard). */
export type ReceiptState = 'delivered' | 'heard';
export type MemberChange = 'added' | 'removed';

export type FamilyNoteErrorCode = 'SIZE' | 'VERSION' | 'UNKNOWN_SENDER' | 'AUTH' | 'MALFORMED' | 'KIND' | 'STALE' | 'BAD_SETTINGS' | 'STORAGE';

export class FamilyNoteError extends Error {
  override readonly name = 'FamilyNoteError';
  constructor(readonly code: FamilyNoteErrorCode, message: string) {
    super(message);
  }
}

/** MQTT topics of a toy's family features (docs/BROKER.md): the toy writes `fam` and `status`, reads `set`. */
export function familyTopics(toyId: string): { fam: string; set: string; status: string } {
  return { fam: `pp/t/${toyId}/fam`, set: `pp/t/${toyId}/set`, status: `pp/t/${toyId}/status` };
}

/**
 * Family settings the toy enforces. Quiet hours are local wall-clock minutes of
 * the day (0..1439) in the phone's UTC offset at the time it sent them; start
 * and end may cross midnight (22:00 → 07:00); start = end is refused.
 */
export interface FamilySettings {
  quietEnabled: boolean;
  /** Minute of the local day quiet hours begin, 0..1439. */
  quietStartMin: number;
  /** Minute of the local day quiet hours end (exclusive), 0..1439. */
  quietEndMin: number;
  /** The family's UTC offset in minutes, -720..840 (the toy has no time zone of its own). */
  utcOffsetMin: number;
  /** Playback volume limit in percent, 1..100 (100 = the speaker's full volume). */
  volumePercent: number;
}

export const DEFAULT_SETTINGS: FamilySettings = { quietEnabled: false, quietStartMin: 0, quietEndMin: 0, utcOffsetMin: 0, volumePercent: 100 };

/** Throws FamilyNoteError('BAD_SETTINGS') naming the field (never a key). */
export function checkSettings(s: FamilySettings): void {
  const int = (v: unknown, lo: number, hi: number, what: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new FamilyNoteError('BAD_SETTINGS', `${what} must be an integer ${lo}..${hi}`);
  };
  if (typeof s !== 'object' || s === null) throw new FamilyNoteError('BAD_SETTINGS', 'settings missing');
  if (typeof s.quietEnabled !== 'boolean') throw new FamilyNoteError('BAD_SETTINGS', 'quietEnabled must be a boolean');
  int(s.quietStartMin, 0, 1439, 'quietStartMin');
  int(s.quietEndMin, 0, 1439, 'quietEndMin');
  int(s.utcOffsetMin, -720, 840, 'utcOffsetMin');
  int(s.volumePercent, 1, 100, 'volumePercent');
  if (s.quietEnabled && s.quietStartMin === s.quietEndMin) throw new FamilyNoteError('BAD_SETTINGS', 'quiet hours start and end are equal');
}

/** 8 bytes: u8 flags (bit 0 quiet hours on) || u16 start || u16 end || i16 UTC offset || u8 volume. Checked first. */
export function encodeSettings(s: FamilySettings, out: Uint8Array, at: number): void {
  checkSettings(s);
  out[at] = s.quietEnabled ? 1 : 0;
  out[at + 1] = s.quietStartMin >> 8;
  out[at + 2] = s.quietStartMin & 255;
  out[at + 3] = s.quietEndMin >> 8;
  out[at + 4] = s.quietEndMin & 255;
  const off = s.utcOffsetMin & 0xffff;
  out[at + 5] = off >> 8;
  out[at + 6] = off & 255;
  out[at + 7] = s.volumePercent;
}

/** Reads 8 bytes written by encodeSettings; throws BAD_SETTINGS for any value out of bounds or a flag bit other than 0. */
export function decodeSettings(b: Uint8Array, at: number): FamilySettings {
  if (b.length < at + 8) throw new FamilyNoteError('BAD_SETTINGS', 'settings too short');
  if ((b[at]! & 0xfe) !== 0) throw new FamilyNoteError('BAD_SETTINGS', 'unknown settings flag');
  const u16 = (o: number) => (b[at + o]! << 8) | b[at + o + 1]!;
  const off = u16(5);
  const s: FamilySettings = {
    quietEnabled: (b[at]! & 1) === 1,
    quietStartMin: u16(1),
    quietEndMin: u16(3),
    utcOffsetMin: off >= 0x8000 ? off - 0x10000 : off,
    volumePercent: b[at + 7]!,
  };
  checkSettings(s);
  return s;
}

/** What a note says (after opening). */
export type NoteContent =
  | { kind: 'receipt'; messageId: Uint8Array; state: ReceiptState }
  | { kind: 'member'; change: MemberChange; id: string; name: string }
  | { kind: 'settings'; settings: FamilySettings };

export interface OpenedNote {
  /** The sender's public key (own copy). */
  sender: Uint8Array;
  seq: number;
  /** Sender's wall clock when it made the note, ms since 1970 (whole seconds); 0 = its clock was unset. */
  timeMs: number;
  content: NoteContent;
}

/** noteKey(S→R) (see the file comment). Returns a new 32-byte key. */
export function noteKey(crypto: Pick<CryptoPort, 'sha512'>, shared: Uint8Array, senderPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  const d = crypto.sha512(concatBytes([labelBytes(LABEL_NOTE_KEY), shared, senderPublic, recipientPublic]));
  const k = d.slice(0, KEY_BYTES);
  d.fill(0);
  return k;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Writes the common head of a body (kind, seq, time) at b[at..) after zeroing the 64 bytes. Throws MALFORMED (seq). */
function bodyHead(b: Uint8Array, at: number, kind: number, seq: number, timeMs: number): void {
  if (!Number.isInteger(seq) || seq < 1 || seq > 0xffffffff) throw new FamilyNoteError('MALFORMED', 'seq must be 1..2^32-1');
  if (at < 0 || at + NOTE_BODY_BYTES > b.length) throw new FamilyNoteError('MALFORMED', 'body outside the buffer');
  b.fill(0, at, at + NOTE_BODY_BYTES);
  b[at] = kind;
  writeU32(b, at + 1, seq);
  const t = timeMs > 0 ? Math.floor(timeMs / 1000) : 0;
  writeU32(b, at + 5, t > 0xffffffff ? 0 : t);
}

/**
 * String.prototype.charCodeAt called through .call: `s.charCodeAt(i)` on a string value
 * makes a String wrapper object per call in XS (2 heap slots each, 64 for a message key,
 * measured with bench/probe-receipt.ts); `.call(s, i)` makes none.
 */
const charCodeAt = String.prototype.charCodeAt;

/** The value of one ASCII hex digit (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * The 64-byte body of a receipt into out[at, at+64) (zeroed first), the message id
 * from its 32 hex digits (either case; the inbox's message key). Allocates nothing
 * (issue 13: the toy sends two receipts per message). Throws FamilyNoteError
 * MALFORMED (seq, a key that is not 32 hex digits, a range outside `out`); on a
 * throw the 64 bytes are zero or untouched.
 */
export function encodeReceiptBodyHex(out: Uint8Array, at: number, seq: number, timeMs: number, messageKeyHex: string, state: ReceiptState): void {
  // exactly 32 characters: a 33rd is NaN (`.length` of a string value also makes a wrapper in XS);
  // a shorter key gives NaN, not a hex digit, in the loop below
  if (typeof messageKeyHex !== 'string' || !Number.isNaN(charCodeAt.call(messageKeyHex, 2 * MESSAGE_ID_BYTES))) throw new FamilyNoteError('MALFORMED', 'message key must be 32 hex digits');
  bodyHead(out, at, KIND_RECEIPT, seq, timeMs);
  for (let i = 0; i < MESSAGE_ID_BYTES; i++) {
    const hi = hexValue(charCodeAt.call(messageKeyHex, 2 * i));
    const lo = hexValue(charCodeAt.call(messageKeyHex, 2 * i + 1));
    if (hi < 0 || lo < 0) {
      out.fill(0, at, at + NOTE_BODY_BYTES);
      throw new FamilyNoteError('MALFORMED', 'message key must be 32 hex digits');
    }
    out[at + 9 + i] = (hi << 4) | lo;
  }
  out[at + 25] = state === 'delivered' ? 1 : 2;
}

/**
 * The 64-byte body of a note: into `out` at `at` (zeroed first) when given, else a new
 * buffer; returns the buffer written. Throws FamilyNoteError (MALFORMED, BAD_SETTINGS)
 * for fields out of bounds.
 */
export function encodeNoteBody(seq: number, timeMs: number, c: NoteContent, out?: Uint8Array, at = 0): Uint8Array {
  const b = out ?? new Uint8Array(NOTE_BODY_BYTES);
  if (c.kind === 'receipt') {
    if (!(c.messageId instanceof Uint8Array) || c.messageId.length !== MESSAGE_ID_BYTES) throw new FamilyNoteError('MALFORMED', 'message id must be 16 bytes');
    bodyHead(b, at, KIND_RECEIPT, seq, timeMs);
    b.set(c.messageId, at + 9);
    b[at + 25] = c.state === 'delivered' ? 1 : 2;
    return b;
  }
  if (c.kind === 'member') {
    const id = utf8(c.id);
    const name = utf8(c.name);
    if (id.length < 1 || id.length > 16 || name.length < 1 || name.length > 32) throw new FamilyNoteError('MALFORMED', 'member id 1..16 and name 1..32 bytes');
    bodyHead(b, at, KIND_MEMBER, seq, timeMs);
    b[at + 9] = c.change === 'added' ? 1 : 2;
    b[at + 10] = id.length;
    b.set(id, at + 11);
    b[at + 11 + id.length] = name.length;
    b.set(name, at + 12 + id.length);
    return b;
  }
  checkSettings(c.settings);
  bodyHead(b, at, KIND_SETTINGS, seq, timeMs);
  encodeSettings(c.settings, b, at + 9);
  return b;
}

function decodeNoteBody(b: Uint8Array): { seq: number; timeMs: number; content: NoteContent } {
  const seq = readU32(b, 1);
  if (seq === 0) throw new FamilyNoteError('MALFORMED', 'seq 0');
  const timeMs = readU32(b, 5) * 1000;
  let end: number;
  let content: NoteContent;
  switch (b[0]) {
    case KIND_RECEIPT: {
      const st = b[25];
      if (st !== 1 && st !== 2) throw new FamilyNoteError('MALFORMED', 'receipt state');
      content = { kind: 'receipt', messageId: b.slice(9, 25), state: st === 1 ? 'delivered' : 'heard' };
      end = 26;
      break;
    }
    case KIND_MEMBER: {
      const ch = b[9];
      const idLen = b[10]!;
      if ((ch !== 1 && ch !== 2) || idLen < 1 || idLen > 16) throw new FamilyNoteError('MALFORMED', 'member notice');
      const nameLen = b[11 + idLen]!;
      if (nameLen < 1 || nameLen > 32) throw new FamilyNoteError('MALFORMED', 'member name length');
      end = 12 + idLen + nameLen;
      let id = '';
      for (let i = 11; i < 11 + idLen; i++) {
        const c = b[i]!;
        // the roster's id alphabet: [A-Za-z0-9_-]
        if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95)) throw new FamilyNoteError('MALFORMED', 'member id');
        id += String.fromCharCode(c);
      }
      let name: string;
      try {
        name = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(12 + idLen, end));
      } catch {
        throw new FamilyNoteError('MALFORMED', 'member name is not UTF-8');
      }
      content = { kind: 'member', change: ch === 1 ? 'added' : 'removed', id, name };
      break;
    }
    case KIND_SETTINGS:
      content = { kind: 'settings', settings: decodeSettings(b, 9) };
      end = 17;
      break;
    default:
      throw new FamilyNoteError('KIND', 'unknown note kind');
  }
  for (let i = end; i < NOTE_BODY_BYTES; i++) if (b[i] !== 0) throw new FamilyNoteError('MALFORMED', 'padding not zero');
  return { seq, timeMs, content };
}

/**
 * Seals one note for one recipient. `key` = noteKey(S→R); `nonce` 24 random bytes
 * (never reused under a key: the caller draws them from its RandomPort). Returns NOTE_BYTES bytes.
 */
export function sealNote(crypto: Pick<CryptoPort, 'secretbox'>, key: Uint8Array, senderPublic: Uint8Array, nonce: Uint8Array, body: Uint8Array): Uint8Array {
  if (body.length !== NOTE_BODY_BYTES || nonce.length !== NONCE_BYTES || senderPublic.length !== KEY_BYTES) throw new FamilyNoteError('MALFORMED', 'note parts have the wrong size');
  const boxed = crypto.secretbox(body, nonce, key);
  const out = new Uint8Array(NOTE_BYTES);
  out[0] = NOTE_VERSION;
  out.set(senderPublic, 1);
  out.set(nonce, 1 + KEY_BYTES);
  out.set(boxed, 1 + KEY_BYTES + NONCE_BYTES);
  return out;
}

/**
 * Seals a note in place, allocating nothing (issue 13): `note` (NOTE_BYTES, the
 * caller's) holds the body at NOTE_BODY_AT (encodeReceiptBodyHex / encodeNoteBody
 * with at = NOTE_BODY_AT). Writes the version, the sender key and `nonce` (24 random
 * bytes, never reused under a key: the caller draws them from its RandomPort), then
 * seals the body where it lies: the note is then the same bytes sealNote gives, and
 * no plaintext is left in it. Uses the CryptoPort's secretboxInPlace when it has one
 * (the native and tweetnacl adapters do), else secretbox. Lent buffers.
 * Throws FamilyNoteError('MALFORMED') for wrong sizes (nothing sealed).
 */
export function sealNoteInPlace(crypto: Pick<CryptoPort, 'secretbox' | 'secretboxInPlace'>, key: Uint8Array, senderPublic: Uint8Array, nonce: Uint8Array, note: Uint8Array): void {
  if (note.length !== NOTE_BYTES || nonce.length !== NONCE_BYTES || senderPublic.length !== KEY_BYTES) throw new FamilyNoteError('MALFORMED', 'note parts have the wrong size');
  note[0] = NOTE_VERSION;
  note.set(senderPublic, 1);
  note.set(nonce, NOTE_NONCE_AT);
  if (crypto.secretboxInPlace) {
    crypto.secretboxInPlace(note, NOTE_BOX_AT, NOTE_BODY_BYTES, nonce, key);
    return;
  }
  note.set(crypto.secretbox(note.subarray(NOTE_BODY_AT), nonce, key), NOTE_BOX_AT);
}

/** The sender key of a note, from the clear part, after the size and version checks. Throws SIZE, VERSION. */
export function peekNoteSender(note: Uint8Array): Uint8Array {
  if (!(note instanceof Uint8Array) || note.length !== NOTE_BYTES) throw new FamilyNoteError('SIZE', 'a note is 137 bytes');
  if (note[0] !== NOTE_VERSION) throw new FamilyNoteError('VERSION', 'not a family note v1');
  return note.subarray(1, 1 + KEY_BYTES);
}

/**
 * Opens a note. `keyFor(sender)` gives noteKey(sender→me) or undefined for a
 * stranger (UNKNOWN_SENDER, nothing decrypted). Throws FamilyNoteError: SIZE,
 * VERSION, UNKNOWN_SENDER, AUTH (not sealed for me / tampered), KIND, MALFORMED, BAD_SETTINGS.
 * The seq check is the caller's (it knows what it accepted before).
 */
export function openNote(crypto: Pick<CryptoPort, 'secretboxOpen'>, note: Uint8Array, keyFor: (sender: Uint8Array) => Uint8Array | undefined): OpenedNote {
  const sender = peekNoteSender(note);
  let key: Uint8Array | undefined;
  try {
    key = keyFor(sender);
  } catch {
    key = undefined;
  }
  if (!key) throw new FamilyNoteError('UNKNOWN_SENDER', 'sender is not in the family');
  let body: Uint8Array | null;
  try {
    body = crypto.secretboxOpen(note.subarray(1 + KEY_BYTES + NONCE_BYTES), note.subarray(1 + KEY_BYTES, 1 + KEY_BYTES + NONCE_BYTES), key);
  } catch {
    body = null;
  }
  if (!body || body.length !== NOTE_BODY_BYTES) throw new FamilyNoteError('AUTH', 'note does not open');
  const r = decodeNoteBody(body);
  body.fill(0);
  return { sender: sender.slice(), ...r };
}

/**
 * The toy's status record on its retained `status` topic, in clear (docs/PROTOCOL.md
 * "Toy status"): u8 version=1 || u8 state || u32 since (the toy's wall clock in s
 * when the MQTT session that this record belongs to began; 0 = clock unset). 6 bytes.
 * It tells only what the relay sees anyway (when the toy connects and disconnects).
 * States: 1 online (sent after the broker granted the toy's subscriptions); 0 offline;
 * 2 offline and new: a last will of a toy whose subscriptions the broker has never
 * granted, so the relay keeps no queue for it yet and a phone must keep what it sends
 * (a phone that predates state 2 reads it as malformed, which keeps its messages too).
 */
export const STATUS_BYTES = 6;
export function encodeStatus(online: boolean, sinceMs: number, neverSubscribed = false): Uint8Array {
  const b = new Uint8Array(STATUS_BYTES);
  b[0] = 1;
  b[1] = online ? 1 : neverSubscribed ? 2 : 0;
  const t = sinceMs > 0 ? Math.floor(sinceMs / 1000) : 0;
  writeU32(b, 2, t > 0xffffffff ? 0 : t);
  return b;
}
/**
 * Parses a status record; `neverSubscribed` is true only for state 2 (see encodeStatus).
 * Throws FamilyNoteError SIZE, VERSION or MALFORMED.
 */
export function decodeStatus(b: Uint8Array): { online: boolean; sinceMs: number; neverSubscribed?: true } {
  if (!(b instanceof Uint8Array) || b.length !== STATUS_BYTES) throw new FamilyNoteError('SIZE', 'a status record is 6 bytes');
  if (b[0] !== 1) throw new FamilyNoteError('VERSION', 'status version');
  if (b[1] !== 0 && b[1] !== 1 && b[1] !== 2) throw new FamilyNoteError('MALFORMED', 'status state');
  const st: { online: boolean; sinceMs: number; neverSubscribed?: true } = { online: b[1] === 1, sinceMs: readU32(b, 2) * 1000 };
  if (b[1] === 2) st.neverSubscribed = true;
  return st;
}
