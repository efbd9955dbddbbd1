/**
 * MQTT link benchmarks: end-to-end messages per second through a real Mosquitto
 * (shipped configuration), XS compute steps of the toy's publish and receive paths,
 * and the measured reasons the firmware carries its own codec instead of mqtt-packet
 * (bundle size, slots, steps in XS). Every figure is measured in this run.
 */
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XsSession, bundleForXs } from '../tools/xs-worker.js';
import { toyTopics } from '../sim/embedded-broker.js';
import { Device, Mosquitto, hasMosquitto, makeAccounts, waitFor } from '../tests/mqtt-node-helpers.js';
import type { BenchRow, BenchSection } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const TOY_SLOTS = 4928;

async function endToEnd(): Promise<BenchRow[]> {
  if (!hasMosquitto()) return [{ what: 'end to end through mosquitto', value: NaN, unit: 'msg/s', note: 'mosquitto not installed' }];
  const acc = makeAccounts();
  const broker = await Mosquitto.start(acc.registry);
  const A = toyTopics(acc.a.id);
  const toy = new Device({ user: acc.a.id, password: acc.a.pw, port: broker.port, subscriptions: [A.in] });
  const phone = new Device({ user: acc.phone.id, password: acc.phone.pw, port: broker.port, subscriptions: [A.out] });
  try {
    toy.session.start();
    phone.session.start();
    await waitFor(() => toy.session.state === 'online' && phone.session.state === 'online', 10000, 'online');
    const chunk = new Uint8Array(3000).map((_, i) => i & 255);
    const batches = 10;
    const perBatch = 60;
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < perBatch; i++) {
        chunk[0] = i;
        chunk[1] = b;
        toy.session.send(A.out, chunk);
      }
      const want = (b + 1) * perBatch;
      await waitFor(() => phone.received.length >= want, 30000, 'batch');
    }
    const secs = (performance.now() - t0) / 1000;
    const n = batches * perBatch;
    return [
      { what: 'toy → mosquitto → phone, 3000-byte chunks', value: n / secs, unit: 'msg/s', note: `${n} chunks, QoS 1 both legs, outbox+inbox on MemoryStorage, window 4, loopback` },
      { what: '  same, payload throughput', value: (n * 3000) / secs / 1e6, unit: 'MB/s', note: 'Node adapters (sim/node-socket.ts)' },
    ];
  } finally {
    toy.session.close();
    phone.session.close();
    await broker.dispose();
  }
}

async function xsSteps(): Promise<BenchRow[]> {
  const entry = path.join(here, 'xs/mqtt-entry.ts');
  const s = await XsSession.start(entry);
  try {
    const setup = await s.call<string>('setup');
    if (setup.result !== 'online') throw new Error(`XS session not online: ${setup.result}`);
    const avg = async (name: string, n: number) => {
      await s.call(name); // warm-up
      let steps = 0;
      for (let i = 0; i < n; i++) steps += (await s.call(name)).compute;
      return steps / n;
    };
    const pub = await avg('publish', 20);
    const rx = await avg('receive', 20);
    const enc = await avg('encode', 20);
    const parse = await avg('parse', 20);
    const c = (await s.call<Record<string, number>>('counters')).result;
    if (!(c['mqtt.acked']! >= 21 && c['inbox.confirmed']! >= 21)) throw new Error(`XS path did not complete: ${JSON.stringify(c)}`);
    const { bytes } = await bundleForXs(entry, { minify: true });
    return [
      { what: 'XS: publish one 3000-byte chunk (toy side)', value: pub, unit: 'steps/publish', note: 'outbox write, encode, socket write, PUBACK parse, outbox remove' },
      { what: 'XS: receive one 3000-byte chunk (toy side)', value: rx, unit: 'steps/message', note: 'parse, dedupe digest, inbox write, PUBACK, confirm (seen-ring write, remove)' },
      { what: 'XS: codec encode, 3000-byte PUBLISH', value: enc, unit: 'steps', note: 'src/mqtt-codec.ts into a lent buffer' },
      { what: 'XS: codec parse, 3000-byte PUBLISH', value: parse, unit: 'steps', note: 'streaming parser, one push' },
      { what: 'bundle: session+codec+outbox+inbox (+fakes), minified', value: bytes, unit: 'bytes', note: 'esbuild es2021' },
    ];
  } finally {
    await s.close();
  }
}

/** mqtt-packet in XS: as favourable as it gets (browser build, bl/BufferList instead of streams, shims). */
async function mqttPacketOnXs(): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-mp-'));
  try {
    const shim = path.join(dir, 'shim.js');
    fs.writeFileSync(shim, "export const process = { env: {}, nextTick: (f, ...a) => Promise.resolve().then(() => f(...a)), browser: true, version: '' };\nexport const console = { log() {}, warn() {}, error() {}, debug() {} };\n");
    const r = await build({
      entryPoints: [path.join(ROOT, 'node_modules/mqtt-packet/mqtt.js')], bundle: true, write: false, format: 'esm', platform: 'browser',
      target: 'es2021', minify: true, logLevel: 'silent', inject: [shim], alias: { bl: path.join(ROOT, 'node_modules/bl/BufferList.js') },
    });
    const mpBytes = r.outputFiles[0]!.text.length;
    fs.writeFileSync(path.join(dir, 'mp.js'), r.outputFiles[0]!.text);
    const cmds = path.join(ROOT, 'tests/xs/commands.ts');
    fs.writeFileSync(path.join(dir, 'base.ts'), `import { onXsCommand } from ${JSON.stringify(cmds)};\nonXsCommand('noop', () => 1);\n`);
    fs.writeFileSync(path.join(dir, 'mp-entry.ts'), `import { onXsCommand } from ${JSON.stringify(cmds)};
import * as m0 from './mp.js';
const m: any = (m0 as any).default ?? m0;
onXsCommand('noop', () => 1);
onXsCommand('generate', () => { try { return m.generate({ cmd: 'publish', topic: 'pp/t/x/out', payload: new Uint8Array(3000), qos: 1, messageId: 1, dup: false, retain: false }).length; } catch (e) { return 'error: ' + String(e); } });
onXsCommand('parse', () => { try { const p = m.parser({ protocolVersion: 4 }); let got = 0; let err = ''; p.on('packet', () => got++); p.on('error', (e: unknown) => { err = String(e); });
  p.parse(new Uint8Array([0xd0, 0])); return err || got; } catch (e) { return 'error: ' + String(e); } });
`);
    const base = await XsSession.start(path.join(dir, 'base.ts'));
    const baseSlots = (await base.call('noop')).heapCount ?? NaN;
    await base.close();
    const ours = await XsSession.start(path.join(here, 'xs/mqtt-entry.ts'));
    const oursSlots = (await ours.call('setup')).heapCount ?? NaN;
    await ours.close();
    const mp = await XsSession.start(path.join(dir, 'mp-entry.ts'));
    const loaded = (await mp.call('noop')).heapCount ?? NaN;
    const gen = await mp.call('generate');
    const parse = await mp.call('parse');
    await mp.close();
    return [
      { what: 'mqtt-packet for XS, minified (browser build, shims)', value: mpBytes, unit: 'bytes', note: 'needs Buffer polyfill, events, process/console shims' },
      { what: 'mqtt-packet: slots after load, over an empty bundle', value: loaded - baseSlots, unit: 'slots', note: `toy's whole creation: ${TOY_SLOTS} slots` },
      { what: 'mqtt-packet: first generate() (3000-byte PUBLISH)', value: gen.compute, unit: 'steps', note: `+${(gen.heapCount ?? 0) - loaded} slots (65,536-entry id cache); result ${JSON.stringify(gen.result)}` },
      { what: 'mqtt-packet: parse() of PINGRESP in XS', value: parse.compute, unit: 'steps', note: `result: ${String(parse.result).slice(0, 60)}` },
      { what: 'ours: slots after load and online, over an empty bundle', value: oursSlots - baseSlots, unit: 'slots', note: 'session+codec+outbox+inbox+fakes (xsnap heap counts)' },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const section: BenchSection = {
  title: 'MQTT link (issue 5)',
  async run() {
    return [...(await endToEnd()), ...(await xsSteps()), ...(await mqttPacketOnXs())];
  },
};
