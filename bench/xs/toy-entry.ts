// XS entry for bench/toy.bench.ts: the whole toy (src/app.ts) on fakes inside XS.
// The codec is faked (its cost is the codec's own row); crypto, storage records,
// MQTT codec and session, pairing and the state machine are the real code.
//
// Two ways to run it (bench/toy.bench.ts starts one worker for each):
// - plain: totals, live heap growth and flash wear (the data storage is wrapped
//   in tests/fakes/flash-wear-storage.ts);
// - metered (`instrument` before `boot`): every call across the toy's ports is
//   wrapped by bench/xs/step-meter.ts so the steps of the test clock and fake
//   broker (harness), the mic/speaker/log/random fakes, the storage fake, the
//   fake codec and the crypto port are counted apart from the toy's own JS.
import { onXsCommand } from '../../tests/xs/commands.js';
import { AppRig, Phone } from '../../tests/app-rig.js';
import { FlashWearStorage } from '../../tests/fakes/flash-wear-storage.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import type { ClockPort } from '../../hal/ports.js';
import { StepMeter } from './step-meter.js';
import { FakeBroker, type FakeSocket } from '../../tests/mqtt-fakes.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';
import { encode } from '../../src/mqtt-codec.js';

let rig: AppRig | undefined;
let phone: Phone | undefined;
let paired: 'pending' | 'ok' | string = 'pending';
let wear: FlashWearStorage | undefined;
let meter: StepMeter | undefined;
/** Chunks the player opened (EnvelopeOpener.push on the playback opener), and how many before the first frame reached the speaker. */
let opens = 0;
let opensAtFirstFrame = -1;

declare const gc: (() => void) | undefined;
const collect = () => {
  if (typeof gc === 'function') gc();
};

type AnyObj = Record<string, unknown>;

/** The test rig without the toy (fixture identity, fakes, broker); its data storage counts flash wear. */
onXsCommand('prepare', () => {
  rig = new AppRig({ boot: false });
  wear = new FlashWearStorage(rig.data);
  (rig as unknown as AnyObj).data = wear;
  collect();
  return null;
});

/** Metered run only, before boot: the clock, the broker and its sockets, and the crypto port count apart. */
onXsCommand('instrument', () => {
  const m = (meter = new StepMeter('harness'));
  m.calibrate();
  const c = rig!.clock as unknown as AnyObj & ClockPort;
  const after = c.after.bind(c);
  const every = c.every.bind(c);
  // the toy's timers: their callbacks are the toy's
  c.after = (ms: number, cb: () => void) => after(ms, m.wrapFn(cb, 'toy'));
  c.every = (ms: number, cb: () => void) => every(ms, m.wrapFn(cb, 'toy'));
  // the broker's own timers (network latency): harness
  const bc = Object.create(c) as AnyObj;
  bc.after = (ms: number, cb: () => void) => after(ms, m.wrapFn(cb, 'harness'));
  bc.every = (ms: number, cb: () => void) => every(ms, m.wrapFn(cb, 'harness'));
  const broker = rig!.broker as unknown as AnyObj;
  broker.clock = bc;
  const socket = (broker.socket as () => AnyObj).bind(broker);
  broker.socket = () => {
    const s = socket();
    const onEvent = (s.onEvent as (h: (e: unknown) => void) => void).bind(s);
    s.onEvent = (h: (e: unknown) => void) => onEvent(m.wrapFn(h, 'toy'));
    for (const k of ['connect', 'write', 'close']) m.wrap(s, k, 'harness');
    return s;
  };
  // naclCrypto is a plain object (tweetnacl) or, in the native worker, a class instance whose methods live on its prototype.
  const cryptoMethods = new Set<string>();
  for (let o: object | null = naclCrypto; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor' && typeof (naclCrypto as unknown as Record<string, unknown>)[k] === 'function') cryptoMethods.add(k);
  }
  for (const k of cryptoMethods) m.wrap(naclCrypto, k, 'crypto');
  return { inCost: m.inCost, outCost: m.outCost };
});

function wrapFakes(): void {
  const m = meter;
  const r = rig!;
  if (m) {
    for (const k of ['start', 'stop', 'available', 'read']) m.wrap(r.mic, k, 'fakes');
    for (const k of ['start', 'stop', 'space', 'write', 'reserve', 'commit']) m.wrap(r.speaker, k, 'fakes');
    for (const k of ['encode', 'decode', 'reset']) m.wrap(r.codec, k, 'codec');
    m.wrap(r.log, 'log', 'fakes');
    for (const k of ['read', 'write', 'remove', 'keys']) {
      m.wrap(wear!, k, 'storage');
      m.wrap(r.nvs, k, 'storage');
    }
    for (const k of ['fill', 'bytes']) if (typeof (r.random as unknown as AnyObj)[k] === 'function') m.wrap(r.random, k, 'fakes');
    for (const b of [r.paw, r.heart]) {
      const o = b as unknown as AnyObj;
      if (typeof o.cb === 'function') o.cb = m.wrapFn(o.cb as (...a: unknown[]) => unknown, 'toy');
    }
  }
  // chunk opens before the first frame reaches the speaker
  const player = r.app.player as unknown as { o: { playbackOpener: AnyObj } } | undefined;
  if (player) {
    const op = player.o.playbackOpener;
    const push = (op.push as (b: Uint8Array) => unknown).bind(op);
    op.push = (b: Uint8Array) => {
      opens++;
      return push(b);
    };
  }
  const sp = r.speaker as unknown as AnyObj;
  const write = (sp.write as (f: Int16Array) => unknown).bind(sp);
  sp.write = (f: Int16Array) => {
    if (opensAtFirstFrame < 0) opensAtFirstFrame = opens;
    return write(f);
  };
}

/**
 * The storage operations of the last scenario (plain runs only), so that the storage
 * fake's own heap slots can be measured apart (`storage.replay`): kind (1 read, 2 write,
 * 3 remove), key and value, in arrays made once at full length (logging allocates
 * nothing). `storageSnapshot` is the fake's content when the scenario began.
 */
const OPS_MAX = 4096;
const opKind = new Uint8Array(OPS_MAX);
const opKey: string[] = new Array<string>(OPS_MAX).fill('');
const opValue: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(OPS_MAX).fill(undefined);
let opCount = 0;
let opOverflow = false;
let storageSnapshot: Map<string, Uint8Array> | undefined;
function logStorageOps(st: FlashWearStorage): void {
  const read = st.read.bind(st);
  const write = st.write.bind(st);
  const remove = st.remove.bind(st);
  const log = (kind: number, key: string, value: Uint8Array | undefined): void => {
    if (opCount >= OPS_MAX) {
      opOverflow = true;
      return;
    }
    opKind[opCount] = kind;
    opKey[opCount] = key;
    opValue[opCount] = value;
    opCount++;
  };
  st.read = (key: string) => {
    log(1, key, undefined);
    return read(key);
  };
  st.write = (key: string, value: Uint8Array) => {
    log(2, key, value);
    write(key, value);
  };
  st.remove = (key: string) => {
    log(3, key, undefined);
    remove(key);
  };
}

/** The toy's start-up, as at power-on. */
onXsCommand('boot', () => {
  rig!.boot();
  wrapFakes();
  if (!meter) logStorageOps(wear!);
  collect();
  return { state: rig!.app.toy.state, audioRamBytes: rig!.app.audioRamBytes };
});

onXsCommand('pair', () => {
  const r = rig!;
  r.paw.press();
  r.clock.advance(3000);
  r.paw.release();
  phone = new Phone(r, 1);
  phone.pair('Mum').then(
    () => {
      paired = 'ok';
      r.clock.advance(2000);
    },
    (e: unknown) => {
      paired = e instanceof Error ? e.message : 'failed';
    },
  );
  return null;
});

onXsCommand('paired', () => ({ paired, online: rig!.app.session()?.state ?? 'none', family: rig!.app.roster?.size ?? 0 }));

/** Forces a collection (before a run whose live-slot growth is read). */
onXsCommand('collect', () => {
  collect();
  return null;
});

/** Starts counting flash wear and metered steps. */
onXsCommand('begin', () => {
  wear!.resetCounts();
  opCount = 0;
  opOverflow = false;
  if (!meter) storageSnapshot = new Map((wear!.inner as MemoryStorage).data);
  return null;
});

/** What the run since `begin` cost: flash wear, and steps per part when metered. */
onXsCommand('end', () => {
  const parts: Record<string, number> = {};
  if (meter) for (const [k, v] of meter.corrected()) parts[k] = v;
  const w = wear!;
  const byPrefix: Record<string, number> = {};
  for (const [k, v] of w.writesByPrefix) byPrefix[k] = v;
  const erasesByPrefix: Record<string, number> = {};
  for (const [k, v] of w.dataErasesByPrefix) erasesByPrefix[k] = v;
  const metadataByPrefix: Record<string, number> = {};
  for (const k of w.metadataCommitsByPrefix.keys()) metadataByPrefix[k] = w.metadataErasesOf(k);
  return {
    parts,
    flash: { writes: w.writes, removes: w.removes, reads: w.reads, bytes: w.bytesWritten, erases: w.erases, dataErases: w.dataErases, metadataErases: w.metadataErases, byPrefix, erasesByPrefix, metadataByPrefix },
    opensAtFirstFrame,
  };
});

/** Registers a measured command: the meter counts exactly its run (xsnap restarts its meter per command). */
function measured(name: string, fn: (arg: unknown) => unknown): void {
  onXsCommand(name, (arg) => {
    meter?.begin();
    const r = fn(arg);
    meter?.end();
    return r;
  });
}

/** Holds the paw for `seconds` and lets the message leave (2.5 s more); returns chunks published. */
measured('record', (seconds) => {
  const r = rig!;
  const before = r.published().length;
  r.paw.press();
  r.clock.advance((seconds as number) * 1000);
  r.paw.release();
  r.clock.advance(2500);
  return r.published().length - before;
});

let pending: Uint8Array[] = [];
/** The phone seals a message (not measured in the toy's rows). */
onXsCommand('seal', (seconds) => {
  pending = phone!.sealMessage((seconds as number) * 50, 100);
  return pending.length;
});

/** The broker delivers the sealed message; the toy admits it. */
measured('deliver', () => {
  const r = rig!;
  r.deliver(pending);
  r.clock.advance(200);
  return r.app.player!.waiting();
});

/** The child presses the heart; the message plays to its end. */
measured('play', (seconds) => {
  const r = rig!;
  const before = r.played.length;
  opens = 0;
  opensAtFirstFrame = -1;
  r.heart.press();
  r.heart.release();
  r.clock.advance((seconds as number) * 1000 + 1000);
  return { frames: r.played.length - before, waiting: r.app.player!.waiting(), state: r.app.toy.state };
});

/** Idle time: a second with nothing to do (keepalive, LED off). */
onXsCommand('idle', (seconds) => {
  rig!.clock.advance((seconds as number) * 1000);
  collect();
  return null;
});

// ---- the toy's own heap growth (bench/toy.bench.ts "lean" run): the harness allocates nothing

/** The broker goes lean (tests/mqtt-fakes.ts): no copies, no parsing into objects, PUBACKs from one preallocated buffer. */
onXsCommand('lean', () => {
  rig!.broker.startLean();
  return null;
});

let probe: WeakRef<object> | undefined;
/** A garbage object watched by a WeakRef: if it is gone after a run, a collection ran during it (growth would read low). */
onXsCommand('watch', () => {
  probe = new WeakRef({ garbage: true });
  return null;
});
onXsCommand('collected', () => probe !== undefined && probe.deref() === undefined);

/** Holds the paw for `seconds` with the broker lean, then 2.5 s; returns the PUBLISHes the broker saw. */
onXsCommand('recordLean', (seconds) => {
  const r = rig!;
  const before = r.broker.leanPublishes;
  r.paw.press();
  r.clock.advance((seconds as number) * 1000);
  r.paw.release();
  r.clock.advance(2500);
  return r.broker.leanPublishes - before;
});

/** The same time with nothing recorded (the baseline: keepalive, LED, the lean broker's timer). */
onXsCommand('idleLean', (seconds) => {
  rig!.clock.advance((seconds as number) * 1000 + 2500);
  return null;
});

onXsCommand('noop', () => 0);

/** The clock alone for `seconds` (the toy idle, the harness's timers): the baseline of the heap rows. */
measured('advance', (seconds) => {
  rig!.clock.advance((seconds as number) * 1000);
  return null;
});

/**
 * The harness alone doing the receive scenario's traffic, to tell the toy's heap
 * slots from the harness's (bench/toy.bench.ts): a second FakeBroker on the same
 * clock delivers the same chunks to a stand-in client that only answers each PUBLISH
 * with a PUBACK (bytes made beforehand and patched in place: it allocates nothing
 * itself). Setup first (`harness.setup`), then the measured `harness.deliver`. The
 * storage fake's part is measured apart by `storage.replay`.
 */
let standIn: { broker: FakeBroker; socket: FakeSocket; acks: number } | undefined;
onXsCommand('harness.setup', () => {
  const r = rig!;
  const broker = new FakeBroker(r.clock);
  const socket = broker.socket();
  const puback = Uint8Array.of(0x40, 2, 0, 0);
  const st = { broker, socket, acks: 0 };
  socket.onEvent((e) => {
    if (e.kind !== 'data') return;
    const d = e.data;
    if ((d[0]! & 0xf0) !== 0x30) return;
    let o = 1;
    while (d[o]! & 0x80) o++;
    o++;
    o += 2 + ((d[o]! << 8) | d[o + 1]!); // topic
    puback[2] = d[o]!;
    puback[3] = d[o + 1]!;
    socket.write(puback);
    st.acks++;
  });
  socket.connect('stand-in', 1883);
  r.clock.advance(5);
  socket.write(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'stand-in', keepalive: 0 } as never));
  r.clock.advance(5);
  socket.write(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: r.topics.in, qos: 1 }] } as never));
  r.clock.advance(5);
  standIn = st;
  return { subscribed: socket.subscribed };
});
onXsCommand('harness.deliver', () => {
  const st = standIn!;
  const r = rig!;
  for (const c of pending) st.broker.deliver('stand-in', r.topics.in, c);
  r.clock.advance(200);
  return { acks: st.acks };
});

let replayStore: FlashWearStorage | undefined;
/** Before `storage.replay`: a fresh storage fake holding what the toy's held when the last scenario began (not measured). */
onXsCommand('storage.setup', () => {
  const m = new MemoryStorage();
  for (const [k, v] of storageSnapshot!) m.data.set(k, v.slice());
  replayStore = new FlashWearStorage(m);
  return { ops: opCount, overflow: opOverflow };
});
/**
 * The storage fake alone: the last scenario's storage operations again, on the fresh
 * fake (measured: its copies, Map entries and wear counting are the fake's slots, not
 * the toy's; on the device the values go to flash). A failing operation (a read of a
 * key removed in between) is answered as the fake would.
 */
onXsCommand('storage.replay', () => {
  const st = replayStore!;
  let failed = 0;
  let reads = 0;
  let writes = 0;
  let removes = 0;
  for (let i = 0; i < opCount; i++) {
    if (opKind[i] === 1) reads++;
    else if (opKind[i] === 2) writes++;
    else removes++;
  }
  for (let i = 0; i < opCount; i++) {
    try {
      const k = opKind[i];
      if (k === 1) st.read(opKey[i]!);
      else if (k === 2) st.write(opKey[i]!, opValue[i]!);
      else st.remove(opKey[i]!);
    } catch {
      failed++;
    }
  }
  return { ops: opCount, failed, reads, writes, removes };
});

/** Probe aid (bench/probe-alloc.ts): the child presses the heart; nothing else runs. */
onXsCommand('heart', () => {
  rig!.heart.press();
  rig!.heart.release();
  return null;
});

/** Probe aid: the clock alone for `ms` milliseconds, no collection. */
onXsCommand('advanceMs', (ms) => {
  rig!.clock.advance(ms as number);
  return null;
});

/** Probe aid: one 'heard' receipt to the first member, as at the end of playback. */
onXsCommand('probe.receipt', () => {
  const app = rig!.app as unknown as { family: { receipt(s: Uint8Array, k: string, st: string): void }; roster: { list(): { publicKey: Uint8Array }[] } };
  app.family.receipt(app.roster.list()[0]!.publicKey, '00112233445566778899aabbccddeeff', 'heard');
  return null;
});
