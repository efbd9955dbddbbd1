/**
 * XS entry for bench/native-codec.bench.ts (native worker only, tools/xs-native/):
 * the toy's record path (mic → PCM ring → codec → packet ring → consumer) and
 * playback path (packets → codec → PCM ring → speaker) of audio/*-pipeline.ts,
 * with the codec either the FakeCodec ('fake': the JS core alone) or the device's
 * hal/moddable-codec.ts over libopus ('opus': hal/native/opus-codec.c). The mic
 * gives a 440 Hz tone; playback is fed real Opus packets of that tone (encoded
 * once at setup, not measured). Steps are the JavaScript; the C is not metered
 * (as on the device), so each frame's Opus work shows as native calls.
 */
import { FakeCodec } from '../../audio/fake-codec.js';
import { PlaybackPipeline } from '../../audio/playback-pipeline.js';
import { RecordPipeline } from '../../audio/record-pipeline.js';
import { PacketCallbackSink } from '../../tests/fakes/packet-callback-sink.js';
import { ModdableOpusCodec } from '../../hal/moddable-codec.js';
import { FRAME_SAMPLES, type CodecPort } from '../../hal/ports.js';
import { onXsCommand } from '../../tests/xs/commands.js';
import { FakeMic, type FrameSource } from '../../tests/fakes/fake-mic.js';
import { FakeSpeaker } from '../../tests/fakes/fake-speaker.js';
import { StepClock } from '../../tests/fakes/step-clock.js';

declare function __pawpostNativeCalls(): number;

/** One second of the tone, computed once; the mic copies a frame of it (one builtin call, so the source costs few steps). */
const TONE = new Int16Array(50 * FRAME_SAMPLES);
for (let i = 0; i < TONE.length; i++) TONE[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 16000));
const toneSource: FrameSource = (index, into) => {
  const at = (index % 50) * FRAME_SAMPLES;
  into.set(TONE.subarray(at, at + FRAME_SAMPLES));
  return true;
};

let rec: { clock: StepClock; pipe: RecordPipeline; taken: number } | undefined;
let play: { clock: StepClock; pipe: PlaybackPipeline; speaker: FakeSpeaker } | undefined;
let packets: { bytes: Uint8Array; length: number }[] = [];
const codecs: CodecPort[] = [];

const makeCodec = (kind: string): CodecPort => {
  const c = kind === 'opus' ? new ModdableOpusCodec() : new FakeCodec();
  codecs.push(c);
  return c;
};

onXsCommand('calls', () => __pawpostNativeCalls());

/** Builds both paths with the chosen codec; encodes 50 tone frames for playback (setup, not measured). */
onXsCommand('setup', (arg) => {
  const kind = (arg as { codec: string }).codec;
  for (const c of codecs.splice(0)) c.close();
  const rclock = new StepClock();
  const sink = new PacketCallbackSink((_p, n) => {
    rec!.taken += n;
  });
  const pipe = new RecordPipeline({ clock: rclock, mic: new FakeMic(rclock, toneSource), codec: makeCodec(kind), sink });
  rec = { clock: rclock, pipe, taken: 0 };
  pipe.start();
  const enc = makeCodec(kind);
  const pcm = new Int16Array(FRAME_SAMPLES);
  packets = [];
  for (let f = 0; f < 50; f++) {
    toneSource(f, pcm);
    const bytes = new Uint8Array(1275);
    packets.push({ bytes, length: enc.encode(pcm, bytes) });
  }
  const pclock = new StepClock();
  const speaker = new FakeSpeaker(pclock);
  play = { clock: pclock, pipe: new PlaybackPipeline({ clock: pclock, speaker, codec: makeCodec(kind), packetRingBytes: 4096 }), speaker };
  play.pipe.start();
  return packets.reduce((n, p) => n + p.length, 0) / packets.length;
});

/** `frames` frames through the record path; returns frames encoded so far. */
onXsCommand('rec.run', (frames) => {
  const r = rec!;
  for (let i = 0; i < Number(frames); i++) r.clock.step(20);
  return r.pipe.framesEncoded;
});

/** `frames` packets through the playback path; returns frames played so far. */
onXsCommand('play.run', (frames) => {
  const p = play!;
  for (let i = 0; i < Number(frames); i++) {
    const k = packets[i % packets.length]!;
    p.pipe.pushPacket(k.bytes, k.length);
    p.clock.step(20);
  }
  return p.pipe.framesPlayed;
});
