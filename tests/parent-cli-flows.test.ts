/**
 * The USER-GUIDE flows of the parent command line that tests/parent-cli.test.ts does
 * not walk (docs/TESTING.md "User-guide flows"), against the simulator's real toy over
 * its radio endpoint and embedded broker: every pairing answer the guide lists, in the
 * guide's words (old label, not in pairing mode, this is not the toy the label belongs
 * to, wrong code, locked for N minutes, and the paw that clears the lock); the toy
 * online and offline in `status`; a factory reset followed by a new pairing of the same
 * data directory, and a message under the new pairing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatWav } from '../sim/wav-file.js';
import { sendWrongProofs } from './pairing-guesser.js';
import { sleep, until } from './wait-until.js';

await import('../sim/moddable-register.js');
const { startSimulator } = await import('../sim/simulator.js');
const { main } = await import('../tools/parent-cli.js');


async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** The label code with one character of part `i` changed (2: the setup secret, 3: the toy key hash). */
function changed(code: string, i: number): string {
  const parts = code.split(':');
  const s = parts[i]!;
  parts[i] = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  return parts.join(':');
}

type Sim = Awaited<ReturnType<typeof startSimulator>>;

/** Holds the paw (and the heart) through the simulator's buttons until `done` (at most `ms`), then lets go. */
async function holdButtons(sim: Sim, buttons: ('paw' | 'heart')[], what: string, done: () => boolean, ms = 15000): Promise<void> {
  for (const b of buttons) sim.model.press(b, true);
  try {
    await until(what, done, ms);
  } finally {
    for (const b of [...buttons].reverse()) sim.model.press(b, false);
  }
}
const pairingMode = (sim: Sim) => holdButtons(sim, ['paw'], 'pairing mode', () => sim.toy().toy.state === 'pairing', 8000);

async function withSim(t: import('ava').ExecutionContext, run: (sim: Sim, common: (d: string) => string[], work: string) => Promise<void>): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-flows-sim-'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-flows-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0, radioPort: 0 });
  const common = (d: string) => ['--data', path.join(work, d), '--radio', `http://127.0.0.1:${sim.radioPort}`, '--broker', `mqtt://127.0.0.1:${sim.brokerPort}`, '--wait', '500'];
  try {
    await run(sim, common, work);
    const everything = sim.model.snapshot().log.join('\n');
    t.false(everything.includes(sim.setupCode), 'no setup code in the log');
  } finally {
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

test.serial('pairing answers in the guide\'s words: old label, not in pairing mode, not this toy\'s label, wrong code, locked (the paw clears it)', async (t) => {
  t.timeout(180000);
  await withSim(t, async (sim, common) => {
    const pair = (code: string) => cli([...common('mum'), 'pair', code, '--name', 'Mum', '--wifi', 'Home', '--wifi-pass', 'correct horse']);
    // an old label: refused before anything reaches the toy
    const [, id, secret] = sim.setupCode.split(':');
    let r = await pair(`PP1:${id}:${secret}`);
    t.is(r.code, 1);
    t.regex(r.err[0]!, /^parent: pairing failed: old label: labels printed before the key check \(codes starting PP1:\) cannot prove the toy is genuine/);
    // not in pairing mode
    r = await pair(sim.setupCode);
    t.regex(r.err[0]!, /^parent: pairing failed: the toy is not in pairing mode: a new toy: hold the paw 3 s/);

    await pairingMode(sim);
    // a label that does not belong to this toy (its key hash differs)
    r = await pair(changed(sim.setupCode, 3));
    t.is(r.code, 1);
    t.regex(r.err[0]!, /^parent: pairing failed: this toy's key does not match its label/);
    // a wrong code: said so; the app checks the toy's answer first and stops, so the toy never sees a
    // wrong proof and pairing mode stays open: the right code works at once (checked below)
    for (let i = 0; i < 6; i++) {
      r = await pair(changed(sim.setupCode, 2));
      t.regex(r.err[0]!, /^parent: pairing failed: wrong code: the toy did not accept it/);
    }
    t.is(sim.toy().toy.state, 'pairing', 'a parent\'s wrong codes never lock the toy');
    t.is(sim.toy().pairing?.lockout.remainingMs() ?? 0, 0);
    // what does lock it: five wrong proofs sent to the toy (a phone that does not check the toy's
    // answer, e.g. someone guessing codes), here over the same radio
    const radio = `http://127.0.0.1:${sim.radioPort}`;
    await sendWrongProofs(radio, changed(sim.setupCode, 2));
    await until('the lock', () => (sim.toy().pairing?.lockout.remainingMs() ?? 0) > 0, 5000);
    // the next try is told about the lock, with the way out
    r = await pair(sim.setupCode);
    t.regex(r.err[0]!, /^parent: pairing failed: locked for 10 minute\(s\): too many wrong codes reached the toy\. Hold its paw 3 s/);
    t.is(sim.toy().roster?.size ?? 0, 0);
    // holding the paw 3 s clears the lock and opens pairing mode: the right code works at once
    await pairingMode(sim);
    t.is(sim.toy().pairing?.lockout.remainingMs() ?? 0, 0, 'the lock is cleared');
    r = await pair(sim.setupCode);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out[0]!, /1 family member\(s\)/);
  });
});

test.serial('status says online and offline; a factory reset is followed by a new pairing of the same phone and a message', async (t) => {
  t.timeout(180000);
  await withSim(t, async (sim, common) => {
    await pairingMode(sim);
    let r = await cli([...common('mum'), 'pair', sim.setupCode, '--name', 'Mum', '--wifi', 'Home', '--wifi-pass', 'correct horse']);
    t.is(r.code, 0, r.err.join('\n'));
    await until('the toy online', () => sim.toy().session()?.state === 'online');
    r = await cli([...common('mum'), 'status']);
    t.truthy(r.out.find((l) => /^relay reachable; the toy is online since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(l)), r.out.join('\n'));
    // the toy's Wi-Fi off: the relay publishes its last will
    await sim.model.setToyWifi(false);
    await until('the toy off the relay', () => !sim.model.snapshot().toy.online, 10000);
    r = await cli([...common('mum'), 'status']);
    t.truthy(r.out.find((l) => /^relay reachable; the toy is offline \(its last session began \d{4}-.* UTC\)$/.test(l)), r.out.join('\n'));
    await sim.model.setToyWifi(true);
    await until('the toy back online', () => sim.toy().session()?.state === 'online', 60000);

    // a message, then a factory reset: paw and heart 10 s
    const wav = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-wav-')), 'hi.wav');
    const s = new Int16Array(16000);
    for (let i = 0; i < s.length; i++) s[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 16000));
    fs.writeFileSync(wav, formatWav(s, 16000));
    r = await cli([...common('mum'), 'send', wav]);
    t.regex(r.out.at(-1)!, /queued at the relay for the toy$/);
    await until('the message at the toy', () => (sim.toy().player?.waiting() ?? 0) === 1);
    const before = sim.toy();
    await holdButtons(sim, ['paw', 'heart'], 'the reset', () => sim.toy() !== before, 16000);
    await until('the toy restarted after the reset', () => (sim.toy().roster?.size ?? -1) === 0, 20000);
    t.is(sim.toy().player?.waiting() ?? 0, 0, 'the reset erased the messages');
    // the command line's pairing is void on the toy; the same data directory pairs again
    await until('idle after the restart', () => sim.toy().toy.state === 'idle', 20000);
    await sleep(200);
    await pairingMode(sim);
    r = await cli([...common('mum'), 'pair', sim.setupCode, '--name', 'Mum', '--wifi', 'Home', '--wifi-pass', 'correct horse']);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out[0]!, /1 family member\(s\)/);
    await until('the toy online after the reset', () => sim.toy().session()?.state === 'online', 60000);
    r = await cli([...common('mum'), 'send', wav]);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out.at(-1)!, /^sent [0-9a-f]{8}: 1\.0 s .*queued at the relay for the toy$/);
    await until('the message under the new pairing', () => (sim.toy().player?.waiting() ?? 0) === 1, 20000);
    fs.rmSync(path.dirname(wav), { recursive: true, force: true });
  });
});
