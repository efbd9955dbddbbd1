import test from 'ava';
import { formatWav, parseWav, WavError } from '../sim/wav-file.js';

const code = (t: import('ava').ExecutionContext, fn: () => unknown) => (t.throws(fn, { instanceOf: WavError }) as WavError).code;

test('format then parse gives the samples back', (t) => {
  const s = new Int16Array([0, 1, -1, 32767, -32768, 1234]);
  const w = parseWav(formatWav(s, 16000));
  t.is(w.sampleRate, 16000);
  t.is(w.channels, 1);
  t.deepEqual(w.samples, s);
});

test('malformed files are typed errors, never out-of-range reads', (t) => {
  const good = formatWav(new Int16Array([1, 2, 3, 4]), 16000);
  t.is(code(t, () => parseWav(good.subarray(0, 8))), 'FORMAT');
  const notRiff = good.slice();
  notRiff[0] = 0x58;
  t.is(code(t, () => parseWav(notRiff)), 'FORMAT');
  const fmtTooLong = good.slice();
  new DataView(fmtTooLong.buffer).setUint32(16, 1 << 30, true);
  t.is(code(t, () => parseWav(fmtTooLong)), 'FORMAT');
  const eightBit = good.slice();
  new DataView(eightBit.buffer).setUint16(34, 8, true);
  t.is(code(t, () => parseWav(eightBit)), 'UNSUPPORTED');
  const float = good.slice();
  new DataView(float.buffer).setUint16(20, 3, true);
  t.is(code(t, () => parseWav(float)), 'UNSUPPORTED');
  t.is(code(t, () => parseWav(good.subarray(0, 36))), 'FORMAT', 'no data chunk');
});

test('a data chunk longer than the file (streamed WAV) is clamped to whole samples', (t) => {
  const w = formatWav(new Int16Array([5, 6, 7]), 16000);
  new DataView(w.buffer).setUint32(40, 0xffffffff, true);
  t.deepEqual(parseWav(w.subarray(0, w.length - 1)).samples, new Int16Array([5, 6]));
});
