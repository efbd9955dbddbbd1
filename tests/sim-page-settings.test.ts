/**
 * Family settings and the first message from the simulator's page, in headless Chromium
 * (issue 15): a phone's settings form (quiet hours on/off with start and end, a volume
 * limit) sends them sealed through the parent side as `npm run parent -- settings` does
 * (the same parser, phone/settings-input.ts; the same sealing and topic); bad input is
 * refused in words; the toy enforces them (during quiet hours the heart does not glow and
 * pressing it plays nothing; the message waits and glows when quiet hours end) and the
 * page shows what it enforces; the child's listening comes back as "heard". And a toy
 * that has never reached the relay: the phone keeps the message and the settings ("waiting
 * on the phone") and sends them once the toy is there, so none is lost.
 * Every wait is on what the page shows (tests/sim-page-rig.ts).
 */
import test from 'ava';
import { CHROMIUM, haveChromium, heart, hold, inCi, openRig, pairPhone, pairingModeNewToy, sampleHeart, text, until, untilText } from './sim-page-rig.js';

const browserTest = haveChromium || inCi ? test.serial : test.serial.skip;
if (!haveChromium && !inCi) console.log(`sim-page-settings: ${CHROMIUM} not found; skipped (apt-get install chromium)`);

const hm = (m: number) => `${String(Math.floor((((m % 1440) + 1440) % 1440) / 60)).padStart(2, '0')}:${String((((m % 1440) + 1440) % 1440) % 60).padStart(2, '0')}`;

browserTest('family settings from the page: errors in words, quiet hours enforced by the toy (no glow, nothing plays, the message waits), volume limit, "heard"', async (t) => {
  if (!haveChromium) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  t.timeout(300000);
  const { sim, page, pageErrors, close } = await openRig();
  try {
    await pairingModeNewToy(page);
    await pairPhone(page, 'mum');
    await untilText(page, '#toy-online', /^the toy is online/);
    t.regex(await text(page, '#settings'), /^no quiet hours · volume limit 100 %$/);

    // bad input: said in words, nothing sent
    await page.fill('#mum-volume', '150');
    await page.click('#mum-save-settings');
    t.regex(await untilText(page, '#mum-error', /failed/, 30000), /Save settings failed: the volume limit is a whole percentage from 1 to 100$/);
    await page.check('#mum-quiet-on');
    await page.fill('#mum-quiet-start', '19:00');
    await page.fill('#mum-quiet-end', '19:00');
    await page.fill('#mum-volume', '40');
    await page.click('#mum-save-settings');
    t.regex(await untilText(page, '#mum-error', /failed/, 30000), /quiet hours need an end time different from the start$/);
    t.is(sim.toy().family?.settings.volumePercent, 100, 'nothing reached the toy');

    // quiet hours around now (the browser's zone, which the page sends as the family's), volume 40 %
    const nowMin = await page.evaluate(() => {
      const d = new Date();
      return d.getHours() * 60 + d.getMinutes();
    });
    const zone = await page.evaluate(() => -new Date().getTimezoneOffset());
    const window = `${hm(nowMin - 60)}-${hm(nowMin + 60)}`;
    await page.fill('#mum-quiet-start', hm(nowMin - 60));
    await page.fill('#mum-quiet-end', hm(nowMin + 60));
    await page.click('#mum-save-settings');
    const result = await untilText(page, '#mum-result', /Settings/, 30000);
    t.is(result, `Settings sent to the toy: quiet hours ${window} (UTC${zone >= 0 ? '+' : ''}${zone} min), volume limit 40 %.`);
    t.is(await text(page, '#mum-error'), '');
    // the toy enforces them, and the page shows what it enforces
    await untilText(page, '#settings', new RegExp(`^quiet hours ${window} \\(now: no glow, nothing plays\\) · volume limit 40 %$`), 20000);
    t.is(sim.toy().family?.settings.volumePercent, 40);
    t.true(sim.toy().family!.isQuiet());

    // a message during quiet hours: it arrives and waits; the heart stays dark; the heart plays nothing
    await page.fill('#mum-send-text', 'Sleep well');
    await page.click('#mum-send');
    await untilText(page, '#waiting', /^1$/, 30000);
    // (the green "paired" flashes may still be ending: they are not a message glow)
    await untilText(page, '#led-meaning', /^Heart dark: quiet hours\. 1 message\(s\) wait; the heart glows when quiet hours end\.$/, 10000);
    const dark = await sampleHeart(page, 1500);
    t.deepEqual(dark.map((h) => h.rgb.join()), ['0,0,0'], 'no glow during quiet hours');
    await hold(page, '#heart', 150);
    const states = new Set<string>();
    const end = Date.now() + 1500;
    while (Date.now() < end) states.add(await text(page, '#toy-state'));
    t.false(states.has('playing'), `nothing plays during quiet hours (${[...states].join(', ')})`);
    t.is(await text(page, '#waiting'), '1', 'the message still waits');

    // quiet hours off: the heart glows; the child listens; Mum's phone learns it was heard
    await page.uncheck('#mum-quiet-on');
    await page.click('#mum-save-settings');
    t.regex(await untilText(page, '#mum-result', /Settings/, 30000), /^Settings sent to the toy: quiet hours off, volume limit 40 %\.$/);
    await untilText(page, '#settings', /^no quiet hours · volume limit 40 %$/, 20000);
    await untilText(page, '#led-meaning', /^Heart glowing pink/, 20000);
    t.true((await heart(page)).rgb.some((v) => v > 0));
    await hold(page, '#heart', 150);
    await untilText(page, '#toy-state', /playing/, 10000);
    await untilText(page, '#toy-state', /idle/, 30000);
    await untilText(page, '#mum-sent', /heard: the child listened to it/, 30000);
    // the form shows what this phone sent last
    await untilText(page, '#mum-settings-now', /^Last sent from this phone: quiet hours off, volume limit 40 %$/, 10000);
    t.deepEqual(pageErrors, Array(2).fill('Failed to load resource: the server responded with a status of 400 (Bad Request)'));
  } finally {
    await close();
  }
});

browserTest('a toy that never reached the relay: the page keeps the message and the settings on the phone, and sends them when the toy comes online', async (t) => {
  if (!haveChromium) return t.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  t.timeout(300000);
  const { sim, page, pageErrors, close } = await openRig();
  try {
    // the toy's Wi-Fi is off from the start: it gets its network at pairing and cannot reach the relay
    await page.uncheck('#toy-wifi');
    await untilText(page, '#toy-online', /offline \(Wi-Fi off\)/);
    await pairingModeNewToy(page);
    await page.click('#mum-pair');
    await untilText(page, '#mum-status', /^paired .*online$/, 30000);
    await untilText(page, '#toy-state', /idle/, 15000);

    await page.fill('#mum-send-text', 'The very first message');
    await page.click('#mum-send');
    t.regex(await untilText(page, '#mum-result', /Message/, 30000), /^Message waiting on the phone: the toy has not connected to the relay yet/);
    await page.fill('#mum-volume', '55');
    await page.click('#mum-save-settings');
    t.regex(await untilText(page, '#mum-result', /Settings/, 30000), /^Settings kept on the phone: quiet hours off, volume limit 55 %\. The toy has not connected to the relay yet/);
    await untilText(page, '#mum-settings-now', /volume limit 55 % \(waiting on the phone\)$/, 10000);

    // the toy comes online: it subscribes, says so, the phone sends what it kept
    await page.check('#toy-wifi');
    await untilText(page, '#toy-online', /^the toy is online/, 60000);
    await untilText(page, '#mum-sent', /delivered to the toy/, 60000);
    await untilText(page, '#waiting', /^1$/, 10000);
    await untilText(page, '#settings', /volume limit 55 %$/, 20000);
    await until('the settings no longer waiting', async () => !/waiting on the phone/.test(await text(page, '#mum-settings-now')), 10000);
    t.is(sim.toy().family?.settings.volumePercent, 55);
    t.regex(await text(page, '#log'), /the toy is known to the relay now: sent the message kept on the phone/);
    t.deepEqual(pageErrors, []);
  } finally {
    await close();
  }
});
