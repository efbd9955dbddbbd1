/**
 * The simulator end to end, in real time, on Node: the firmware's own src/main.ts
 * over the Node implementations of the Moddable modules, the factory-provisioned
 * NVS image, the embedded broker with its ACL, the parent app pairing over the
 * simulated BLE air and exchanging sealed, Opus-encoded speech with the toy.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep, until } from './wait-until.js';

await import('../sim/moddable-register.js');
const { startSimulator } = await import('../sim/simulator.js');
const { board } = await import('../sim/moddable/board.js');


test.serial('pair, record, send and play through the simulator', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-sim-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  try {
    const model = sim.model;
    t.is(sim.toy().toy.state, 'idle');
    t.is(sim.toy().identity?.toyId.length, 32, 'the firmware read its identity from the flashed NVS image');
    // a fresh toy: hold the paw 3 s → pairing mode
    model.press('paw', true);
    await until('pairing mode', () => sim.toy().toy.state === 'pairing', 6000);
    model.press('paw', false);
    const blue = model.snapshot().toy.led;
    await sleep(600);
    const blue2 = model.snapshot().toy.led;
    t.true(blue[2] > 0 || blue2[2] > 0, 'the LED blinks blue');
    await model.parentPair('Mum');
    t.is(sim.toy().roster?.size, 1);
    await until('the toy online', () => sim.toy().session()?.state === 'online');
    await until('the parent online', () => sim.parent.status.endsWith('online'));

    // the child records
    await model.setMicText('Hello mummy, I love you');
    model.press('paw', true);
    await sleep(2000);
    const led = model.snapshot().toy.led;
    t.true(led[0] > 0 && led[1] === 0 && led[2] === 0, 'red while recording');
    model.press('paw', false);
    await until('the message at the parent', () => sim.parent.messages.length === 1);
    const m = sim.parent.messages[0]!;
    t.true(m.seconds > 1.5 && m.seconds < 2.6, `about 2 s, got ${m.seconds}`);
    // the decoded audio carries speech (espeak-ng + Opus both ways), not silence
    const pcm = new Int16Array(m.wav.buffer.slice(m.wav.byteOffset + 44, m.wav.byteOffset + m.wav.length));
    let energy = 0;
    for (const s of pcm) energy += s * s;
    t.true(Math.sqrt(energy / pcm.length) > 300, 'the parent hears speech');

    // the parent answers; the heart glows until pressed
    await model.parentSend('Good night sweetheart');
    await until('the message at the toy', () => (sim.toy().player?.waiting() ?? 0) === 1);
    t.is(sim.toy().led.current, 'message');
    model.press('heart', true);
    await sleep(150); // a real press; the button driver debounces shorter blips away
    model.press('heart', false);
    await until('playback', () => sim.toy().toy.state === 'playing', 2000);
    await until('the end of playback', () => sim.toy().toy.state === 'idle', 10000);
    // the child answers at once: the mic gets the shared I2S pins although the speaker's tail was still queued
    model.press('paw', true);
    await sleep(100);
    t.is(sim.toy().toy.state, 'recording', 'a paw press right after playback records');
    await sleep(900);
    model.press('paw', false);
    await until('the page lists what the speaker played', () => model.snapshot().toy.played.length === 1, 2000);
    t.true(model.snapshot().toy.played[0]!.seconds > 1, 'the speaker played the message (its tail cut by the new recording)');
    await until('the answer at the parent', () => sim.parent.messages.length === 2);
    t.is(sim.toy().player?.waiting(), 0);
    t.is(sim.toy().led.current, 'off');
    // no secret reached the log the page shows
    const logText = model.snapshot().log.join('\n') + board.traceLines.join('\n');
    t.false(logText.includes(sim.setupCode), 'no setup code in the log');
  } finally {
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
