/**
 * phone/settings-input.ts: the one parser of family settings for the parent command
 * line and the simulator's page: what it accepts, what a field left out keeps, and the
 * words of every refusal (each a SettingsInputError with a code, never a raw error).
 */
import test from 'ava';
import { DEFAULT_SETTINGS, checkSettings } from '../src/family-note.js';
import { applySettingsInput, SettingsInputError, settingsInWords, type SettingsInputCode } from '../phone/settings-input.js';

test('quiet hours, volume and offset as typed; a field left out keeps the last value', (t) => {
  const a = applySettingsInput(DEFAULT_SETTINGS, { quiet: '19:30-07:00', volume: '60', utcOffsetMin: '60' });
  t.deepEqual(a, { quietEnabled: true, quietStartMin: 19 * 60 + 30, quietEndMin: 7 * 60, utcOffsetMin: 60, volumePercent: 60 });
  t.is(settingsInWords(a), 'quiet hours 19:30-07:00 (UTC+60 min), volume limit 60 %');
  const b = applySettingsInput(a, { quiet: 'off' });
  t.deepEqual(b, { ...a, quietEnabled: false });
  t.is(settingsInWords(b), 'quiet hours off, volume limit 60 %');
  t.deepEqual(applySettingsInput(b, { volume: 1, utcOffsetMin: -300 }), { ...b, volumePercent: 1, utcOffsetMin: -300 });
  t.deepEqual(applySettingsInput(a, { quiet: ' 9:05 - 23:59 ' }), { ...a, quietStartMin: 9 * 60 + 5, quietEndMin: 23 * 60 + 59 });
  t.is(settingsInWords(applySettingsInput(a, { utcOffsetMin: -330 })), 'quiet hours 19:30-07:00 (UTC-330 min), volume limit 60 %');
});

test('every refusal is a SettingsInputError in words; the result always passes checkSettings', (t) => {
  const bad: [Parameters<typeof applySettingsInput>[1], SettingsInputCode, RegExp][] = [
    [{ quiet: '19:30' }, 'QUIET', /^quiet hours take a start and an end time, HH:MM-HH:MM/],
    [{ quiet: '24:00-07:00' }, 'QUIET', /HH:MM-HH:MM/],
    [{ quiet: '19:60-07:00' }, 'QUIET', /HH:MM-HH:MM/],
    [{ quiet: '07:00-07:00' }, 'QUIET', /^quiet hours need an end time different from the start$/],
    [{ quiet: 'on' }, 'QUIET', /or off$/],
    [{ volume: '0' }, 'VOLUME', /^the volume limit is a whole percentage from 1 to 100$/],
    [{ volume: '101' }, 'VOLUME', /1 to 100/],
    [{ volume: '50.5' }, 'VOLUME', /1 to 100/],
    [{ volume: 'loud' }, 'VOLUME', /1 to 100/],
    [{ volume: 2.5 }, 'VOLUME', /1 to 100/],
    [{ utcOffsetMin: '900' }, 'OFFSET', /^the UTC offset is whole minutes east of UTC, from -720 to 840/],
    [{ utcOffsetMin: 'CET' }, 'OFFSET', /-720 to 840/],
    [{ utcOffsetMin: Number.NaN }, 'OFFSET', /-720 to 840/],
  ];
  for (const [input, code, re] of bad) {
    const e = t.throws(() => applySettingsInput(DEFAULT_SETTINGS, input), { instanceOf: SettingsInputError }, JSON.stringify(input));
    t.is(e?.code, code, JSON.stringify(input));
    t.regex(e?.message ?? '', re, JSON.stringify(input));
  }
  for (const q of ['00:00-23:59', '23:59-00:00', 'off']) for (const v of ['1', '100']) t.notThrows(() => checkSettings(applySettingsInput(DEFAULT_SETTINGS, { quiet: q, volume: v, utcOffsetMin: 840 })));
});
