/**
 * The simulator's web page in a real browser (Debian's headless Chromium driven
 * by playwright-core), acting as a parent and a child with real mouse and
 * keyboard input: pair a new toy, record a message with the paw, listen to it on
 * the phone, answer it, and play the answer on the toy's speaker by pressing the
 * heart. Everything stays on 127.0.0.1. Screenshots: /tmp/pawpost-page-glow.png (a
 * message waiting) and, at the end, /tmp/pawpost-page.png.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`; `CHROMIUM` overrides the path).
 * Without it the test fails under CI=true and is skipped otherwise.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = '/tmp/pawpost-page.png';
const haveChromium = fs.existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `probe` until it gives something other than undefined, null or false, and returns that. */
async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(40);
  }
}

/** The heart LED as the page paints it: the computed background and the data-rgb attribute. */
async function heart(page: Page): Promise<{ rgb: [number, number, number]; css: string }> {
  // runs in the page (the host tsconfig has no DOM types: name what is used)
  return page.$eval('#heart-led', (el) => {
    const w = globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } };
    const d = ((el as unknown as { dataset: Record<string, string | undefined> }).dataset.rgb ?? '').split(',').map(Number);
    return { rgb: [d[0] ?? NaN, d[1] ?? NaN, d[2] ?? NaN] as [number, number, number], css: w.getComputedStyle(el).backgroundColor };
  });
}

/** Samples the heart for `ms` and returns the distinct colours seen (as painted by CSS). */
async function sampleHeart(page: Page, ms: number): Promise<{ rgb: [number, number, number]; css: string }[]> {
  const seen: { rgb: [number, number, number]; css: string }[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const h = await heart(page);
    if (!seen.some((s) => s.css === h.css)) seen.push(h);
    await sleep(50);
  }
  return seen;
}

/** Holds the mouse on an element's centre for `ms` (a real press: pointerdown … pointerup). */
async function hold(page: Page, selector: string, ms: number, during?: () => Promise<void>): Promise<void> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  const t0 = Date.now();
  await during?.();
  await sleep(Math.max(0, ms - (Date.now() - t0)));
  await page.mouse.up();
}

/** Checks a WAV served by the simulator: RIFF/WAVE header, 16 kHz mono 16-bit, sizes consistent; returns seconds. */
async function fetchWav(t: import('ava').ExecutionContext, base: string, url: string): Promise<number> {
  t.regex(url, /^\/audio\/[A-Za-z0-9_-]+\.wav$/);
  const r = await fetch(base + url);
  t.is(r.status, 200);
  t.is(r.headers.get('content-type'), 'audio/wav');
  const b = new Uint8Array(await r.arrayBuffer());
  t.true(b.length > 44, 'longer than a header');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const ascii = (o: number) => String.fromCharCode(...b.subarray(o, o + 4));
  t.is(ascii(0), 'RIFF');
  t.is(dv.getUint32(4, true), b.length - 8, 'RIFF size');
  t.is(ascii(8), 'WAVE');
  t.is(ascii(12), 'fmt ');
  t.is(dv.getUint16(20, true), 1, 'PCM');
  t.is(dv.getUint16(22, true), 1, 'mono');
  const rate = dv.getUint32(24, true);
  t.is(rate, 16000);
  t.is(dv.getUint16(34, true), 16, '16-bit');
  t.is(ascii(36), 'data');
  const dataLen = dv.getUint32(40, true);
  t.is(dataLen, b.length - 44, 'data size');
  // speech, not silence
  let energy = 0;
  for (let i = 44; i + 1 < b.length; i += 2) energy += dv.getInt16(i, true) ** 2;
  t.true(Math.sqrt(energy / (dataLen / 2)) > 300, 'the WAV carries sound');
  return dataLen / 2 / rate;
}

const browserTest = haveChromium || inCi ? test.serial : test.serial.skip;
if (!haveChromium && !inCi) console.log(`sim-page: ${CHROMIUM} not found; skipped (apt-get install chromium)`);

browserTest('a parent and a child use the simulator page in a real browser', async (t) => {
  if (!haveChromium) {
    t.fail(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)`);
    return;
  }
  t.timeout(60000);
  await import('../sim/moddable-register.js');
  const { startSimulator } = await import('../sim/simulator.js');
  const { chromium } = await import('playwright-core');

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-page-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  let browser: Browser | undefined;
  try {
    const base = `http://127.0.0.1:${sim.webPort}`;
    // playwright gives each launch a fresh temporary user-data-dir and removes it on close
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('dialog', (d) => {
      pageErrors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    // Only the simulator on loopback: abort anything else the page might ask for.
    await page.route('**/*', (route) => (route.request().url().startsWith(base + '/') ? route.continue() : route.abort()));
    await page.goto(base + '/');
    await until('the first state on the page', async () => (await page.textContent('#toy-state'))?.includes('idle'));

    // --- a new toy: hold the paw 3 s → pairing mode, the heart blinks blue ---
    await hold(page, '#paw', 3400);
    await until('pairing mode on the page', async () => (await page.textContent('#toy-state'))?.includes('pairing'), 3000);
    const blink = await sampleHeart(page, 1300);
    t.log(`heart while pairing: ${blink.map((s) => s.css).join(' | ')}`);
    // data-rgb is the pixel the firmware drives (capped by the manifest's ledMaxLevel); the page paints how it looks
    t.true(blink.some((s) => s.css === 'rgb(0, 0, 255)' && s.rgb[0] === 0 && s.rgb[1] === 0 && s.rgb[2] > 0), 'the heart shows blue');
    t.true(blink.some((s) => s.rgb.join() === '0,0,0' && s.css !== 'rgb(0, 0, 255)'), 'and goes dark between blinks');

    // --- the parent pairs ---
    await page.click('#pair');
    const status = await until('the parent online', async () => {
      const s = (await page.textContent('#parent-status')) ?? '';
      return /paired/.test(s) && /online/.test(s) ? s : false;
    });
    t.log(`parent status: ${status}`);
    await until('the toy back to idle after pairing', async () => (await page.textContent('#toy-state'))?.includes('idle'), 5000);
    // No wait for the green "paired" flashes: the recording light replaces a one-shot flash at once
    // (src/heart-led.ts; tests/toy.xs.ts checks it frame by frame).

    // --- the child records ~2 s: red LED for the whole hold ---
    await page.click('#mic-text', { clickCount: 3 });
    await page.keyboard.type('Hello mummy, I love you');
    let redDuring: [number, number, number] | undefined;
    await hold(page, '#paw', 2000, async () => {
      await sleep(1000);
      redDuring = (await heart(page)).rgb;
      t.is((await heart(page)).css, 'rgb(255, 0, 0)', 'red while recording');
    });
    t.true(redDuring !== undefined && redDuring[0] > 0 && redDuring[1] === 0 && redDuring[2] === 0, `red pixel while recording: ${String(redDuring)}`);
    const inboxUrl = await until('an audio entry in the parent inbox', () => page.$eval('#inbox', (ul) => ul.querySelector('audio')?.getAttribute('src') ?? undefined));
    const inboxAudio = await page.$('#inbox audio');
    const recorded = await fetchWav(t, base, inboxUrl);
    t.true(recorded > 1.5 && recorded < 2.8, `about 2 s recorded, got ${recorded}`);

    // --- the parent answers; the heart glows pink ---
    await page.click('#send-text', { clickCount: 3 });
    await page.keyboard.type('Good night sweetheart');
    await page.click('#send');
    await until('the message waiting on the toy', async () => (await page.textContent('#led-meaning'))?.startsWith('Heart glowing pink'));
    const sentLine = await until('the phone logged what it sent', async () => (await page.textContent('#log'))?.match(/parent: sent a message \(([0-9.]+) s/));
    const sentSeconds = Number(sentLine[1]);
    const glow = await sampleHeart(page, 1600);
    await page.screenshot({ path: SCREENSHOT.replace('.png', '-glow.png') });
    t.log(`heart with a message waiting: ${glow.map((s) => s.css).join(' | ')}`);
    const pink = glow.filter(({ rgb: [r, g, b] }) => r > 0 && r > b && b > g);
    t.true(pink.length >= 3, 'the heart breathes pink (several shades)');
    t.is(pink.length, glow.length, 'lit all the time');
    t.true(
      glow.every(({ rgb: [r, g, b] }) => r >= b && b >= g),
      'nothing but pink shades',
    );

    // the page updated many times meanwhile (the breathing LED); the parent's player was kept, not replaced
    t.true(await inboxAudio!.evaluate((a) => a.isConnected), 'the inbox <audio> element survives state updates');
    t.is(await page.textContent('#led-meaning'), 'Heart glowing pink: a message is waiting. Press the heart to listen.');

    // --- the child presses the heart: the toy plays the message ---
    await hold(page, '#heart', 150);
    const playedUrl = await until('an entry in the toy speaker list', () => page.$eval('#played', (ul) => ul.querySelector('audio')?.getAttribute('src') ?? undefined), 15000);
    const played = await fetchWav(t, base, playedUrl);
    t.true(played >= sentSeconds - 0.1 && played < sentSeconds + 1, `the speaker played the whole message (${played} s of ${sentSeconds} s sent)`);
    t.is((await heart(page)).rgb.join(), '0,0,0', 'the heart is dark again');
    t.false(await page.$eval('#heart-led', (el) => el.classList.contains('lit')));

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.deepEqual(pageErrors, [], 'no page errors, console errors or alerts');
    // no secret in what the page shows outside the label
    const logText = (await page.textContent('#log')) ?? '';
    t.false(logText.includes(sim.setupCode), 'no setup code in the log');
  } finally {
    await browser?.close();
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
