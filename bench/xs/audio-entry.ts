/**
 * XS entry for the audio bench and the host-side steps test: registers commands
 * that build and run the audio workloads of tests/audio-steady.ts inside XS.
 * The host reads the compute steps of each call (tools/xs-worker.ts).
 */
import { FrameRing } from '../../audio/frame-ring.js';
import { MAX_PACKET_BYTES } from '../../audio/codec-port.js';
import { PacketRing } from '../../audio/packet-ring.js';
import { FRAME_SAMPLES } from '../../hal/ports.js';
import { onXsCommand } from '../../tests/xs/commands.js';
import { StepMeter } from './step-meter.js';
import { FakesOnly, PlaybackOnly, RecordOnly, ringWork, SteadyLoop } from '../../tests/audio-steady.js';

let loop: SteadyLoop | undefined;
let rec: RecordOnly | undefined;
let play: PlaybackOnly | undefined;
let fakes: FakesOnly | undefined;
const frameRing = new FrameRing(8);
const packetRing = new PacketRing(4096);
const src = new Int16Array(FRAME_SAMPLES);
const dst = new Int16Array(FRAME_SAMPLES);
const queue: Int16Array[] = [];
const pqueue: Uint8Array[] = [];
const psrc = new Uint8Array(MAX_PACKET_BYTES);

const n = (arg: unknown) => Number(arg);

onXsCommand('loop.setup', () => {
  loop = new SteadyLoop();
  return loop.ramBytes();
});
onXsCommand('loop.run', (arg) => {
  loop!.run(n(arg));
  return null;
});
onXsCommand('loop.report', () => loop!.report());

onXsCommand('rec.setup', () => {
  rec = new RecordOnly();
  return null;
});
onXsCommand('rec.run', (arg) => {
  rec!.run(n(arg));
  return rec!.rec.framesEncoded;
});
onXsCommand('play.setup', () => {
  play = new PlaybackOnly();
  return null;
});
onXsCommand('play.run', (arg) => {
  play!.run(n(arg));
  return play!.play.framesPlayed;
});
onXsCommand('fakes.setup', () => {
  fakes = new FakesOnly();
  return null;
});
onXsCommand('fakes.run', (arg) => {
  fakes!.run(n(arg));
  return null;
});

onXsCommand('ring.lend', (arg) => ringWork.frameLend(frameRing, n(arg)));
onXsCommand('ring.copy', (arg) => ringWork.frameCopy(frameRing, src, dst, n(arg)));
onXsCommand('ring.naive', (arg) => ringWork.frameNaive(queue, src, n(arg)));
onXsCommand('pring.ring', (arg) => ringWork.packetRing(packetRing, n(arg)));
onXsCommand('pring.naive', (arg) => ringWork.packetNaive(pqueue, psrc, n(arg)));

/**
 * Metered runs: the pipeline's own calls (record: tick, with the plaintext sink it
 * calls; playback: tick, pushPacket) count as 'core', the mic, codec and speaker fakes
 * as 'fakes', the step clock and the driver loop as 'harness' (bench/xs/step-meter.ts).
 * Answers the steps of each part.
 */
let meter: StepMeter | undefined;
type AnyObj = Record<string, unknown>;
onXsCommand('meter.install', (arg) => {
  const m = (meter = new StepMeter('harness'));
  m.calibrate();
  if (arg === 'rec') {
    // a fresh record path whose 20 ms timer callback (the pipeline's tick) counts as core
    const r = (rec = new RecordOnly(false));
    const every = r.clock.every.bind(r.clock);
    r.clock.every = (ms: number, cb: () => void) => every(ms, m.wrapFn(cb, 'core'));
    r.rec.start();
    r.run(100);
    const p = r.rec as unknown as AnyObj;
    for (const k of ['available', 'peek', 'next', 'release']) m.wrap(p.mic as object, k, 'fakes');
    m.wrap(p.codec as object, 'encode', 'fakes');
  } else {
    const p = play!.play as unknown as AnyObj;
    m.wrap(play! as unknown as AnyObj, 'feed', 'core'); // the producer's step: segmentRoom + pushSegment
    m.wrap(p, 'tick', 'core');
    for (const k of ['space', 'reserve', 'commit']) m.wrap(p.speaker as object, k, 'fakes');
    m.wrap(p.codec as object, 'decode', 'fakes');
  }
  return { inCost: m.inCost, outCost: m.outCost };
});
onXsCommand('meter.run', (arg) => {
  const { path, frames } = arg as { path: 'rec' | 'play'; frames: number };
  meter!.begin();
  if (path === 'rec') rec!.run(frames);
  else play!.run(frames);
  meter!.end();
  const parts: Record<string, number> = {};
  for (const [k, v] of meter!.corrected()) parts[k] = v;
  return parts;
});

onXsCommand('noop', () => 0);
