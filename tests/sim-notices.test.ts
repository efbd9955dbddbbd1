/**
 * The simulator tells what the toy itself keeps silent, from the toy's own counters
 * (sim/simulator.ts, sim/sim-words.ts COUNTER_NOTICES): here the 60 s cap of a
 * recording, in real time (the page tests cover the short squeeze and the paw
 * pressed during playback).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { untilWithin } from './wait-until.js';

await import('../sim/moddable-register.js');
const { startSimulator } = await import('../sim/simulator.js');

const until = untilWithin(60000);

test.serial('a recording held past 60 s stops, is sent, and the page says so', async (t) => {
  t.timeout(180000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-notice-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  try {
    const model = sim.model;
    model.press('paw', true);
    await until('pairing mode', () => sim.toy().toy.state === 'pairing', 10000);
    model.press('paw', false);
    await model.parentPair('Mum');
    await until('the parent online', () => sim.parent.status.endsWith('online'));
    await model.setMicText('Hello');
    model.press('paw', true);
    await until('recording', () => sim.toy().toy.state === 'recording', 5000);
    t.is(model.snapshot().toy.hold?.kind, 'recording');
    await until('the 60 s cap', () => sim.toy().toy.state !== 'recording', 75000);
    await until('the notice', () => /60 s limit/.test(model.snapshot().toy.notice), 5000);
    t.regex(model.snapshot().log.join('\n'), /toy: The recording stopped at the 60 s limit/);
    model.press('paw', false);
    await until('the message at the parent', () => sim.parent.messages.length === 1);
    // at most the cap; on a loaded machine the simulated microphone can lose frames, so not always all 60 s
    const got = sim.parent.messages[0]!.seconds;
    t.log(`the parent got ${got.toFixed(2)} s`);
    t.true(got > 45 && got <= 60.1, `${got} s`);
  } finally {
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
