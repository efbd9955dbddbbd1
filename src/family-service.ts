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
 * Records on the data StoragePort: `fn.seq` (u32 BE, the toy's note counter,
 * written before a note is made; kept by a factory reset like `eg.seq`, because
 * phones refuse notes whose number does not rise), `fn.set` (u8 version=1 || u32
 * seq || 8 bytes of settings, family-note.ts encodeSettings; wiped by a reset).
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
  decodeSettings,
  encodeNoteBody,
  encodeSettings,
  noteKey,
  openNote,
  sealNote,
  type FamilySettings,
  type MemberChange,
  type NoteContent,
  type ReceiptState,
} from './family-note.js';
import type { Roster } from './roster.js';

const keyEncoder = new TextEncoder();
/** The value of one ASCII hex digit (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
import type { PlayerControl } from './toy.js';

export const NOTE_SEQ_KEY = 'fn.seq';
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
  /** Queues one note for the family (outbox, `fam` topic); answers 'OK' or another PortStatus. */
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

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  // ------------------------------------------------------------ receipts and notices

  /** Sends the sender of message `messageKey` (32 hex chars) a receipt. Never throws. */
  receipt(sender: Uint8Array, messageKey: string, state: ReceiptState): void {
    try {
      const m = this.o.roster.byPublicKey(sender);
      if (!m) return void this.o.counters.inc('family.receipt_no_member');
      // the 32 hex digits as bytes in one call (not a string slice and parseInt per byte: XS heap slots, issue 13)
      const hex = keyEncoder.encode(messageKey);
      if (hex.length !== 32) throw new FamilyNoteError('MALFORMED', 'message key must be 32 hex digits');
      const id = new Uint8Array(16);
      for (let i = 0; i < 16; i++) {
        const hi = hexValue(hex[i * 2]!);
        const lo = hexValue(hex[i * 2 + 1]!);
        if (hi < 0 || lo < 0) throw new FamilyNoteError('MALFORMED', 'message key must be 32 hex digits');
        id[i] = (hi << 4) | lo;
      }
      if (this.sendTo(m.publicKey, { kind: 'receipt', messageId: id, state })) this.o.counters.inc(`family.receipt_${state}`);
    } catch {
      this.o.counters.inc('family.note_failed');
    }
  }

  /** A phone was added to or removed from the roster: every other member gets a notice. Never throws. */
  memberChanged(change: MemberChange, id: string): void {
    try {
      const m = this.o.roster.get(id);
      if (change === 'added' && m) this.names.set(id, m.name);
      const name = (change === 'added' ? m?.name : this.names.get(id)) ?? id;
      if (change === 'removed') this.names.delete(id);
      let sent = 0;
      for (const other of this.o.roster.list()) {
        if (other.id === id) continue;
        if (this.sendTo(other.publicKey, { kind: 'member', change, id, name })) sent++;
      }
      this.o.counters.inc(`family.member_${change}_notices`, sent);
      this.o.log?.log('info', 'family.member_notice', { change, recipients: sent });
    } catch {
      this.o.counters.inc('family.note_failed');
    }
  }

  private sendTo(memberPublicKey: Uint8Array, content: NoteContent): boolean {
    const shared = this.o.sharedKeyFor(memberPublicKey);
    if (!shared) {
      this.o.counters.inc('family.no_key');
      return false;
    }
    const seq = this.nextSeq();
    const body = encodeNoteBody(seq, this.o.clock.wallNow() >= MIN_PLAUSIBLE_WALL_MS ? this.o.clock.wallNow() : 0, content);
    const key = noteKey(this.o.crypto, shared, this.o.toyPublicKey, memberPublicKey);
    const nonce = new Uint8Array(24);
    this.o.random.fill(nonce);
    const note = sealNote(this.o.crypto, key, this.o.toyPublicKey, nonce, body);
    key.fill(0);
    body.fill(0);
    if (this.o.send(note) !== 'OK') {
      this.o.counters.inc('family.outbox_full');
      return false;
    }
    return true;
  }

  private nextSeq(): number {
    const b = this.o.storage.read(NOTE_SEQ_KEY);
    const last = b && b.length === 4 ? readU32(b, 0) : 0;
    const next = (last + 1) >>> 0;
    if (next === 0) throw new FamilyNoteError('STORAGE', 'note counter exhausted');
    const v = new Uint8Array(4);
    writeU32(v, 0, next);
    this.o.storage.write(NOTE_SEQ_KEY, v);
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
      const opened = openNote(this.o.crypto, note, (sender) => {
        const m = this.o.roster.byPublicKey(sender);
        const shared = m ? this.o.sharedKeyFor(m.publicKey) : undefined;
        return shared ? noteKey(this.o.crypto, shared, m!.publicKey, this.o.toyPublicKey) : undefined;
      });
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
