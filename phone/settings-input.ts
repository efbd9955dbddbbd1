/**
 * Family settings as a parent types them (issue 15): quiet hours "HH:MM-HH:MM" or
 * "off", a volume limit in percent, the family's UTC offset in minutes. One parser for
 * the parent command line (`npm run parent -- settings`) and the simulator's page, so
 * both send exactly the same settings for the same input, and say the same words.
 *
 *   const next = applySettingsInput(phone.lastSettings(), { quiet: '19:30-07:00', volume: '60', utcOffsetMin: 60 });
 *   settingsInWords(next)  // "quiet hours 19:30-07:00 (UTC+60 min), volume limit 60 %"
 *
 * A field left undefined keeps its value from `last` (the settings this phone sent
 * before), so changing one keeps the others. Errors are SettingsInputError with a
 * code (QUIET, VOLUME, OFFSET) and a message in words for the parent; the result
 * always passes src/family-note.ts checkSettings. Portable.
 */
import { checkSettings, type FamilySettings } from '../src/family-note.js';

export type SettingsInputCode = 'QUIET' | 'VOLUME' | 'OFFSET';

export class SettingsInputError extends Error {
  override readonly name = 'SettingsInputError';
  readonly code: SettingsInputCode;
  constructor(code: SettingsInputCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface SettingsInput {
  /** "HH:MM-HH:MM" (local time of the family; may cross midnight) or "off"; undefined: unchanged. */
  quiet?: string;
  /** 1..100 (a string of digits, as typed, or a number); undefined: unchanged. */
  volume?: string | number;
  /** Minutes east of UTC, -720..840 (a string as typed, or a number); undefined: unchanged. */
  utcOffsetMin?: string | number;
}

function minuteOfDay(h: string, m: string): number | undefined {
  const hh = Number(h);
  const mm = Number(m);
  return hh <= 23 && mm <= 59 ? hh * 60 + mm : undefined;
}

function wholeNumber(v: string | number, re: RegExp): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  return re.test(v.trim()) ? Number(v.trim()) : undefined;
}

/** The settings after `input` is applied to `last`. Throws SettingsInputError. */
export function applySettingsInput(last: FamilySettings, input: SettingsInput): FamilySettings {
  const next: FamilySettings = { ...last };
  if (input.quiet !== undefined) {
    const q = input.quiet.trim().toLowerCase();
    if (q === 'off') next.quietEnabled = false;
    else {
      const m = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(q);
      const start = m ? minuteOfDay(m[1]!, m[2]!) : undefined;
      const end = m ? minuteOfDay(m[3]!, m[4]!) : undefined;
      if (start === undefined || end === undefined) throw new SettingsInputError('QUIET', 'quiet hours take a start and an end time, HH:MM-HH:MM (e.g. 19:30-07:00), or off');
      if (start === end) throw new SettingsInputError('QUIET', 'quiet hours need an end time different from the start');
      next.quietEnabled = true;
      next.quietStartMin = start;
      next.quietEndMin = end;
    }
  }
  if (input.volume !== undefined) {
    const v = wholeNumber(input.volume, /^\d{1,3}$/);
    if (v === undefined || v < 1 || v > 100) throw new SettingsInputError('VOLUME', 'the volume limit is a whole percentage from 1 to 100');
    next.volumePercent = v;
  }
  if (input.utcOffsetMin !== undefined) {
    const o = wholeNumber(input.utcOffsetMin, /^[+-]?\d{1,4}$/);
    if (o === undefined || o < -720 || o > 840) throw new SettingsInputError('OFFSET', 'the UTC offset is whole minutes east of UTC, from -720 to 840 (e.g. 60 or -300)');
    next.utcOffsetMin = o;
  }
  checkSettings(next); // cannot fail for what passed the checks above; a last guard for `last`
  return next;
}

const hm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/** "quiet hours 19:30-07:00 (UTC+60 min), volume limit 60 %" or "quiet hours off, volume limit 100 %". */
export function settingsInWords(s: FamilySettings): string {
  const quiet = s.quietEnabled ? `${hm(s.quietStartMin)}-${hm(s.quietEndMin)} (UTC${s.utcOffsetMin >= 0 ? '+' : ''}${s.utcOffsetMin} min)` : 'off';
  return `quiet hours ${quiet}, volume limit ${s.volumePercent} %`;
}
