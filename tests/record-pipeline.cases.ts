import { CodecError, MIN_ENCODE_ROOM } from '../audio/codec-port.js';
import { FakeCodec } from '../audio/fake-codec.js';
import { RecordPipeline, type PacketSink } from '../audio/record-pipeline.js';
import { PacketCallbackSink } from './fakes/packet-callback-sink.js';
import { FRAME_SAMPLES, type CodecPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { throwsCode, type AudioCase, type CaseT } from './audio-cases.js';
import { countingSource, FakeMic } from './fakes/fake-mic.js';
import { ManualClock } from './fakes/manual-clock.js';

/** A sink that decodes every packet with the FakeCodec's rule (the frame value it carries) into `values`. */
function valueSink(values: number[]): PacketCallbackSink {
  return new PacketCallbackSink((p, n) => {
    if (n < 20 || n > 60) values.push(-n);
    else values.push(((p[0]! << 8) | p[1]!) << 16 >> 16);
  });
}

/** Checks values are strictly increasing from 1 with exactly `missing` gaps in total. */
function checkSequence(t: CaseT, values: number[], total: number, missing: number): void {
  let gaps = 0;
  for (let i = 0; i < values.length; i++) {
    const prev = i === 0 ? 0 : values[i - 1]!;
    if (values[i]! <= prev) {
      t.fail(`value ${values[i]} after ${prev} at ${i}`);
      return;
    }
    gaps += values[i]! - prev - 1;
  }
  gaps += total - (values[values.length - 1] ?? 0);
  t.is(gaps, missing, 'frames missing from the sequence');
}

function setup(frames = Infinity, codec: CodecPort = new FakeCodec(), maxEncodesPerTick?: number) {
  const clock = new ManualClock();
  const mic = new FakeMic(clock, countingSource(frames));
  const counters = new Counters();
  const errors: unknown[] = [];
  const values: number[] = [];
  const sink = valueSink(values);
  let finished = 0;
  const rec = new RecordPipeline({ clock, mic, codec, sink, counters, maxEncodesPerTick, onError: (e) => errors.push(e), onFinished: () => finished++ });
  return { clock, mic, rec, sink, values, counters, errors, codec, finished: () => finished };
}

export const recordPipelineCases: AudioCase[] = [
  {
    name: 'a minute of audio is encoded in order with nothing lost, and the pipeline holds no audio buffer',
    fn: (t) => {
      const { clock, rec, mic, values, errors, finished } = setup(3000);
      t.is(rec.ramBytes, 0);
      t.is(rec.start(), 'OK');
      for (let s = 0; s < 61; s++) clock.advance(1000);
      rec.stop();
      t.is(rec.state, 'finished');
      t.is(finished(), 1);
      t.is(values.length, 3000);
      checkSequence(t, values, 3000, 0);
      t.is(rec.framesEncoded, 3000);
      t.is(rec.framesCaptured, 3000);
      t.is(mic.overruns, 0);
      t.is(errors.length, 0);
      t.is(rec.ramBytes, 0);
      const kbps = (rec.bytesEncoded * 8) / 60 / 1000;
      t.true(kbps > 15 && kbps < 17, `fake codec bitrate ${kbps} kbps`);
    },
  },
  {
    name: 'each frame is encoded from the mic adapter\'s lent slot straight into the sink\'s buffer at its offset, within its room',
    fn: (t) => {
      const clock = new ManualClock();
      const mic = new FakeMic(clock, countingSource(50));
      const buf = new Uint8Array(1000);
      const seen = { pcm: new Set<Int16Array>(), out: new Set<Uint8Array>(), offsets: [] as number[], rooms: [] as number[] };
      let at = 100;
      const committed: number[] = [];
      const sink: PacketSink = {
        packetBuffer: buf,
        get packetOffset() {
          return at;
        },
        packetRoom: () => (at + 2 + MIN_ENCODE_ROOM <= buf.length ? MIN_ENCODE_ROOM : ((at = 100), MIN_ENCODE_ROOM)),
        commitPacket: (n) => {
          committed.push((buf[at]! << 8) | buf[at + 1]!);
          at += n;
        },
      };
      const codec = new FakeCodec();
      const enc = codec.encode.bind(codec);
      codec.encode = (pcm, out, offset, maxBytes) => {
        seen.pcm.add(pcm);
        seen.out.add(out);
        seen.offsets.push(offset!);
        seen.rooms.push(maxBytes!);
        return enc(pcm, out, offset, maxBytes);
      };
      const rec = new RecordPipeline({ clock, mic, codec, sink });
      rec.start();
      clock.advance(2000);
      rec.stop();
      t.is(committed.length, 50);
      t.deepEqual(committed.slice(0, 3), [1, 2, 3], 'the packet carries the frame');
      t.is(seen.pcm.size, 1, 'one lent mic slot, no copy');
      t.is([...seen.pcm][0], mic.peekSlot);
      t.deepEqual([...seen.out], [buf]);
      t.is(seen.offsets[0], 100);
      t.true(seen.rooms.every((r) => r === MIN_ENCODE_ROOM));
      t.is(mic.reads, 50, 'every lent slot released');
    },
  },
  {
    name: 'a sink that answers no room: frames are released unencoded and counted, the mic does not overflow',
    fn: (t) => {
      const { clock, rec, sink, mic, values } = setup(200);
      rec.start();
      clock.advance(1000);
      sink.accept = false;
      clock.advance(1000);
      sink.accept = true;
      clock.advance(2000);
      rec.stop();
      t.is(rec.framesSkipped, 50);
      t.is(rec.framesEncoded, 150);
      t.is(mic.overruns, 0);
      checkSequence(t, values, 200, 50);
    },
  },
  {
    name: 'stop() encodes every frame the mic still holds, beyond the per-tick limit',
    fn: (t) => {
      const { clock, rec, mic, values, finished } = setup(Infinity, new FakeCodec(), 1);
      rec.start();
      clock.advance(1000); // 50 ticks, 50 frames: one encode per tick keeps up
      mic.throwOnReads = 3; // three ticks lose their turn: three frames wait in the mic
      clock.advance(60);
      t.is(mic.available(), 3);
      rec.stop();
      t.is(finished(), 1);
      t.is(values.length, 53);
      checkSequence(t, values, 53, 0);
      t.is(rec.micErrors, 3);
    },
  },
  {
    name: 'a codec that throws loses only those frames, counted, and the pipeline keeps running',
    fn: (t) => {
      const { clock, rec, errors, counters, codec, values } = setup(500);
      rec.start();
      clock.advance(2000);
      (codec as FakeCodec).failNextEncodes = 3;
      clock.advance(2000);
      const fake = codec as FakeCodec;
      fake.encode = () => {
        throw new TypeError('not even a CodecError');
      };
      clock.advance(100); // 5 ticks, 5 frames
      delete (fake as Partial<FakeCodec>).encode; // back to FakeCodec.prototype.encode
      for (let s = 0; s < 8; s++) clock.advance(1000);
      rec.stop();
      t.is(rec.state, 'finished');
      t.is(rec.encodeErrors, 8);
      t.is(errors.length, 8);
      t.true(errors[0] instanceof CodecError);
      t.is(counters.get('audio.rec.encodeError.ENCODE'), 3);
      t.is(counters.get('audio.rec.encodeError.UNKNOWN'), 5);
      t.is(rec.framesEncoded, 492);
      checkSequence(t, values, 500, 8);
    },
  },
  {
    name: 'a codec returning a bad packet length (or more than its room) is counted and commits nothing',
    fn: (t) => {
      const lengths = [0, 1276, -3, 1275, 40];
      let k = 0;
      const codec: CodecPort = {
        encode: (_pcm, out, offset = 0) => {
          out[offset] = 1;
          out[offset + 1] = 2;
          return lengths[k++ % lengths.length]!;
        },
        decode: () => FRAME_SAMPLES,
        reset: () => undefined,
        close: () => undefined,
      };
      const { clock, rec, counters, sink } = setup(10, codec);
      rec.start();
      clock.advance(200);
      rec.stop();
      t.is(rec.encodeErrors, 6, '1275 is within the callback sink\'s room: counted as a packet');
      t.is(counters.get('audio.rec.encodeError.SIZE'), 6);
      t.is(sink.packets, 4);
      t.is(sink.bytes, 2 * 1275 + 2 * 40);
    },
  },
  {
    name: 'a sink that throws loses that frame only, counted',
    fn: (t) => {
      const { clock, rec, sink, values, counters } = setup(100);
      const commit = sink.commitPacket.bind(sink);
      let n = 0;
      sink.commitPacket = (len) => {
        if (++n === 10) throw new Error('sealer failed');
        commit(len);
      };
      rec.start();
      clock.advance(2500);
      rec.stop();
      t.is(rec.encodeErrors, 1);
      t.is(counters.get('audio.rec.encodeError.UNKNOWN'), 1);
      checkSequence(t, values, 100, 1);
    },
  },
  {
    name: 'a mic adapter that throws is counted and recording goes on',
    fn: (t) => {
      const { clock, rec, mic, counters, values } = setup(100);
      rec.start();
      clock.advance(500);
      mic.throwOnReads = 2;
      clock.advance(2000);
      rec.stop();
      t.is(rec.micErrors, 2);
      t.is(counters.get('audio.rec.micError.IO'), 2);
      t.is(values.length, 100, 'the frames stayed in the mic buffer and were read on the next tick');
      checkSequence(t, values, 100, 0);
    },
  },
  {
    name: 'pushFrame: wrong lengths are a typed error and counted; good frames are encoded at once',
    fn: (t) => {
      const { rec, counters, values } = setup(0);
      t.is(rec.pushFrame(new Int16Array(FRAME_SAMPLES)), 'OFF');
      rec.start();
      throwsCode(t, () => rec.pushFrame(new Int16Array(100)), 'PortError', 'SIZE');
      throwsCode(t, () => rec.pushFrame(new Int16Array(FRAME_SAMPLES * 2)), 'PortError', 'SIZE');
      t.is(rec.badFrames, 2);
      t.is(counters.get('audio.rec.badFrame'), 2);
      const f = new Int16Array(FRAME_SAMPLES);
      for (let i = 1; i <= 8; i++) t.is(rec.pushFrame(f.fill(i)), 'OK');
      t.is(rec.framesEncoded, 8);
      t.deepEqual(values, [1, 2, 3, 4, 5, 6, 7, 8]);
    },
  },
  {
    name: 'busy mic, double start, no sink, close twice',
    fn: (t) => {
      const { rec, mic, clock } = setup(10);
      mic.busy = true;
      t.is(rec.start(), 'BUSY');
      t.is(rec.state, 'idle');
      mic.busy = false;
      t.is(rec.start(), 'OK');
      t.is(rec.start(), 'BUSY');
      rec.close();
      rec.close();
      t.is(rec.state, 'closed');
      t.is(mic.stops, 1);
      t.is(rec.start(), 'OFF');
      clock.advance(100);
      t.is(rec.ticks, 0);
      const bare = new RecordPipeline({ clock, mic: new FakeMic(clock, countingSource(1)), codec: new FakeCodec() });
      t.is(bare.start(), 'OFF', 'no sink');
    },
  },
];
