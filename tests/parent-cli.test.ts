/**
 * The parent command line (tools/parent-cli.ts) against the simulator's real
 * toy (the firmware's own src/main.ts on the Node Moddable modules, paired over
 * the simulated air through sim/radio-endpoint.ts) and its MQTT broker over TCP:
 * pair, send a WAV file, list the child's recording, get it as Ogg Opus (opusdec
 * plays it, and it decodes to what the host codec makes of the stored packets),
 * a second phone, remove it, status; and every bad input is one line, no stack.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatWav } from '../sim/wav-file.js';
import { correlationAt } from './audio-compare.js';
import { sleep, until } from './wait-until.js';

await import('../sim/moddable-register.js');
const { startSimulator } = await import('../sim/simulator.js');
const { main } = await import('../tools/parent-cli.js');
const { decodeWavToMono16k } = await import('../phone/audio-import.js');
const { readOggOpus } = await import('../phone/ogg-opus.js');

const hasOpusTools = spawnSync('opusdec', ['--version']).status === 0;

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** 1.5 s of a voice-like signal at 44.1 kHz stereo. */
function wavFile(file: string): void {
  const rate = 44100;
  const n = Math.round(1.5 * rate);
  const s = new Int16Array(2 * n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(9000 * Math.sin((2 * Math.PI * 200 * i) / rate) * (0.6 + 0.4 * Math.sin((2 * Math.PI * 3 * i) / rate)));
    s[2 * i] = v;
    s[2 * i + 1] = v;
  }
  fs.writeFileSync(file, formatWav(s, rate, 2));
}

test.serial('the parent command line drives a simulated toy: pair, send, list, get --ogg, second phone, remove, status', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-sim-'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0, radioPort: 0 });
  const mum = path.join(work, 'mum');
  const dad = path.join(work, 'dad');
  const common = (d: string) => ['--data', d, '--radio', `http://127.0.0.1:${sim.radioPort}`, '--broker', `mqtt://127.0.0.1:${sim.brokerPort}`];
  try {
    // not in pairing mode: a parent-readable refusal
    let r = await cli([...common(mum), 'pair', sim.setupCode, '--name', 'Mum']);
    t.is(r.code, 1);
    t.regex(r.err[0]!, /^parent: pairing failed: the toy is not in pairing mode/);

    // pair (the first phone gives the Wi-Fi)
    sim.model.press('paw', true);
    await until('pairing mode', () => sim.toy().toy.state === 'pairing', 6000);
    sim.model.press('paw', false);
    r = await cli([...common(mum), 'pair', sim.setupCode, '--name', 'Mum', '--toy-name', 'Teddy', '--wifi', 'Home', '--wifi-pass', 'correct horse']);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out[0]!, /^paired with PawPost .* 1 family member\(s\); this phone is member p[0-9a-f]{12} "Mum"$/);
    t.regex(r.out[1]!, /^enrolled at the relay mqtt:\/\/127\.0\.0\.1:\d+ as ph-[0-9a-f]{32}$/);
    t.is(sim.toy().roster?.size, 1);
    await until('the toy online', () => sim.toy().session()?.state === 'online');

    // send a 44.1 kHz stereo WAV
    const wav = path.join(work, 'hello.wav');
    wavFile(wav);
    r = await cli([...common(mum), 'send', wav]);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out.at(-1)!, /^sent [0-9a-f]{8}: 1\.5 s \(WAV at 44100 Hz, sent as 16 kHz mono Opus\), \d+ sealed chunks, queued at the relay for the toy$/);
    await until('the message at the toy', () => (sim.toy().player?.waiting() ?? 0) === 1);

    // the child records; list collects it
    await sim.model.setMicText('Hello mummy');
    sim.model.press('paw', true);
    await sleep(1800);
    sim.model.press('paw', false);
    await until('the recording sent', () => sim.toy().toy.state === 'idle' && (sim.toy().outbox?.count() ?? 1) === 0, 10000);
    r = await cli([...common(mum), 'list']);
    t.is(r.code, 0, r.err.join('\n'));
    t.is(r.out[0], '1 new message(s) from Teddy');
    const rows = r.out.slice(1);
    t.is(rows.length, 2, rows.join('\n'));
    const rx = rows.find((l) => l.includes('from Teddy'))!;
    t.regex(rx, /^[0-9a-f]{8}  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +\d\.\d s  from Teddy +new$/);
    // the toy stored Mum's message: its sealed "delivered" receipt moved the state on
    t.truthy(rows.find((l) => / 1\.5 s  to the toy \(Mum\) +delivered$/.test(l)), rows.join('\n'));
    const sentId = rows.find((l) => l.includes('to the toy (Mum)'))!.slice(0, 8);
    const id = rx.slice(0, 8);

    // get it as Ogg Opus and as WAV; the .opus plays in opusdec and matches
    const opus = path.join(work, 'from-teddy.opus');
    r = await cli([...common(mum), 'get', id.slice(0, 5), '--ogg', opus]);
    t.is(r.code, 0, r.err.join('\n'));
    const wavOut = path.join(work, 'from-teddy.wav');
    t.is((await cli([...common(mum), 'get', id, '--wav', wavOut])).code, 0);
    const ogg = readOggOpus(new Uint8Array(fs.readFileSync(opus)));
    t.true(ogg.packets.length >= 80, `${ogg.packets.length} packets`);
    if (hasOpusTools) {
      execFileSync('opusinfo', [opus]);
      const dec = path.join(work, 'dec.wav');
      execFileSync('opusdec', ['--rate', '16000', '--quiet', opus, dec]);
      const a = decodeWavToMono16k(new Uint8Array(fs.readFileSync(dec))).samples;
      const host = decodeWavToMono16k(new Uint8Array(fs.readFileSync(wavOut))).samples.subarray(104);
      let best = 0;
      for (let lag = 0; lag <= 2; lag++) best = Math.max(best, correlationAt(a, host, lag), correlationAt(host, a, lag));
      t.log(`the child's message: opusdec vs host codec correlation ${best.toFixed(4)}`);
      t.true(best > 0.98, `correlation ${best}`);
    } else t.log('opus-tools not installed: opusdec check skipped');
    r = await cli([...common(mum), 'list']);
    t.regex(r.out.find((l) => l.startsWith(id))!, /heard$/, 'exported = heard');

    // the child plays Mum's message: the toy's "heard" receipt reaches Mum's phone
    sim.model.press('heart', true);
    await sleep(150);
    sim.model.press('heart', false);
    await until('the message played', () => (sim.toy().player?.waiting() ?? 1) === 0 && sim.toy().toy.state === 'idle', 15000);
    r = await cli([...common(mum), 'list']);
    t.regex(r.out.find((l) => l.startsWith(sentId))!, /  heard$/, r.out.join('\n'));

    // a second phone (Dad): paw and heart 3 s
    sim.model.press('paw', true);
    sim.model.press('heart', true);
    await sleep(3300); // held 3 s: the heart turns blue; letting go opens pairing mode
    sim.model.press('paw', false);
    sim.model.press('heart', false);
    await until('pairing mode again', () => sim.toy().toy.state === 'pairing', 3000);
    r = await cli([...common(dad), 'pair', sim.setupCode, '--name', 'Dad']);
    t.is(r.code, 0, r.err.join('\n'));
    t.is(sim.toy().roster?.size, 2);
    const dadId = /member (p[0-9a-f]{12})/.exec(r.out[0]!)![1]!;
    r = await cli([...common(dad), 'status']);
    t.is(r.code, 0);
    t.truthy(r.out.find((l) => l.includes(`member ${dadId} "Dad"`)));
    t.truthy(r.out.find((l) => /^relay reachable; the toy is online since \d{4}-/.test(l)), r.out.join('\n'));
    // Mum's phone hears that a phone was added (a label holder cannot add a silent listener)
    r = await cli([...common(mum), 'list']);
    t.truthy(r.out.find((l) => l.startsWith('family: "Dad" (') && l.includes('was added to the toy')), r.out.join('\n'));

    // Mum removes Dad (the toy in pairing mode again)
    r = await cli([...common(mum), 'remove', dadId]);
    t.is(r.code, 1, 'not in pairing mode');
    t.regex(r.err[0]!, /not in pairing mode/);
    sim.model.press('paw', true);
    sim.model.press('heart', true);
    await sleep(3300); // held 3 s: the heart turns blue; letting go opens pairing mode
    sim.model.press('paw', false);
    sim.model.press('heart', false);
    await until('pairing mode for removal', () => sim.toy().toy.state === 'pairing', 3000);
    r = await cli([...common(mum), 'remove', dadId]);
    t.is(r.code, 0, r.err.join('\n'));
    t.is(sim.toy().roster?.size, 1);
    t.deepEqual(sim.toy().roster?.list().map((m) => m.name), ['Mum']);

    // status
    r = await cli([...common(mum), 'status']);
    t.is(r.code, 0);
    t.truthy(r.out.find((l) => /^messages: 1 from the toy \(0 new\), 1 sent \(0 waiting on this phone\)$/.test(l)), r.out.join('\n'));

    // family settings from the command line: the toy takes them (sealed on the set topic)
    r = await cli([...common(mum), 'settings', '--volume', '40', '--quiet', '00:00-23:59', '--utc-offset', '0']);
    t.is(r.code, 0, r.err.join('\n'));
    t.is(r.out.at(-1), 'settings sent to the toy: quiet hours 00:00-23:59 (UTC+0 min), volume limit 40 %');
    await until('the toy applied the settings', () => sim.toy().family?.settings.volumePercent === 40);
    t.true(sim.toy().family!.isQuiet(), 'quiet hours now');
    t.is(sim.model.snapshot().toy.settings.words, 'quiet hours 00:00-23:59 (now: no glow, nothing plays) · volume limit 40 %', 'shown on the page');
    r = await cli([...common(mum), 'settings', '--quiet', 'off']);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out.at(-1)!, /quiet hours off, volume limit 40 %$/, 'the volume kept from the last settings');
    await until('quiet hours off at the toy', () => sim.toy().family?.isQuiet() === false);
    r = await cli([...common(mum), 'settings', '--volume', '0']);
    t.is(r.code, 2);
    t.is(r.err[0], 'parent: --volume: the volume limit is a whole percentage from 1 to 100');

    // the log and the outputs never show the setup code or the broker password
    const pair = JSON.parse(fs.readFileSync(path.join(mum, 'parent.pair'), 'utf8')) as { brokerPassword: string };
    const everything = sim.model.snapshot().log.join('\n');
    t.false(everything.includes(sim.setupCode));
    t.false(everything.includes(pair.brokerPassword));
  } finally {
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test.serial('bad arguments and inputs: one line on stderr, exit 2 (usage) or 1, never a stack', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-bad-'));
  const d = ['--data', path.join(work, 'd')];
  const cases: [string[], number, RegExp][] = [
    [[], 2, /^parent: no command/],
    [['frobnicate'], 2, /^parent: unknown command frobnicate/],
    [['--port', 'abc', 'list'], 2, /^parent: unknown option --port/],
    [[...d, 'list', '--wait', 'abc'], 1, /not paired/],
    [[...d, 'pair'], 2, /^parent: pair takes the setup code/],
    [[...d, 'pair', 'PP2:garbage', '--name', 'Mum'], 1, /^parent: bad setup code: /],
    [[...d, 'pair', 'PP2:garbage'], 2, /needs --name/],
    [[...d, 'pair', 'x', '--name', 'Mum', '--broker', 'http://x'], 2, /--broker http:\/\/x: use mqtt:/],
    [[...d, 'pair', 'x', '--name', 'Mum', '--wifi', 'Home'], 2, /--wifi and --wifi-pass go together/],
    [[...d, 'send', '/nonexistent/hello.wav'], 1, /not paired/],
    [[...d, 'get', 'abcd'], 2, /--ogg OUT\.opus or --wav/],
    [['--data', '/etc/passwd/not-a-dir', 'status'], 1, /^parent: cannot use the data directory/],
    [['--wait'], 2, /^parent: --wait needs a value/],
  ];
  for (const [args, code, re] of cases) {
    const r = await cli(args);
    t.is(r.code, code, args.join(' '));
    t.is(r.err.length, 1, args.join(' '));
    t.regex(r.err[0]!, re, args.join(' '));
    t.false(/\n\s+at /.test(r.err[0]!), 'no stack');
  }
  // --help: the usage on stdout, exit 0
  const h = await cli(['--help']);
  t.is(h.code, 0);
  t.regex(h.out[0]!, /^PawPost parent command line/);

  // as the user runs it: a real process, one line on stderr
  const p = spawnSync('npx', ['tsx', 'tools/parent-cli.ts', ...d, 'send', 'nothing.wav', '--broker', 'mqtt://127.0.0.1:1'], { encoding: 'utf8' });
  t.is(p.status, 1);
  t.is(p.stderr.trim().split('\n').length, 1, p.stderr);
  t.regex(p.stderr, /^parent: this phone is not paired/);
  fs.rmSync(work, { recursive: true, force: true });
});
