/**
 * The USER-GUIDE flows of the simulator's page that the other page tests do not walk
 * (docs/TESTING.md "User-guide flows"), in headless Chromium: the orange "no phone yet"
 * case, an old label, a toy locked by wrong proofs (the phone says "locked for N
 * minutes" and how to clear it; holding the paw clears it), stop listening, keeping a
 * message as an Ogg Opus file (opusinfo and opusdec accept it), and the member notices a
 * phone gets when another phone is added or removed. Every wait is on what the page
 * shows (tests/sim-page-rig.ts).
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readOggOpus } from '../phone/ogg-opus.js';
import { sendWrongProofs } from './pairing-guesser.js';
import { CHROMIUM, haveChromium, hold, inCi, openRig, pairPhone, pairingModeFamily, pairingModeNewToy, text, until, untilText } from './sim-page-rig.js';

const browserTest = haveChromium || inCi ? test.serial : test.serial.skip;
if (!haveChromium && !inCi) console.log(`sim-page-guide: ${CHROMIUM} not found; skipped (apt-get install chromium)`);
const hasOpusTools = spawnSync('opusdec', ['--version']).status === 0;

/** The label code with one character of its setup secret changed. */
function wrongSecret(code: string): string {
  const parts = code.split(':');
  const s = parts[2]!;
  parts[2] = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  return parts.join(':');
}

browserTest('a new toy: "no phone yet", an old label, a lock from wrong proofs said on the phone with the way out, the paw clears it', async (t) => {
  if (!haveChromium) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  t.timeout(300000);
  const { sim, page, pageErrors, close } = await openRig();
  try {
    // a short squeeze of a new toy's paw: one orange flash; the page says why
    await hold(page, '#paw', 300);
    await untilText(page, '#toy-notice', /No phone is paired yet: keep holding the paw 3 s to start pairing/, 10000);

    // an old PP1 label: refused by the phone before anything reaches the toy
    const [, id, secret] = sim.setupCode.split(':');
    await page.fill('#mum-code', `PP1:${id}:${secret}`);
    await page.click('#mum-pair');
    t.regex(await untilText(page, '#mum-error', /failed/, 30000), /old label: labels printed before the key check \(codes starting PP1:\) cannot prove the toy is genuine/);

    // someone guessing codes with a phone that sends its proof anyway: five wrong proofs lock pairing
    await pairingModeNewToy(page);
    const radio = `http://127.0.0.1:${sim.radioPort}`;
    await sendWrongProofs(radio, wrongSecret(sim.setupCode));
    await untilText(page, '#locked', /^Pairing is locked for 10 more minute\(s\) after too many wrong codes\.$/, 10000);
    await untilText(page, '#led-meaning', /blinking amber: too many wrong pairing attempts/, 10000);
    // the parent's phone is told, with the way out
    await page.fill('#mum-code', sim.setupCode);
    await page.click('#mum-pair');
    t.regex(await untilText(page, '#mum-error', /failed/, 30000), /locked for 10 minute\(s\): too many wrong codes reached the toy\. Hold its paw 3 s \(or paw \+ heart\) to clear the lock/);
    // holding the paw 3 s clears the lock and opens pairing mode; the right code works
    await pairingModeNewToy(page);
    await untilText(page, '#locked', /^$/, 10000);
    await pairPhone(page, 'mum');
    await untilText(page, '#family', /Mum \(Mum's phone\)/);
    t.is(pageErrors.filter((e) => !/status of 400/.test(e)).length, 0, pageErrors.join('\n'));
  } finally {
    await close();
  }
});

browserTest('the child sends, the parent keeps it as .opus; the child listens and stops; member notices on the other phone', async (t) => {
  if (!haveChromium) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  t.timeout(300000);
  const { base, page, pageErrors, close } = await openRig();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-page-guide-'));
  try {
    await pairingModeNewToy(page);
    await pairPhone(page, 'mum');

    // the child records; Mum's phone lists it with a time and a link to keep it as Ogg Opus
    await page.fill('#mic-text', 'Hello mummy, this is for you to keep');
    await hold(page, '#paw', 2500);
    const href = await until('the .opus link', () => page.$eval('#mum-inbox', (ul) => ul.querySelector('a.keep')?.getAttribute('href') ?? undefined), 60000);
    t.regex(await text(page, '#mum-inbox'), /^\d\d:\d\d:\d\d · from the toy · \d+\.\d s/);
    const r = await fetch(base + href);
    t.is(r.status, 200);
    t.regex(r.headers.get('content-type') ?? '', /^audio\/ogg/);
    t.regex(r.headers.get('content-disposition') ?? '', /^attachment; filename="pawpost-[A-Za-z0-9_-]+\.opus"$/);
    const ogg = new Uint8Array(await r.arrayBuffer());
    const parsed = readOggOpus(ogg);
    t.true(parsed.packets.length >= 30, `${parsed.packets.length} packets`);
    if (hasOpusTools) {
      const file = path.join(work, 'kept.opus');
      fs.writeFileSync(file, ogg);
      t.regex(execFileSync('opusinfo', [file], { encoding: 'utf8' }), /Pre-skip: 312/);
      execFileSync('opusdec', ['--rate', '16000', '--quiet', file, path.join(work, 'kept.wav')]);
      t.true(fs.statSync(path.join(work, 'kept.wav')).size > 44 + 2 * 16000 * 0.6, 'opusdec decoded the message');
    } else t.log('opus-tools not installed: opusinfo/opusdec checks skipped');

    // the child listens to a long message and stops it: the message is kept, not "heard"
    await page.fill('#mum-send-text', 'This is a long story for the child, long enough to be stopped halfway through by pressing the heart again.');
    await page.click('#mum-send');
    await untilText(page, '#waiting', /^1$/, 30000);
    await hold(page, '#heart', 150);
    await untilText(page, '#toy-state', /playing/, 10000);
    await hold(page, '#heart', 150);
    await untilText(page, '#toy-state', /idle/, 5000);
    await untilText(page, '#waiting', /^1$/, 5000);
    await untilText(page, '#mum-sent', /delivered to the toy/, 10000);
    t.notRegex(await text(page, '#mum-sent'), /heard/);

    // Dad's phone joins: Mum's phone is told; Mum removes it: told again
    await pairingModeFamily(page);
    await pairPhone(page, 'dad');
    await untilText(page, '#mum-notices', /^"Dad" was added to the toy$/, 30000);
    t.is(await text(page, '#dad-notices'), '', 'the notice goes to the other phones');
    await pairingModeFamily(page);
    await page.click('#mum-remove');
    await untilText(page, '#mum-result', /removed from the family/, 30000);
    await untilText(page, '#mum-notices', /"Dad" was removed from the toy$/, 30000);
    t.deepEqual(pageErrors, []);
  } finally {
    await close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
