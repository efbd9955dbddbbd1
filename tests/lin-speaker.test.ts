// The lin simulator's speaker (hal/lin-speaker.ts) on a manual clock: the lent slot
// (reserve/commit), its paced queue, and the underrun count the device tier reads
// (gaps between frames, not the empty drains after the last frame).
import test from 'ava';
import { LinSpeaker } from '../hal/lin-speaker.js';
import { I2sPins } from '../hal/moddable-i2s-pins.js';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { ManualClock } from './fakes/manual-clock.js';

function setup(slots = 8) {
  const clock = new ManualClock();
  const lines: string[] = [];
  const sp = new LinSpeaker({ pins: new I2sPins(), clock, slots, sink: (l) => lines.push(l) });
  return { clock, sp, lines };
}

test('reserve lends its slot while there is room; commit queues it; the queue drains one frame per 20 ms', (t) => {
  const { clock, sp } = setup(2);
  t.is(sp.reserve(), null, 'stopped: nothing lent');
  t.is(sp.commit(), 'OFF');
  t.is(sp.start(), 'OK');
  const a = sp.reserve()!;
  t.is(a.length, FRAME_SAMPLES);
  a.fill(1000);
  t.is(sp.commit(), 'OK');
  t.is(sp.commit(), 'FULL', 'nothing reserved');
  t.is(sp.reserve(), a, 'the same slot again');
  t.is(sp.commit(), 'OK');
  t.is(sp.reserve(), null, 'full');
  clock.advance(20);
  t.not(sp.reserve(), null);
  t.is(sp.frames, 2);
});

test('underruns count the drains that found the queue empty between frames, not after the last one', (t) => {
  const { clock, sp, lines } = setup(8);
  sp.start();
  const put = () => {
    sp.reserve()!.fill(500);
    sp.commit();
  };
  put();
  put();
  clock.advance(100); // two frames played, three drains found it empty
  put(); // a gap of 3 frame times before this frame
  clock.advance(400); // the tail: the queue plays out, then stays empty
  sp.stop();
  t.is(sp.underruns, 3);
  t.regex(lines[0]!, /^speaker frames=3 rms=500 underruns=3\n$/);
});
