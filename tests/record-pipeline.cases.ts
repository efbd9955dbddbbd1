import { CodecError } from '../audio/codec-port.js';
import { FakeCodec } from '../audio/fake-codec.js';
import { RecordPipeline } from '../audio/record-pipeline.js';
import { FRAME_SAMPLES, type CodecPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { throwsCode, type AudioCase, type CaseT } from './audio-cases.js';
import { countingSource, FakeMic } from './fakes/fake-mic.js';
import { ManualClock } from './fakes/manual-clock.js';

/** Decodes every drained packet with the FakeCodec's rule: the frame value it carries. */
function drainValues(rec: RecordPipeline, into: number[]): number {
  return rec.drainPackets((p, n) => {
    if (n < 20 || n > 60) into.push(-n);
    else into.push(((p[0]! << 8) | p[1]!) << 16 >> 16);
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

function setup(frames = Infinity, codec: CodecPort = new FakeCodec()) {
  const clock = new ManualClock();
  const mic = new FakeMic(clock, countingSource(frames));
  const counters = new Counters();
  const errors: unknown[] = [];
  let finished = 0;
  const rec = new RecordPipeline({ clock, mic, codec, counters, onError: (e) => errors.push(e), onFinished: () => finished++ });
  return { clock, mic, rec, counters, errors, codec, finished: () => finished };
}

export const recordPipelineCases: AudioCase[] = [
  {
    name: 'a minute of audio is encoded in order with nothing lost, in fixed RAM',
    fn: (t) => {
      const { clock, rec, errors, finished } = setup(3000);
      const ram = rec.ramBytes;
      const values: number[] = [];
      t.is(rec.start(), 'OK');
      for (let s = 0; s < 61; s++) {
        clock.advance(1000);
        drainValues(rec, values);
      }
      rec.stop();
      clock.advance(200);
      drainValues(rec, values);
      t.is(rec.state, 'finished');
      t.is(finished(), 1);
      t.true(rec.isDrained());
      t.is(values.length, 3000);
      checkSequence(t, values, 3000, 0);
      t.is(rec.framesEncoded, 3000);
      t.is(rec.framesDropped, 0);
      t.is(errors.length, 0);
      t.is(rec.ramBytes, ram);
      const kbps = (rec.bytesEncoded * 8) / 60 / 1000;
      t.true(kbps > 15 && kbps < 17, `fake codec bitrate ${kbps} kbps`);
    },
  },
  {
    name: 'a late consumer: back-pressure fills the rings, mic frames are dropped and counted, queued frames are kept',
    fn: (t) => {
      const { clock, rec, counters, mic } = setup(1000);
      const values: number[] = [];
      rec.start();
      clock.advance(5000); // nobody drains for 5 s: the 4096-byte packet ring holds about 2 s
      t.true(rec.packets.overruns > 0, 'packet ring refused a packet');
      t.true(rec.framesDropped > 0, 'frames were dropped at the mic side');
      t.is(counters.get('audio.rec.frameOverrun'), rec.framesDropped);
      t.is(rec.pcm.count, rec.pcm.capacity, 'PCM ring full while blocked');
      for (let s = 0; s < 20; s++) {
        drainValues(rec, values);
        clock.advance(1000);
      }
      rec.stop();
      clock.advance(400);
      drainValues(rec, values);
      t.is(rec.state, 'finished');
      t.is(rec.framesEncoded, values.length);
      t.is(rec.framesCaptured, rec.framesEncoded, 'every frame that entered the PCM ring was encoded');
      checkSequence(t, values, 1000, rec.framesDropped + mic.overruns);
    },
  },
  {
    name: 'a codec that throws loses only those frames, counted, and the pipeline keeps running',
    fn: (t) => {
      const { clock, rec, errors, counters, codec } = setup(500);
      const values: number[] = [];
      rec.start();
      clock.advance(2000);
      drainValues(rec, values);
      (codec as FakeCodec).failNextEncodes = 3;
      clock.advance(2000);
      drainValues(rec, values);
      const fake = codec as FakeCodec;
      fake.encode = () => {
        throw new TypeError('not even a CodecError');
      };
      clock.advance(100); // 5 ticks, 5 frames
      delete (fake as Partial<FakeCodec>).encode; // back to FakeCodec.prototype.encode
      for (let s = 0; s < 8; s++) {
        clock.advance(1000);
        drainValues(rec, values);
      }
      rec.stop();
      clock.advance(200);
      drainValues(rec, values);
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
    name: 'a codec returning a bad packet length is counted and queues nothing',
    fn: (t) => {
      const lengths = [0, 1276, -3, 40];
      let k = 0;
      const codec: CodecPort = {
        encode: (_pcm, out) => {
          out[0] = 1;
          out[1] = 2;
          return lengths[k++ % lengths.length]!;
        },
        decode: () => FRAME_SAMPLES,
        reset: () => undefined,
        close: () => undefined,
      };
      const { clock, rec, counters } = setup(8, codec);
      rec.start();
      clock.advance(200);
      rec.stop();
      t.is(rec.encodeErrors, 6);
      t.is(counters.get('audio.rec.encodeError.SIZE'), 6);
      t.is(rec.packets.count, 2);
      t.is(rec.packets.peek(), 40);
    },
  },
  {
    name: 'a mic adapter that throws is counted and recording goes on',
    fn: (t) => {
      const { clock, rec, mic, counters } = setup(100);
      const values: number[] = [];
      rec.start();
      clock.advance(500);
      mic.throwOnReads = 2;
      clock.advance(2000);
      rec.stop();
      clock.advance(200);
      drainValues(rec, values);
      t.is(rec.micErrors, 2);
      t.is(counters.get('audio.rec.micError.IO'), 2);
      t.is(values.length, 100, 'the frames stayed in the mic buffer and were read on the next tick');
      checkSequence(t, values, 100, 0);
    },
  },
  {
    name: 'pushFrame: wrong lengths are a typed error and counted; good frames flow',
    fn: (t) => {
      const { rec, counters } = setup(0);
      t.is(rec.pushFrame(new Int16Array(FRAME_SAMPLES)), 'OFF');
      rec.start();
      throwsCode(t, () => rec.pushFrame(new Int16Array(100)), 'PortError', 'SIZE');
      throwsCode(t, () => rec.pushFrame(new Int16Array(FRAME_SAMPLES * 2)), 'PortError', 'SIZE');
      t.is(rec.badFrames, 2);
      t.is(counters.get('audio.rec.badFrame'), 2);
      const f = new Int16Array(FRAME_SAMPLES);
      for (let i = 1; i <= 8; i++) t.is(rec.pushFrame(f.fill(i)), 'OK');
      t.is(rec.pushFrame(f), 'FULL');
      rec.tick();
      t.is(rec.framesEncoded, 4);
      const values: number[] = [];
      rec.tick();
      drainValues(rec, values);
      t.deepEqual(values, [1, 2, 3, 4, 5, 6, 7, 8]);
    },
  },
  {
    name: 'busy mic, double start, close twice',
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
    },
  },
  {
    name: 'a consumer that throws in drainPackets leaves the packet queued',
    fn: (t) => {
      const { rec, clock } = setup(5);
      rec.start();
      clock.advance(200);
      const before = rec.packets.count;
      let threw = false;
      try {
        rec.drainPackets(() => {
          throw new Error('sealer failed');
        });
      } catch {
        threw = true;
      }
      t.true(threw);
      t.is(rec.packets.count, before);
      t.is(before, 5);
    },
  },
];
