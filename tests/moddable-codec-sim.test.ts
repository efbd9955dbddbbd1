/**
 * The device codec adapter (hal/moddable-codec.ts, libopus through
 * native("xs_opus_*")) loaded UNCHANGED on Node through the sim loader, where
 * the host functions of hal/native/opus-codec.c are implemented on @evan/opus
 * (sim/moddable/native.ts). Checks: speech round trip, byte-identical packets
 * to the host codec, lent buffers used in place (views with offsets), typed
 * errors for bad input, the host functions' own range checks, and that the C
 * file, the sim table, the adapter and the manifest name the same functions.
 * When gcc and the libopus headers are present the C file is compile-checked.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { CodecError, MAX_PACKET_BYTES } from '../audio/codec-port.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { readWavFile } from '../sim/wav-file.js';
import { alignedCorrelation } from './audio-compare.js';

await import('../sim/moddable-register.js');
const { hostFunctions } = await import('../sim/moddable/native.js');
// device code, typed by tsconfig.firmware.json: loaded by computed URL, as in moddable-adapters-sim.test.ts
const { ModdableOpusCodec } = await import(new URL('../hal/moddable-codec.js', import.meta.url).href);

const speech = readWavFile(new URL('./fixtures/speech-16k.wav', import.meta.url).pathname);
const file = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));


const codeOf = (t: { throws: (fn: () => unknown, e: object) => unknown }, fn: () => unknown) =>
  (t.throws(fn, { instanceOf: CodecError }) as CodecError).code;

test('speech round trip through the device adapter: correlation and bitrate as the host codec', (t) => {
  const c = new ModdableOpusCodec();
  const frames = Math.floor(speech.samples.length / FRAME_SAMPLES);
  const out = new Int16Array(frames * FRAME_SAMPLES);
  // lent buffers are views with offsets into larger buffers, as ring slots are
  const pcmStore = new Int16Array(3 * FRAME_SAMPLES);
  const decStore = new Int16Array(3 * FRAME_SAMPLES).fill(0x5a5a);
  const pcm = pcmStore.subarray(FRAME_SAMPLES, 2 * FRAME_SAMPLES);
  const dec = decStore.subarray(FRAME_SAMPLES, 2 * FRAME_SAMPLES);
  const pktStore = new Uint8Array(MAX_PACKET_BYTES + 16);
  const pkt = pktStore.subarray(16);
  let bytes = 0;
  for (let k = 0; k < frames; k++) {
    pcm.set(speech.samples.subarray(k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES));
    const n = c.encode(pcm, pkt);
    t.true(n >= 1 && n <= MAX_PACKET_BYTES);
    bytes += n;
    t.is(c.decode(pkt, n, dec), FRAME_SAMPLES);
    out.set(dec, k * FRAME_SAMPLES);
  }
  t.true(decStore.subarray(0, FRAME_SAMPLES).every((v) => v === 0x5a5a), 'samples before the lent view untouched');
  t.true(decStore.subarray(2 * FRAME_SAMPLES).every((v) => v === 0x5a5a), 'samples after the lent view untouched');
  t.is(pktStore.subarray(0, 16).join(), new Array(16).fill(0).join(), 'bytes before the lent packet untouched');
  t.is(c.encoded, frames);
  t.is(c.decoded, frames);
  t.is(c.encodedBytes, bytes);
  const kbps = (bytes * 8) / (frames * 0.02) / 1000;
  const { r, delay } = alignedCorrelation(speech.samples, out, 400);
  t.log(`sim (@evan/opus): ${frames} frames, ${kbps.toFixed(2)} kbps, correlation ${r.toFixed(4)} at a delay of ${delay} samples`);
  t.true(kbps > 12 && kbps < 18, `bitrate ${kbps}`);
  t.true(r > 0.9, `correlation ${r}`);
  t.true(delay > 0 && delay < 400);
  c.close();
});

test('the adapter passes the codec bytes through unchanged: packets equal the host codec, reset restarts the stream', (t) => {
  const dev = new ModdableOpusCodec();
  const host = new OpusCodecHost();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const a = new Uint8Array(MAX_PACKET_BYTES);
  const b = new Uint8Array(MAX_PACKET_BYTES);
  const first: string[] = [];
  for (let k = 0; k < 25; k++) {
    pcm.set(speech.samples.subarray((k + 40) * FRAME_SAMPLES, (k + 41) * FRAME_SAMPLES));
    const n = dev.encode(pcm, a);
    const m = host.encode(pcm, b);
    t.is(n, m);
    t.is(Buffer.from(a.subarray(0, n)).toString('hex'), Buffer.from(b.subarray(0, m)).toString('hex'));
    if (k < 3) first.push(Buffer.from(a.subarray(0, n)).toString('hex'));
  }
  dev.reset();
  const again: string[] = [];
  for (let k = 0; k < 3; k++) {
    pcm.set(speech.samples.subarray((k + 40) * FRAME_SAMPLES, (k + 41) * FRAME_SAMPLES));
    again.push(Buffer.from(a.subarray(0, dev.encode(pcm, a))).toString('hex'));
  }
  t.deepEqual(again, first, 'after reset() the encoder starts from a fresh state');
  dev.close();
});

test('encode at an offset of a lent buffer within a room (the sealer\'s plaintext): same packet, nothing outside the room touched', (t) => {
  const dev = new ModdableOpusCodec();
  const host = new OpusCodecHost();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const plain = new Uint8Array(2048).fill(0x5a);
  const b = new Uint8Array(MAX_PACKET_BYTES);
  let at = 2;
  for (let k = 0; k < 10; k++) {
    pcm.set(speech.samples.subarray((k + 40) * FRAME_SAMPLES, (k + 41) * FRAME_SAMPLES));
    const room = Math.min(MAX_PACKET_BYTES, plain.length - at);
    const n = dev.encode(pcm, plain, at, 256);
    const m = host.encode(pcm, b);
    t.true(n >= 1 && n <= 256 && room >= 256);
    t.is(Buffer.from(plain.subarray(at, at + n)).toString('hex'), Buffer.from(b.subarray(0, m)).toString('hex'));
    at += n;
  }
  t.true(plain.subarray(0, 2).every((x) => x === 0x5a), 'before the offset untouched');
  t.true(plain.subarray(at).every((x) => x === 0x5a), 'after the packets untouched');
  t.is(codeOf(t, () => dev.encode(pcm, plain, 2048 - 100)), 'SIZE', 'less than MIN_ENCODE_ROOM left');
  t.is(codeOf(t, () => dev.encode(pcm, plain, 10, 255)), 'SIZE');
  t.is(codeOf(t, () => dev.encode(pcm, plain, 1900, 256)), 'SIZE', 'room beyond the buffer');
  t.is(codeOf(t, () => dev.encode(pcm, plain, -1)), 'SIZE');
  dev.close();
});

test('bad input is a typed CodecError, the codec keeps working, close is idempotent', (t) => {
  const c = new ModdableOpusCodec();
  const pkt = new Uint8Array(MAX_PACKET_BYTES);
  const pcm = new Int16Array(FRAME_SAMPLES);
  t.is(codeOf(t, () => c.encode(new Int16Array(100), pkt)), 'SIZE');
  t.is(codeOf(t, () => c.encode(new Int16Array(FRAME_SAMPLES + 1), pkt)), 'SIZE');
  t.is(codeOf(t, () => c.encode(pcm, new Uint8Array(100))), 'SIZE');
  t.is(codeOf(t, () => c.encode(new Uint8Array(2 * FRAME_SAMPLES) as unknown as Int16Array, pkt)), 'SIZE');
  t.is(codeOf(t, () => c.decode(pkt, 0, pcm)), 'SIZE');
  t.is(codeOf(t, () => c.decode(pkt, 1.5, pcm)), 'SIZE');
  t.is(codeOf(t, () => c.decode(new Uint8Array(2000), 1276, pcm)), 'SIZE');
  t.is(codeOf(t, () => c.decode(new Uint8Array(10), 11, pcm)), 'SIZE');
  t.is(codeOf(t, () => c.decode(pkt, 3, new Int16Array(10))), 'SIZE');
  t.is(codeOf(t, () => c.decode(pkt, 3, new Float32Array(FRAME_SAMPLES) as unknown as Int16Array)), 'SIZE');
  const corrupt = t.throws(() => c.decode(Uint8Array.of(0xff, 0xff, 0xff), 3, pcm), { instanceOf: CodecError }) as CodecError;
  t.is(corrupt.code, 'DECODE');
  t.regex(corrupt.message, /opus_decode: /);
  t.is(corrupt.name, 'CodecError');
  for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(6000 * Math.sin(i / 5));
  const n = c.encode(pcm, pkt);
  t.is(c.decode(pkt, n, pcm), FRAME_SAMPLES, 'usable after errors');
  t.is(c.encoded, 1, 'failed calls are not counted');
  t.is(c.decoded, 1);
  c.close();
  c.close();
  t.is(codeOf(t, () => c.encode(pcm, pkt)), 'CLOSED');
  t.is(codeOf(t, () => c.decode(pkt, n, pcm)), 'CLOSED');
  t.notThrows(() => c.reset(), 'reset after close is a no-op');
});

test('bad options are CONFIG errors', (t) => {
  t.is(codeOf(t, () => new ModdableOpusCodec({ complexity: 11 })), 'CONFIG');
  t.is(codeOf(t, () => new ModdableOpusCodec({ complexity: 2.5 })), 'CONFIG');
  t.is(codeOf(t, () => new ModdableOpusCodec({ bitrate: 0 })), 'CONFIG');
  t.is(codeOf(t, () => new ModdableOpusCodec({ bitrate: 1e9 })), 'CONFIG');
  const low = new ModdableOpusCodec({ bitrate: 8000, complexity: 0 });
  const pkt = new Uint8Array(MAX_PACKET_BYTES);
  let bytes = 0;
  const pcm = new Int16Array(FRAME_SAMPLES);
  for (let k = 0; k < 50; k++) {
    pcm.set(speech.samples.subarray((k + 40) * FRAME_SAMPLES, (k + 41) * FRAME_SAMPLES));
    bytes += low.encode(pcm, pkt);
  }
  t.true((bytes * 8) / 1000 < 12, `8 kbps setting gives ${(bytes * 8) / 1000} kbps`);
  low.close();
});

test('the host functions check ranges themselves, as the C does (misuse never touches memory outside the lent buffers)', (t) => {
  const f = hostFunctions;
  const h = f.xs_opus_create!(SAMPLE_RATE_HZ, 16000, -1);
  const buf = new ArrayBuffer(2 * FRAME_SAMPLES);
  const pkt = new Uint8Array(MAX_PACKET_BYTES);
  t.throws(() => f.xs_opus_create!(SAMPLE_RATE_HZ, 16000, 11), { instanceOf: RangeError });
  t.throws(() => f.xs_opus_encode!({}, buf, 0, FRAME_SAMPLES, pkt), { instanceOf: SyntaxError, message: /not a host object/ });
  t.throws(() => f.xs_opus_encode!(h, buf, 2, FRAME_SAMPLES, pkt), { instanceOf: RangeError, message: 'pcm outside its buffer' });
  t.throws(() => f.xs_opus_encode!(h, buf, 1, 10, pkt), { instanceOf: RangeError, message: 'pcm byteOffset' });
  t.throws(() => f.xs_opus_encode!(h, buf, 0, 0, pkt), { instanceOf: RangeError, message: 'pcm samples' });
  t.throws(() => f.xs_opus_encode!(h, 'nope', 0, FRAME_SAMPLES, pkt), { instanceOf: TypeError });
  t.throws(() => f.xs_opus_decode!(h, pkt, 0, buf, 0, FRAME_SAMPLES), { instanceOf: RangeError, message: 'packet length' });
  t.throws(() => f.xs_opus_decode!(h, pkt.subarray(0, 4), 5, buf, 0, FRAME_SAMPLES), { instanceOf: RangeError });
  const n = f.xs_opus_encode!(h, buf, 0, FRAME_SAMPLES, pkt) as number;
  t.true(n >= 1);
  t.is(f.xs_opus_decode!(h, pkt, n, buf, 0, FRAME_SAMPLES), FRAME_SAMPLES);
  f.xs_opus_close!(h);
  f.xs_opus_close!(h);
  t.throws(() => f.xs_opus_encode!(h, buf, 0, FRAME_SAMPLES, pkt), { message: 'opus codec closed' });
  t.throws(() => f.xs_opus_reset!(h), { message: 'opus codec closed' });
});

test('C file, sim table, adapter and manifest name the same host functions', (t) => {
  const c = readFileSync(file('hal/native/opus-codec.c'), 'utf8');
  const inC = [...c.matchAll(/^void (xs_opus_\w+)\(xsMachine \*the\)/gm)].map((m) => m[1]).sort();
  const inSim = Object.keys(hostFunctions).filter((k) => k.startsWith('xs_opus_')).sort();
  const adapter = readFileSync(file('hal/moddable-codec.ts'), 'utf8');
  const bound = [...adapter.matchAll(/native\('(xs_\w+)'\)/g)].map((m) => m[1]).sort();
  t.deepEqual(inC, ['xs_opus_close', 'xs_opus_create', 'xs_opus_decode', 'xs_opus_encode', 'xs_opus_reset']);
  t.deepEqual(inSim, inC);
  t.deepEqual(bound, inC);
  const manifest = JSON.parse(readFileSync(file('manifest.json'), 'utf8'));
  for (const p of ['esp32', 'lin']) {
    const natives = [manifest.platforms[p].modules['*']].flat();
    t.true(natives.includes('./hal/native/opus-codec'), `${p} builds hal/native/opus-codec.c`);
    t.is(manifest.platforms[p].modules['hal/moddable-codec'], './hal/moddable-codec', `${p} maps hal/moddable-codec`);
  }
  t.regex(manifest.platforms.lin.build.LIBRARIES, /-lopus\b/);
  t.true(manifest.platforms.esp32.dependency.some((d: { name: string }) => /opus/.test(d.name)), 'esp32 pulls libopus as an IDF component');
});

const xsIncludes = file('node_modules/@agoric/xsnap/moddable/xs/includes');
const canCompile = (() => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return existsSync('/usr/include/opus/opus.h') && existsSync(`${xsIncludes}/xsmc.h`);
  } catch {
    return false;
  }
})();

test('hal/native/opus-codec.c compiles against xsmc.h and libopus with -Wall -Wextra -Werror', (t) => {
  if (!canCompile) {
    t.log('SKIPPED: needs gcc and libopus-dev (/usr/include/opus/opus.h)');
    t.pass();
    return;
  }
  t.notThrows(() =>
    execFileSync('gcc', ['-fsyntax-only', '-Wall', '-Wextra', '-Werror', '-I', xsIncludes, file('hal/native/opus-codec.c')], { stdio: 'pipe' }),
  );
});
