/**
 * The toy's family features (issue 15, issue 11), over sealed family notes
 * (src/family-note.ts, docs/PROTOCOL.md "Family notes"):
 *
 * - Receipts: `receipt(sender, messageKey, state)` sends the sender of a message a
 *   sealed note when the message is stored on the toy (`delivered`) and when the
 *   child has played it to the end (`heard`).
 * - Member notices: `memberChanged('added' | 'removed', id)` sends every OTHER
 *   member a sealed note naming the phone that was added or removed, so a label
 *   holder cannot add a silent listener.
 * - Family settings: `onSettingsNote(note)` (the `set` topic) accepts quiet hours
 *   and a volume limit sealed by a member; stored under `fn.set`, applied at once
 *   and after every restart. The volume limit goes to the speaker; during quiet
 *   hours `gate(player)` reports nothing waiting (the heart does not glow) and
 *   plays nothing: messages wait, and glow when quiet hours end (checked every
 *   QUIET_CHECK_MS and at each change).
 *
 * Clock: quiet hours need the wall clock. With no valid time (before 2025-01-01,
 * i.e. SNTP has not answered since boot) quiet hours are NOT applied and this is
 * counted `family.quiet_clock_unset`: the link comes up only after SNTP set the
 * clock (hal/moddable-network.ts), so every message that arrived over it came with
 * a valid clock; a toy that never gets the time still plays what it holds.
 *
 * Records on the data StoragePort: `fn.seq` (u32 BE, the highest note number the
 * toy reserved, NOTE_SEQ_BLOCK at a time, written before any of them is used; kept
 * by a factory reset like `eg.seq`, because phones refuse notes whose number does
 * not rise), `fn.set` (u8 version=1 || u32
 * seq || 8 bytes of settings, family-note.ts encodeSettings; wiped by a reset).
 *
 * Keys and RAM (issue 13, heap slots per receipt): noteKey(toy→member) is worked
 * out once per member and kept in RAM, beside the roster's cached shared key, for
 * as long as the roster's member list stays the same array (the roster makes a new
 * one at every change: add, remove, shared key, reload, wipe); at a change, a
 * member notice, a factory reset (`forgetKeys`) and close() every kept key is
 * zeroed and dropped. One note buffer (137 bytes) and one nonce are made at the
 * first note and reused: a receipt is written, sealed in place and handed to
 * `send`, which copies it (the outbox does). Settings notes (member → toy) are rare
 * and work their key out each time.
 *
 * Errors: never throws from a public method. A refused settings note is a typed
 * FamilyNoteError counted `family.settings_refused_<CODE>` (the old settings stay);
 * a note that cannot be made or queued is counted (`family.note_failed`,
 * `family.outbox_full`). Logs never carry keys or names. Portable.
 */
import type { ClockPort, CryptoPort, LogPort, RandomPort, SpeakerPort, StoragePort, TimerHandle } from '../hal/ports.js';
import type { Counters } from './counters.js';
import { MIN_PLAUSIBLE_WALL_MS, readU32, writeU32 } from './envelope-format.js';
import {
  DEFAULT_SETTINGS,
  FamilyNoteError,
  NOTE_BODY_AT,
  NOTE_BYTES,
  decodeSettings,
  encodeNoteBody,
  encodeReceiptBodyHex,
  encodeSettings,
  noteKey,
  openNote,
  sealNoteInPlace,
  type FamilySettings,
  type MemberChange,
  type ReceiptState,
} from './family-note.js';
import type { Member, Roster } from './roster.js';

import type { PlayerControl } from './toy.js';

export const NOTE_SEQ_KEY = 'fn.seq';
/**
 * Note numbers are reserved this many at a time: `fn.seq` holds the highest number
 * reserved, written before any of them is used, so numbers still rise across a
 * restart (a restart skips the unused rest of a block) and the counter costs one
 * flash write per 32 notes instead of a read and a write per note (issue 13).
 */
export const NOTE_SEQ_BLOCK = 32;
export const SETTINGS_KEY = 'fn.set';
/** How often the quiet-hours state is re-judged (ms). */
export const QUIET_CHECK_MS = 30_000;

export interface FamilyServiceOptions {
  crypto: CryptoPort;
  random: RandomPort;
  storage: StoragePort;
  clock: Pick<ClockPort, 'wallNow' | 'every'>;
  roster: Roster;
  /** The cached X25519 shared key of a member (ToyEnvelope.keys.sharedKeyFor). */
  sharedKeyFor: (memberPublicKey: Uint8Array) => Uint8Array | undefined;
  toyPublicKey: Uint8Array;
  /**
   * Queues one note for the family (outbox, `fam` topic); answers 'OK' or another PortStatus.
   * The note is lent: it is the service's one note buffer, overwritten by the next note,
   * so the callee copies what it keeps (Outbox.add does).
   */
  send: (note: Uint8Array) => string;
  /** The volume limit is applied here. */
  speaker?: Pick<SpeakerPort, 'setVolume'>;
  /** The quiet-hours state changed (the heart must be redrawn). Must not throw. */
  onQuietChanged?: () => void;
  counters: Counters;
  log?: LogPort;
}

export class FamilyService {
  private current: FamilySettings = DEFAULT_SETTINGS;
  private settingsSeq = 0;
  private lastQuiet = false;
  private timer: TimerHandle | undefined;
  /** id → name of each member as last seen (a removed member's name is gone from the roster). */
  private readonly names = new Map<string, string>();
  /** The roster's member list the kept note keys belong to (see "Keys and RAM" above). */
  private keysList: readonly Member[] | undefined;
  /** noteKey(toy→member) of keysList[i], made at its first note; secret: zeroed when dropped. */
  private readonly txKeys: (Uint8Array | undefined)[] = [];
  /** The one note buffer and nonce (made at the first note; the note is lent to `send`). */
  private note: Uint8Array | undefined;
  private nonce: Uint8Array | undefined;
  /** The next note number and the highest one reserved in `fn.seq` (0, 0: not read yet). */
  private seqNext = 0;
  private seqReserved = 0;

  constructor(private readonly o: FamilyServiceOptions) {
    this.loadSettings();
    for (const m of o.roster.list()) this.names.set(m.id, m.name);
    this.applyVolume();
    this.lastQuiet = this.isQuiet();
  }

  /** The settings in force. */
  get settings(): FamilySettings {
    return this.current;
  }

  /** Starts the quiet-hours check. */
  start(): void {
    this.timer ??= this.o.clock.every(QUIET_CHECK_MS, () => this.checkQuiet());
  }

  /** Stops the quiet-hours check and zeroes the kept note keys. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.forgetKeys();
  }

  /** Zeroes and drops every kept note key (a factory reset; the roster changed). Never throws. */
  forgetKeys(): void {
    const keys = this.txKeys;
    for (let i = 0; i < keys.length; i++) keys[i]?.fill(0);
    keys.length = 0;
    this.keysList = undefined;
  }

  // ------------------------------------------------------------ receipts and notices

  /**
   * Sends the sender of message `messageKey` (32 hex digits, the inbox's key) a receipt.
   * Never throws: counted `family.receipt_delivered` / `family.receipt_heard` when queued,
   * else `family.receipt_no_member`, `family.no_key`, `family.outbox_full` or `family.note_failed`.
   * With the member's note key kept, allocates nothing itself (issue 13; `send` copies the note).
   */
  receipt(sender: Uint8Array, messageKey: string, state: ReceiptState): void {
    try {
      const m = this.o.roster.byPublicKey(sender);
      if (!m) return void this.o.counters.inc('family.receipt_no_member');
      const key = this.keyFor(m);
      if (!key) return void this.o.counters.inc('family.no_key');
      const note = this.noteBuffer();
      encodeReceiptBodyHex(note, NOTE_BODY_AT, this.nextSeq(), this.wallTime(), messageKey, state);
      if (this.sealAndSend(key, note)) this.o.counters.inc(state === 'delivered' ? 'family.receipt_delivered' : 'family.receipt_heard');
    } catch {
      this.o.counters.inc('family.note_failed');
    }
  }

  /** A phone was added to or removed from the roster: every other member gets a notice. Never throws. */
  memberChanged(change: MemberChange, id: string): void {
    try {
      this.forgetKeys(); // the roster changed: no key of the old member list is kept
      const m = this.o.roster.get(id);
      if (change === 'added' && m) this.names.set(id, m.name);
      const name = (change === 'added' ? m?.name : this.names.get(id)) ?? id;
      if (change === 'removed') this.names.delete(id);
      let sent = 0;
      for (const other of this.o.roster.list()) {
        if (other.id === id) continue;
        const key = this.keyFor(other);
        if (!key) {
          this.o.counters.inc('family.no_key');
          continue;
        }
        const note = this.noteBuffer();
        encodeNoteBody(this.nextSeq(), this.wallTime(), { kind: 'member', change, id, name }, note, NOTE_BODY_AT);
        if (this.sealAndSend(key, note)) sent++;
      }
      this.o.counters.inc(`family.member_${change}_notices`, sent);
      this.o.log?.log('info', 'family.member_notice', { change, recipients: sent });
    } catch {
      this.o.counters.inc('family.note_failed');
    }
  }

  /**
   * noteKey(toy→member) of roster member `m`, kept (see "Keys and RAM"); undefined when
   * the member has no shared key (a small-order key, `sharedKeyFor` says none). Lent: the
   * caller must not keep or change it.
   */
  private keyFor(m: Member): Uint8Array | undefined {
    let list = this.o.roster.list();
    if (list !== this.keysList) {
      this.forgetKeys();
      this.keysList = list;
    }
    let i = list.indexOf(m);
    if (i < 0) return undefined;
    const kept = this.txKeys[i];
    if (kept) return kept;
    const shared = this.o.sharedKeyFor(m.publicKey);
    if (!shared) return undefined;
    const key = noteKey(this.o.crypto, shared, this.o.toyPublicKey, m.publicKey);
    // sharedKeyFor may have stored a first-computed shared key in the roster: a new member list
    list = this.o.roster.list();
    if (list !== this.keysList) {
      this.forgetKeys();
      this.keysList = list;
      i = list.indexOf(this.o.roster.byPublicKey(m.publicKey)!);
      if (i < 0) {
        key.fill(0);
        return undefined;
      }
    }
    this.txKeys[i] = key;
    return key;
  }

  private noteBuffer(): Uint8Array {
    return (this.note ??= new Uint8Array(NOTE_BYTES));
  }

  /** The wall clock for a note's time field (0 = unset). */
  private wallTime(): number {
    const now = this.o.clock.wallNow();
    return now >= MIN_PLAUSIBLE_WALL_MS ? now : 0;
  }

  /** Seals the body in `note` (the note buffer) under `key` with a fresh nonce and queues it. */
  private sealAndSend(key: Uint8Array, note: Uint8Array): boolean {
    const nonce = (this.nonce ??= new Uint8Array(24));
    try {
      this.o.random.fill(nonce);
      sealNoteInPlace(this.o.crypto, key, this.o.toyPublicKey, nonce, note);
    } catch (e) {
      note.fill(0); // no plaintext left behind
      throw e;
    }
    if (this.o.send(note) !== 'OK') {
      this.o.counters.inc('family.outbox_full');
      return false;
    }
    return true;
  }

  /**
   * The next note number. Numbers are reserved NOTE_SEQ_BLOCK at a time in `fn.seq`
   * before any of them is used, so a note never carries a number a restart could give
   * again. Throws FamilyNoteError('STORAGE') when the counter is exhausted, or the
   * storage's error (no number is used then; the next note tries again).
   */
  private nextSeq(): number {
    if (this.seqNext === 0) {
      const b = this.o.storage.read(NOTE_SEQ_KEY);
      const last = b && b.length === 4 ? readU32(b, 0) : 0;
      this.seqReserved = last;
      this.seqNext = last + 1;
    }
    const next = this.seqNext;
    if (next > 0xffffffff) throw new FamilyNoteError('STORAGE', 'note counter exhausted');
    if (next > this.seqReserved) {
      const top = Math.min(this.seqReserved + NOTE_SEQ_BLOCK, 0xffffffff);
      const v = new Uint8Array(4);
      writeU32(v, 0, top);
      this.o.storage.write(NOTE_SEQ_KEY, v);
      this.seqReserved = top;
    }
    this.seqNext = next + 1;
    return next;
  }

  // ------------------------------------------------------------ settings

  /**
   * A note on the `set` topic. Accepted only when it opens with a member's key, is a
   * settings note, its seq is above the stored one, and every value is in bounds;
   * then stored, then applied. Returns the error code or 'OK'. Never throws.
   */
  onSettingsNote(note: Uint8Array): 'OK' | FamilyNoteError['code'] {
    try {
      let rxKey: Uint8Array | undefined;
      let opened: ReturnType<typeof openNote>;
      try {
        opened = openNote(this.o.crypto, note, (sender) => {
          const m = this.o.roster.byPublicKey(sender);
          const shared = m ? this.o.sharedKeyFor(m.publicKey) : undefined;
          return (rxKey = shared ? noteKey(this.o.crypto, shared, m!.publicKey, this.o.toyPublicKey) : undefined);
        });
      } finally {
        rxKey?.fill(0); // a secret: not left for the collector
      }
      if (opened.content.kind !== 'settings') throw new FamilyNoteError('KIND', 'not a settings note');
      if (opened.seq <= this.settingsSeq) throw new FamilyNoteError('STALE', 'settings older than the ones in force');
      const v = new Uint8Array(13);
      v[0] = 1;
      writeU32(v, 1, opened.seq);
      encodeSettings(opened.content.settings, v, 5);
      try {
        this.o.storage.write(SETTINGS_KEY, v);
      } catch {
        throw new FamilyNoteError('STORAGE', 'settings not stored');
      }
      this.current = opened.content.settings;
      this.settingsSeq = opened.seq;
      this.o.counters.inc('family.settings_applied');
      this.o.log?.log('info', 'family.settings', { quiet: this.current.quietEnabled ? 1 : 0, volume: this.current.volumePercent });
      this.applyVolume();
      this.checkQuiet();
      return 'OK';
    } catch (e) {
      const code = e instanceof FamilyNoteError ? e.code : 'MALFORMED';
      this.o.counters.inc(`family.settings_refused_${code}`);
      this.o.log?.log('warn', 'family.settings_refused', { code });
      return code;
    }
  }

  private loadSettings(): void {
    let v: Uint8Array | undefined;
    try {
      v = this.o.storage.read(SETTINGS_KEY);
    } catch {
      this.o.counters.inc('family.settings_read_failed');
      return;
    }
    if (!v) return;
    try {
      if (v.length !== 13 || v[0] !== 1) throw new FamilyNoteError('MALFORMED', 'settings record');
      this.current = decodeSettings(v, 5);
      this.settingsSeq = readU32(v, 1);
    } catch {
      // a corrupt record (only a storage fault makes one): defaults, counted; the next good note replaces it
      this.o.counters.inc('family.settings_corrupt');
      this.current = DEFAULT_SETTINGS;
      this.settingsSeq = 0;
    }
  }

  private applyVolume(): void {
    try {
      this.o.speaker?.setVolume(this.current.volumePercent / 100);
    } catch {
      this.o.counters.inc('family.volume_failed');
    }
  }

  // ------------------------------------------------------------ quiet hours

  /** True while quiet hours hold (false when they are off or the wall clock is unset). */
  isQuiet(): boolean {
    const s = this.current;
    if (!s.quietEnabled) return false;
    const now = this.o.clock.wallNow();
    if (!(now >= MIN_PLAUSIBLE_WALL_MS)) return false; // counted by checkQuiet
    const day = 1440;
    const m = (((Math.floor(now / 60000) + s.utcOffsetMin) % day) + day) % day;
    return s.quietStartMin < s.quietEndMin ? m >= s.quietStartMin && m < s.quietEndMin : m >= s.quietStartMin || m < s.quietEndMin;
  }

  private checkQuiet(): void {
    if (this.current.quietEnabled && !(this.o.clock.wallNow() >= MIN_PLAUSIBLE_WALL_MS)) this.o.counters.inc('family.quiet_clock_unset');
    const q = this.isQuiet();
    if (q === this.lastQuiet) return;
    this.lastQuiet = q;
    this.o.counters.inc(q ? 'family.quiet_began' : 'family.quiet_ended');
    try {
      this.o.onQuietChanged?.();
    } catch {
      this.o.counters.inc('family.onchange_threw');
    }
  }

  /**
   * The player as the toy's state machine sees it: during quiet hours nothing is
   * waiting (the heart does not glow) and a heart press plays nothing
   * (`family.quiet_held`); the messages stay stored and show when quiet hours end.
   */
  gate(player: PlayerControl): PlayerControl {
    return {
      waiting: () => (this.isQuiet() ? 0 : player.waiting()),
      playNext: (done) => {
        if (this.isQuiet()) {
          this.o.counters.inc('family.quiet_held');
          return 'EMPTY';
        }
        return player.playNext(done);
      },
      stop: () => player.stop(),
    };
  }
}
