/**
 * The whole toy in XS (bench/xs/toy-entry.ts): src/app.ts on fakes, with the
 * real pairing, envelope, storage records, MQTT codec and session. The codec is
 * faked so the rows are the JS work of the paths; Opus has its own rows.
 * XS compute steps are deterministic (xsnap's meter); heap is xsnap's live slot count.
 *
 * Per second of audio means per second of the message (a 10 s paw hold, a 10 s
 * message of 500 packets), at the app's chunking (25 packets a chunk). Two
 * workers run the same script: a plain one (totals, live-slot growth, flash wear
 * from tests/fakes/flash-wear-storage.ts) and a metered one whose port calls are
 * wrapped (bench/xs/step-meter.ts) so the toy's own JS is shown apart from the
 * test clock and fake broker (harness), the fakes, the fake codec and the crypto port.
 * The "native crypto" rows run the same metered script in the native worker
 * (tools/xs-native/) with the device's CryptoPort (hal/moddable-crypto.ts over
 * libsodium, the C of hal/native); one row saying why when that worker is skipped.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { XsSession, type XsCallResult } from '../tools/xs-worker.js';
import { ensureNativeWorker } from '../tools/xs-native/xs-native-build.js';
import type { BenchRow, BenchSection } from './table.js';

const ENTRY = fileURLToPath(new URL('./xs/toy-entry.ts', import.meta.url));
const SECONDS = 10;

interface EndResult {
  parts: Record<string, number>;
  flash: { writes: number; removes: number; reads: number; bytes: number; erases: number; dataErases: number; metadataErases: number; byPrefix: Record<string, number>; erasesByPrefix: Record<string, number>; metadataByPrefix: Record<string, number> };
  opensAtFirstFrame: number;
}

interface Scenario {
  total: number;
  slots: number;
  end: EndResult;
  result: unknown;
}

async function scenario(s: XsSession, cmd: string, arg?: unknown): Promise<Scenario> {
  await s.call('collect');
  const h0 = (await s.call('noop')).heapCount ?? 0;
  await s.call('begin');
  const r: XsCallResult = await s.call(cmd, arg);
  const slots = (r.heapCount ?? 0) - h0;
  const end = (await s.call<EndResult>('end')).result;
  return { total: r.compute, slots, end, result: r.result };
}

/** Heap slots one command allocates (a collection first; no GC runs inside a command's run). */
async function slotsOf(s: XsSession, cmd: string): Promise<{ slots: number; result: unknown }> {
  await s.call('collect');
  const h0 = (await s.call('noop')).heapCount ?? 0;
  const r = await s.call(cmd);
  return { slots: (r.heapCount ?? 0) - h0, result: r.result };
}

/** The storage fake alone doing the last scenario's storage operations again (bench/xs/toy-entry.ts storage.replay). */
interface StorageAlone { slots: number; ops: number; failed: number; reads: number; writes: number; removes: number }
async function storageAlone(s: XsSession): Promise<StorageAlone> {
  const setup = (await s.call<{ ops: number; overflow: boolean }>('storage.setup')).result;
  if (setup.overflow) throw new Error('storage op log overflowed: raise OPS_MAX in bench/xs/toy-entry.ts');
  const r = await slotsOf(s, 'storage.replay');
  return { slots: r.slots, ...(r.result as Omit<StorageAlone, 'slots'>) };
}

async function pairToy(s: XsSession, metered: boolean) {
  await s.call('prepare');
  if (metered) await s.call('instrument');
  const boot = await s.call<{ state: string; audioRamBytes: number }>('boot');
  const pair = await s.call('pair');
  const st = await s.call<{ paired: string; online: string; family: number }>('paired');
  if (st.result.paired !== 'ok') throw new Error(`pairing in XS did not finish: ${st.result.paired}`);
  return { boot, pair, st };
}

async function runAll(metered: boolean, nativeBin?: string) {
  const s = nativeBin ? await XsSession.start(ENTRY, { nativeBin, name: 'toy-entry-native' }) : await XsSession.start(ENTRY);
  try {
    const prep = metered ? undefined : await s.call('noop');
    const p = await pairToy(s, metered);
    await s.call('record', 2); // warm-up message
    const rec = await scenario(s, 'record', SECONDS);
    await s.call('seal', SECONDS);
    const del = await scenario(s, 'deliver');
    // the harness alone (plain runs only; wrappers would allocate): the storage fake doing the
    // same operations, the same broker traffic, and the clock over the play span
    let delHarness: Scenario | undefined;
    let delStorage: Awaited<ReturnType<typeof storageAlone>> | undefined;
    if (!metered) {
      delStorage = await storageAlone(s);
      await s.call('harness.setup');
      delHarness = await scenario(s, 'harness.deliver');
    }
    const play = await scenario(s, 'play', SECONDS);
    const playStorage = metered ? undefined : await storageAlone(s);
    const playHarness = metered ? undefined : await scenario(s, 'advance', SECONDS + 1);
    const idle = await s.call('idle', 60);
    return { prep, ...p, rec, del, play, idle, delHarness, playHarness, delStorage, playStorage };
  } finally {
    await s.close();
  }
}

/**
 * The toy's own heap growth while recording: the same app, with the broker lean (it
 * allocates nothing: tests/mqtt-fakes.ts) and the manual clock allocation-free per
 * fire. Growth is measured after a forced GC; a WeakRef shows whether a collection
 * ran during the run (then the figure would read low and is flagged). Two messages,
 * of 10 s and 20 s: their difference is the growth per second of audio, the rest the
 * cost per message (begin: send counter, keys, wraps; the state machine; logs). What
 * remains of the harness is measured as the idle baseline (the same time, no recording).
 * Run in the native worker (the device's CryptoPort over libsodium: what the toy
 * allocates on the device) and in the plain one (tweetnacl allocates inside itself).
 */
async function leanRecord(nativeBin?: string) {
  const s = nativeBin ? await XsSession.start(ENTRY, { nativeBin, name: 'toy-entry-lean-native' }) : await XsSession.start(ENTRY, { name: 'toy-entry-lean' });
  try {
    await pairToy(s, false);
    await s.call('record', 2); // warm-up message (the broker still answers in full)
    await s.call('lean');
    await s.call('recordLean', 2); // warm-up in lean mode
    const grow = async (cmd: string, seconds: number) => {
      await s.call('collect');
      await s.call('watch');
      const h0 = (await s.call('noop')).heapCount ?? 0;
      const r = await s.call(cmd, seconds);
      const gcRan = (await s.call<boolean>('collected')).result;
      return { slots: (r.heapCount ?? 0) - h0, gcRan, result: r.result };
    };
    const idle = await grow('idleLean', SECONDS);
    const rec = await grow('recordLean', SECONDS);
    const rec2 = await grow('recordLean', 2 * SECONDS);
    return { idle, rec, rec2 };
  } finally {
    await s.close();
  }
}

async function leanRows(): Promise<BenchRow[]> {
  const w = await ensureNativeWorker();
  const runs: [string, Awaited<ReturnType<typeof leanRecord>>][] = [];
  if (!('skipped' in w)) runs.push(['native crypto (as on the device)', await leanRecord(w.bin)]);
  runs.push(['pure-JS crypto (tweetnacl allocates inside)', await leanRecord()]);
  const rows: BenchRow[] = [];
  for (const [label, r] of runs) {
    const flag = [r.idle, r.rec, r.rec2].some((x) => x.gcRan) ? '; A COLLECTION RAN DURING A RUN: these read low' : '';
    const perSecond = (r.rec2.slots - r.rec.slots) / SECONDS;
    const perMessage = r.rec.slots - perSecond * SECONDS;
    rows.push({ what: `record, the toy's own heap slots per second of audio, ${label}`, value: perSecond, unit: 'slots / s of audio', note: `(20 s message ${r.rec2.slots} - 10 s message ${r.rec.slots}) / 10 s; lean broker, allocation-free harness; target < 100${flag}` });
    rows.push({ what: `record, the toy's own heap slots per message, ${label}`, value: perMessage, unit: 'slots / message', note: `the 10 s message's ${r.rec.slots} slots less 10 s at the rate above: ${(r.rec.slots / SECONDS).toFixed(0)} slots / s for a 10 s message, ${((perMessage + 60 * perSecond) / 60).toFixed(0)} for a 60 s one` });
    rows.push({ what: `record, idle baseline (the same 12.5 s, no recording), ${label}`, value: r.idle.slots, unit: 'slots', note: `keepalive, LED, the lean broker's timer (not subtracted)` });
  }
  return rows;
}

const PARTS: [string, string][] = [
  ['toy', "the toy's own JS (src/, audio/)"],
  ['crypto', 'crypto port, pure JS (tweetnacl)'],
  ['storage', 'storage fake (MemoryStorage behind the wear counter)'],
  ['codec', 'fake codec'],
  ['fakes', 'mic, speaker, log, random fakes'],
  ['harness', 'test clock, fake broker and its sockets, the driver'],
];

export const section: BenchSection = {
  title: 'The whole toy in XS (src/app.ts on fakes, codec faked; per second of audio, 25 packets a chunk)',
  async run(): Promise<BenchRow[]> {
    const plain = await runAll(false);
    const met = await runAll(true);
    const rows: BenchRow[] = [];
    const bootSlots = (plain.boot.heapCount ?? 0) - (plain.prep?.heapCount ?? 0);
    rows.push({ what: 'boot: identity, roster, envelope, outbox/inbox, pipelines, pairing, state machine', value: plain.boot.compute, unit: 'XS steps', note: `state ${plain.boot.result.state}` });
    rows.push({ what: 'audio buffers of both pipelines, as wired in src/app.ts', value: plain.boot.result.audioRamBytes, unit: 'bytes', note: 'preallocated at boot; the same for a 1 s or a 60 s message' });
    // The adapters' own buffers on the device: the mic ring (hal/moddable-mic.ts default) and the speaker pool (manifest config speakerSlots).
    const micFrames = Number(/options\.frames \?\? (\d+)/.exec(fs.readFileSync(fileURLToPath(new URL('../hal/moddable-mic.ts', import.meta.url)), 'utf8'))?.[1] ?? NaN);
    const manifest = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../manifest.json', import.meta.url)), 'utf8')) as { config?: { board?: { speakerSlots?: number } }; platforms?: Record<string, { config?: { board?: { speakerSlots?: number } } }> };
    const speakerSlots = manifest.platforms?.esp32?.config?.board?.speakerSlots ?? manifest.config?.board?.speakerSlots ?? 8;
    const adapters = (micFrames + speakerSlots) * 640;
    rows.push({ what: 'audio buffers of both pipelines plus the mic and speaker adapters (device)', value: plain.boot.result.audioRamBytes + adapters, unit: 'bytes', note: `mic ring ${micFrames} x 640 + speaker pool ${speakerSlots} x 640 = ${adapters} B; target 16,384` });
    rows.push({ what: 'live heap slots the booted toy adds (after GC)', value: bootSlots, unit: 'slots', note: `xsnap counts; the ESP32's XS creation has 13,312 slots` });
    rows.push({ what: 'first pairing, toy + simulated phone in one engine, then MQTT connect', value: plain.pair.compute, unit: 'XS steps', note: `family ${plain.st.result.family}, session ${plain.st.result.online}; phone-side X25519 included` });

    const paths: [string, string, Scenario, Scenario][] = [
      ['record', 'record + seal + outbox + publish (10 s paw hold, then 2.5 s)', plain.rec, met.rec],
      ['receive', 'receive + admit (10 s message delivered, then 0.2 s)', plain.del, met.del],
      ['play', 'play (open, decode path, speaker; 10 s message, then 1 s)', plain.play, met.play],
    ];
    for (const [key, what, p, m] of paths) {
      const per = (x: number) => x / SECONDS;
      rows.push({ what: `${key}: all JS in the worker (toy + fakes + harness)`, value: per(p.total), unit: 'XS steps / s of audio', note: what });
      for (const [part, label] of PARTS) {
        const v = m.end.parts[part] ?? 0;
        rows.push({ what: `${key}:   ${label}`, value: per(v), unit: 'XS steps / s of audio', note: part === 'toy' ? 'metered run; bookkeeping of the wrappers taken out' : '' });
      }
      rows.push({ what: `${key}: live heap slots grown (toy + fakes + harness)`, value: per(p.slots), unit: 'slots / s of audio', note: 'after a GC, no GC forced in the run; includes the broker\'s and the storage fake\'s retained copies' });
      const f = p.end.flash;
      rows.push({ what: `${key}: flash writes (storage fake)`, value: f.writes * (60 / SECONDS), unit: 'writes / min of audio', note: `${f.writes} writes (${Object.entries(f.byPrefix).map(([k, v]) => `${k} ${v}`).join(', ')}), ${f.removes} removes, ${f.reads} reads, ${f.bytes} B in ${SECONDS} s` });
      rows.push({ what: `${key}: flash erases, 4 KB sectors (estimate)`, value: f.erases * (60 / SECONDS), unit: 'erases / min of audio', note: `${f.dataErases} data + ${f.metadataErases} metadata in ${SECONDS} s (tests/fakes/flash-wear-storage.ts model)` });
    }
    {
      const r = plain.del.end.flash;
      const p = plain.play.end.flash;
      const all = r.erases + p.erases;
      const chunkData = (r.erasesByPrefix.ib ?? 0) + (p.erasesByPrefix.ib ?? 0);
      // metadata erases shared out by the keys whose writes and removes made them (tests/fakes/flash-wear-storage.ts)
      const chunkMeta = (r.metadataByPrefix.ib ?? 0) + (p.metadataByPrefix.ib ?? 0);
      const others = (f: EndResult['flash']) => Object.entries(f.byPrefix).filter(([k]) => k !== 'ib').map(([k, v]) => `${k} ${v}`).join(', ');
      const perMin = 60 / SECONDS;
      rows.push({ what: 'received + played: flash erases, all', value: all * perMin, unit: 'erases / min of audio', note: `${all} in ${SECONDS} s (model estimate)` });
      rows.push({ what: 'received + played: the chunk records (their data sectors + their share of metadata)', value: (chunkData + chunkMeta) * perMin, unit: 'erases / min of audio', note: `${chunkData} data sectors + ${chunkMeta.toFixed(2)} metadata in ${SECONDS} s: each chunk stored before its PUBACK (lead's decision)` });
      rows.push({ what: 'received + played: flash erases beyond the chunk records (per-message records + their metadata; target <= 10)', value: (all - chunkData - chunkMeta) * perMin, unit: 'erases / min of audio', note: `writes beyond the chunks: receive ${others(r) || 'none'}; play ${others(p) || 'none'} (10 s messages; per message, so 1/6 of this for 60 s ones)` });
    }
    {
      // heap: the plain run with the device's crypto (native worker), the harness alone measured apart (see nativeRows)
      rows.push(...heapRows(plain, 'pure-JS crypto (tweetnacl)'));
    }
    rows.push(...(await leanRows()));
    rows.push(...(await nativeRows(plain)));
    rows.push({ what: 'chunks opened before the first frame reached the speaker', value: plain.play.end.opensAtFirstFrame, unit: 'chunk opens', note: 'heart press to first speaker write' });
    rows.push({ what: 'idle, per second (timers, MQTT keepalive)', value: plain.idle.compute / 60, unit: 'XS steps / s', note: `${(plain.idle.heapCount ?? 0) - (plain.boot.heapCount ?? 0)} live slots over the booted toy after everything above` });
    rows.push({ what: 'wrapper bookkeeping per metered call (taken out above)', value: 0, unit: 'XS steps', note: 'see bench/xs/step-meter.ts calibrate()' });
    return rows.filter((r) => r.what !== 'wrapper bookkeeping per metered call (taken out above)');
  },
};

type Run = Awaited<ReturnType<typeof runAll>>;

/**
 * Heap slots per second of audio while receiving and playing, the toy apart from the
 * harness: the whole worker's live-slot growth (no GC in the run, so what was
 * allocated) minus the same for the harness alone — for receiving, a second fake
 * broker delivering the same chunks to a stand-in client that only acknowledges, and
 * for playing, the clock over the same span with the toy idle — and, for both, the
 * storage fake doing the scenario's storage operations again on a copy of its content
 * (its copies, Map entries and wear counting: on the device the values go to flash,
 * and the device's FileStore has its own per-operation cost, not measured here: xsnap
 * has no `file` module).
 */
function heapRows(run: Run, crypto: string): BenchRow[] {
  if (!run.delHarness || !run.playHarness || !run.delStorage || !run.playStorage) return [];
  const per = (x: number) => x / SECONDS;
  const rows: BenchRow[] = [];
  const pair: [string, Scenario, Scenario, StorageAlone][] = [
    ['receiving', run.del, run.delHarness, run.delStorage],
    ['playing', run.play, run.playHarness, run.playStorage],
  ];
  for (const [what, all, harness, storage] of pair) {
    const toy = all.slots - harness.slots - storage.slots;
    rows.push({
      what: `heap slots allocated while ${what}, the toy alone (${crypto}; target < 100)`,
      value: per(toy),
      unit: 'slots / s of audio',
      note: `whole worker ${Math.round(per(all.slots))} - harness alone ${Math.round(per(harness.slots))} - storage fake alone ${Math.round(per(storage.slots))} (${storage.reads} reads, ${storage.writes} writes, ${storage.removes} removes replayed; on the device add FileStore's slots per operation: npm run bench -- device)`,
    });
  }
  return rows;
}

/** The metered toy again in the native worker: the same paths with libsodium behind the CryptoPort. */
async function nativeRows(js: Run): Promise<BenchRow[]> {
  const w = await ensureNativeWorker();
  if ('skipped' in w) return [{ what: 'native crypto rows', value: 0, unit: 'skipped', note: w.skipped }];
  const n = await runAll(true, w.bin);
  const rows: BenchRow[] = [];
  rows.push(...heapRows(await runAll(false, w.bin), 'native crypto, as on the device'));
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x fewer steps than pure JS (${Math.round(a).toLocaleString('en')})`;
  rows.push({ what: 'native crypto: first pairing, toy + simulated phone, then MQTT connect', value: n.pair.compute, unit: 'XS steps', note: ratio(js.pair.compute, n.pair.compute) });
  const paths: [string, Scenario, Scenario, number | undefined][] = [
    ['record', js.rec, n.rec, 100_000],
    ['receive', js.del, n.del, undefined],
    ['play', js.play, n.play, undefined],
  ];
  for (const [key, p, m, target] of paths) {
    const all = m.total / SECONDS;
    rows.push({ what: `native crypto: ${key}: all JS in the worker (toy + fakes + harness)`, value: all, unit: 'XS steps / s of audio', note: ratio(p.total / SECONDS, all) });
    const toy = (m.end.parts.toy ?? 0) / SECONDS;
    const crypto = (m.end.parts.crypto ?? 0) / SECONDS;
    rows.push({ what: `native crypto: ${key}: the toy's own JS + the crypto port`, value: toy + crypto, unit: 'XS steps / s of audio', note: `toy ${Math.round(toy).toLocaleString('en')} + crypto port ${Math.round(crypto).toLocaleString('en')}${target ? `; target <= ${target.toLocaleString('en')}: ${toy + crypto <= target ? 'met' : 'NOT met'}` : ''}` });
  }
  return rows;
}
