/**
 * The USER-GUIDE flow "send a file" from the simulator's page, in headless Chromium:
 * Mum's phone picks a 44.1 kHz stereo WAV (the speech fixture, resampled here), the
 * page uploads it, the phone converts it as `npm run parent -- send` does
 * (sim/audio-file-packets.ts), seals it and sends it; the heart glows, the child plays it,
 * what the toy's speaker played matches the file, and Mum's phone shows "heard".
 * A file that is not audio is refused in words and nothing is sent. Every wait is on
 * what the page shows (tests/sim-page-rig.ts).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatWav, parseWav } from '../sim/wav-file.js';
import { alignedCorrelation } from './audio-compare.js';
import { CHROMIUM, haveChromium, hold, inCi, openRig, pairingModeNewToy, pairPhone, text, until, untilText } from './sim-page-rig.js';

const browserTest = haveChromium || inCi ? test.serial : test.serial.skip;
if (!haveChromium && !inCi) console.log(`sim-page-file: ${CHROMIUM} not found; skipped (apt-get install chromium)`);

const FIXTURE = fileURLToPath(new URL('./fixtures/speech-16k.wav', import.meta.url));

/** The 16 kHz mono fixture as 44.1 kHz stereo (linear interpolation; the right channel a little quieter). */
function fixtureAt44k(): { mono16k: Int16Array; wav: Uint8Array } {
  const src = parseWav(new Uint8Array(fs.readFileSync(FIXTURE)));
  const x = src.samples;
  const rate = 44100;
  const n = Math.floor((x.length * rate) / 16000);
  const out = new Int16Array(n * 2);
  for (let i = 0; i < n; i++) {
    const p = (i * 16000) / rate;
    const k = Math.floor(p);
    const f = p - k;
    const v = (x[k] ?? 0) * (1 - f) + (x[k + 1] ?? 0) * f;
    out[2 * i] = Math.round(v);
    out[2 * i + 1] = Math.round(v * 0.9);
  }
  return { mono16k: x, wav: formatWav(out, rate, 2) };
}

browserTest('send a file: a 44.1 kHz stereo WAV from the page reaches the toy, plays as it sounds, and is "heard"; a file that is not audio is refused in words', async (t) => {
  if (!haveChromium) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  t.timeout(300000);
  const { base, page, pageErrors, close } = await openRig();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-page-file-'));
  try {
    await pairingModeNewToy(page);
    await pairPhone(page, 'mum');

    // not audio: refused in words before anything is sealed
    const notes = path.join(work, 'notes.txt');
    fs.writeFileSync(notes, 'shopping list: milk, bread\n');
    await page.setInputFiles('#mum-send-file', notes);
    await page.click('#mum-send-file-go');
    t.regex(await untilText(page, '#mum-error', /failed/, 30000), /^Sending notes\.txt failed: neither a WAV nor an Ogg Opus file$/);
    t.is(await text(page, '#mum-sent'), '', 'nothing was sent');

    // a 44.1 kHz stereo WAV
    const { mono16k, wav } = fixtureAt44k();
    const file = path.join(work, 'story.wav');
    fs.writeFileSync(file, wav);
    await page.setInputFiles('#mum-send-file', file);
    await page.click('#mum-send-file-go');
    const result = await untilText(page, '#mum-result', /story\.wav/, 60000);
    t.regex(result, /^story\.wav \(3\.\d s, WAV at 44100 Hz, sent as 16 kHz mono Opus\): (sent|delivered)/);
    await untilText(page, '#waiting', /^1$/, 30000);
    await hold(page, '#heart', 150);
    await untilText(page, '#toy-state', /playing/, 10000);
    await untilText(page, '#toy-state', /idle/, 30000);
    await untilText(page, '#mum-sent', /heard/, 30000);

    // what the toy's speaker played is the file's speech
    const url = await until('the played audio', async () => {
      const s = (await (await fetch(base + '/api/state')).json()) as { toy: { played: { url: string }[] } };
      return s.toy.played[0]?.url;
    }, 30000);
    const played = parseWav(new Uint8Array(await (await fetch(base + url)).arrayBuffer())).samples;
    const { r } = alignedCorrelation(mono16k, played, 1600);
    t.log(`played ${(played.length / 16000).toFixed(2)} s; correlation with the file's speech ${r.toFixed(3)}`);
    t.true(r > 0.8, `correlation ${r}`);
    t.deepEqual(pageErrors.filter((e) => !/status of 400/.test(e)), []);
  } finally {
    await close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
