/**
 * Helpers for the simulator's page tests in a real browser (Debian's headless
 * Chromium driven by playwright-core): start a simulator and a page on it, wait
 * on what the page shows (never on fixed sleeps alone: the machine may be loaded),
 * and press the toy's buttons with the mouse. Not a test file itself.
 *
 * Needs /usr/bin/chromium (`CHROMIUM` overrides the path); `haveChromium` tells.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = fs.existsSync(CHROMIUM);
export const inCi = process.env.CI === 'true';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives something other than undefined, null or false, and returns that. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 60000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(40);
  }
}

/** The heart LED as the page paints it: the computed background and the data-rgb attribute (the pixel the firmware drives). */
export async function heart(page: Page): Promise<{ rgb: [number, number, number]; css: string }> {
  // runs in the page (the host tsconfig has no DOM types: name what is used)
  return page.$eval('#heart-led', (el) => {
    const w = globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } };
    const d = ((el as unknown as { dataset: Record<string, string | undefined> }).dataset.rgb ?? '').split(',').map(Number);
    return { rgb: [d[0] ?? NaN, d[1] ?? NaN, d[2] ?? NaN] as [number, number, number], css: w.getComputedStyle(el).backgroundColor };
  });
}

/** Samples the heart for `ms` and returns the distinct colours seen (as painted by CSS). */
export async function sampleHeart(page: Page, ms: number): Promise<{ rgb: [number, number, number]; css: string }[]> {
  const seen: { rgb: [number, number, number]; css: string }[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const h = await heart(page);
    if (!seen.some((s) => s.css === h.css)) seen.push(h);
    await sleep(50);
  }
  return seen;
}

/** `rgb(r, g, b)` → [r, g, b]. */
export function cssRgb(css: string): [number, number, number] {
  const m = css.match(/^rgb\((\d+), (\d+), (\d+)\)$/);
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Relative luminance (sRGB weights on the 0..255 values; enough to compare two colours). */
export const luminance = ([r, g, b]: [number, number, number]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/**
 * Holds the mouse on an element's centre for `ms` (a real press: pointerdown … pointerup).
 * `during` runs while the button is held (its time counts toward `ms`).
 */
export async function hold(page: Page, selector: string, ms: number, during?: () => Promise<void>): Promise<void> {
  // a click elsewhere may have scrolled the page: the mouse presses what is in view
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  const t0 = Date.now();
  try {
    await during?.();
    await sleep(Math.max(0, ms - (Date.now() - t0)));
  } finally {
    await page.mouse.up();
  }
}

/** Text of `selector` ('' when empty or absent). */
export async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector).catch(() => null)) ?? '';
}

/** Waits until `selector`'s text matches `re`; returns the text. */
export function untilText(page: Page, selector: string, re: RegExp, ms = 60000): Promise<string> {
  return until(`${selector} to match ${re}`, async () => {
    const s = await text(page, selector);
    return re.test(s) ? s : false;
  }, ms);
}

export interface PageRig {
  sim: import('../sim/simulator.js').Simulator;
  page: Page;
  base: string;
  /** Page errors, console errors and dialogs seen so far. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Starts a simulator on a fresh data directory and opens its page in headless Chromium. */
export async function openRig(): Promise<PageRig> {
  await import('../sim/moddable-register.js');
  const { startSimulator } = await import('../sim/simulator.js');
  const { chromium } = await import('playwright-core');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-page-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const base = `http://127.0.0.1:${sim.webPort}`;
    // playwright gives each launch a fresh temporary user-data-dir and removes it on close
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
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
    await untilText(page, '#toy-state', /idle/);
    return { sim, page, base, pageErrors, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Puts a new toy in pairing mode with the paw (3 s, with margin) and waits for it. */
export async function pairingModeNewToy(page: Page): Promise<void> {
  await hold(page, '#paw', 4500);
  await untilText(page, '#toy-state', /pairing/, 15000);
}

/** Puts a toy with a family in pairing mode: paw + heart held past 3 s, released before 10 s (margins for a loaded machine). */
export async function pairingModeFamily(page: Page): Promise<void> {
  await hold(page, '#both', 6000);
  await untilText(page, '#toy-state', /pairing/, 15000);
}

/** `phone` pairs from the page (the toy must be in pairing mode) and waits until it is online. */
export async function pairPhone(page: Page, phone: 'mum' | 'dad'): Promise<void> {
  await page.click(`#${phone}-pair`);
  await untilText(page, `#${phone}-status`, /^paired .*online$/, 30000);
  await untilText(page, '#toy-state', /idle/, 15000);
}
