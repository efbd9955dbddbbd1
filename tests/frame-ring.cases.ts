import { FrameRing } from '../audio/frame-ring.js';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { throwsCode, type AudioCase } from './audio-cases.js';

export const frameRingCases: AudioCase[] = [
  {
    name: 'lends slots in FIFO order across many wraps, reusing the same slot instances',
    fn: (t) => {
      const r = new FrameRing(5);
      const storage = r.storage;
      const seen = new Set<Int16Array>();
      let next = 0;
      let expect = 0;
      for (let round = 0; round < 400; round++) {
        const burst = (round % 5) + 1;
        for (let i = 0; i < burst; i++) {
          const s = r.reserve();
          if (!s) break;
          seen.add(s);
          s.fill(next++);
          r.commit();
        }
        while (r.count > (round % 3)) {
          const f = r.peek()!;
          t.is(f.length, FRAME_SAMPLES);
          if (f[0] !== expect || f[FRAME_SAMPLES - 1] !== expect) t.is(f[0], expect, 'frame out of order');
          expect++;
          r.release();
        }
      }
      t.true(expect > 1000, `moved ${expect} frames`);
      t.is(seen.size, 5, 'only the 5 preallocated slots are ever lent');
      t.is(r.storage, storage);
      for (const s of seen) t.is(s.buffer, storage.buffer);
    },
  },
  {
    name: 'full answers FULL / null, counts overruns and keeps the queued frames',
    fn: (t) => {
      const r = new FrameRing(3);
      const f = new Int16Array(FRAME_SAMPLES);
      for (let i = 1; i <= 3; i++) t.is(r.push(f.fill(i)), 'OK');
      t.is(r.push(f.fill(99)), 'FULL');
      t.is(r.reserve(), null);
      t.is(r.overruns, 2);
      t.is(r.count, 3);
      const out = new Int16Array(FRAME_SAMPLES);
      for (let i = 1; i <= 3; i++) {
        t.is(r.pop(out), 'OK');
        t.is(out[0], i);
      }
    },
  },
  {
    name: 'empty answers EMPTY / null and counts underruns',
    fn: (t) => {
      const r = new FrameRing(2);
      t.is(r.pop(new Int16Array(FRAME_SAMPLES)), 'EMPTY');
      t.is(r.peek(), null);
      t.is(r.underruns, 2);
      t.is(r.count, 0);
    },
  },
  {
    name: 'wrong-length frames are a typed error, counted, and change nothing',
    fn: (t) => {
      const r = new FrameRing(2);
      r.push(new Int16Array(FRAME_SAMPLES).fill(7));
      throwsCode(t, () => r.push(new Int16Array(319)), 'PortError', 'SIZE');
      throwsCode(t, () => r.push(new Int16Array(0)), 'PortError', 'SIZE');
      throwsCode(t, () => r.push(new Int16Array(FRAME_SAMPLES + 1)), 'PortError', 'SIZE');
      throwsCode(t, () => r.pop(new Int16Array(10)), 'PortError', 'SIZE');
      t.is(r.rejected, 3);
      t.is(r.count, 1);
      t.is(r.peek()![0], 7);
    },
  },
  {
    name: 'misuse of the lending protocol is a typed error',
    fn: (t) => {
      const r = new FrameRing(2);
      throwsCode(t, () => r.commit(), 'PortError', 'INVAL');
      throwsCode(t, () => r.release(), 'PortError', 'INVAL');
      throwsCode(t, () => new FrameRing(0), 'PortError', 'INVAL');
      throwsCode(t, () => new FrameRing(2.5), 'PortError', 'INVAL');
      const s = r.reserve()!;
      t.is(r.reserve(), s, 'reserving twice lends the same slot');
      r.unreserve();
      t.is(r.count, 0);
    },
  },
];
