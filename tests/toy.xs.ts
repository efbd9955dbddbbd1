// The toy's state machine: gestures, LED, and robustness against failing collaborators.
import { test } from './xs/harness.js';
import { ManualClock } from './fakes/manual-clock.js';
import { FakeButton } from './fakes/fake-button.js';
import { FakeLed } from './fakes/fake-led.js';
import { HeartLed } from '../src/heart-led.js';
import { Toy, PAIR_HOLD_MS, RESET_HOLD_MS, MAX_RECORD_MS, type PlayerControl, type RecorderControl, type PairingControl } from '../src/toy.js';

function rig(opts: { family?: number; waiting?: number; locked?: boolean; recorderThrows?: boolean } = {}) {
  const clock = new ManualClock();
  const paw = new FakeButton('paw', () => clock.now());
  const heart = new FakeButton('heart', () => clock.now());
  const ledPort = new FakeLed();
  const led = new HeartLed(ledPort, clock);
  const rec = { starts: 0, kept: 0, discarded: 0, busy: false };
  const recorder: RecorderControl = {
    start() {
      if (opts.recorderThrows) throw new Error('mic exploded');
      if (rec.busy) return 'BUSY';
      rec.starts++;
      return 'OK';
    },
    stop(keep) {
      if (keep) rec.kept++;
      else rec.discarded++;
    },
  };
  const play = { waiting: opts.waiting ?? 0, plays: 0, stops: 0, done: undefined as undefined | ((p: boolean) => void) };
  const player: PlayerControl = {
    waiting: () => play.waiting,
    playNext(done) {
      if (play.waiting === 0) return 'EMPTY';
      play.plays++;
      play.done = done;
      return 'OK';
    },
    stop() {
      play.stops++;
      const d = play.done;
      play.done = undefined;
      d?.(false);
    },
  };
  const pair = { family: opts.family ?? 1, enters: 0, cancels: 0, locked: opts.locked ?? false };
  const pairing: PairingControl = {
    familySize: () => pair.family,
    enter() {
      if (pair.locked) return 'LOCKED';
      pair.enters++;
      return 'OK';
    },
    cancel() {
      pair.cancels++;
    },
  };
  let resets = 0;
  const toy = new Toy({ paw, heart, led, clock, recorder, player, pairing, factoryReset: () => { resets++; } });
  return { clock, paw, heart, ledPort, led, rec, play, pair, toy, resets: () => resets };
}

test('a paw hold records with the LED lit red for the whole recording, release sends', (t) => {
  const r = rig();
  r.paw.press();
  t.is(r.toy.state, 'recording');
  t.is(r.rec.starts, 1);
  for (let i = 0; i < 40; i++) {
    r.clock.advance(100);
    t.true(r.ledPort.r === 255 && r.ledPort.g === 0, 'LED red while recording');
  }
  r.paw.release();
  t.is(r.rec.kept, 1);
  t.is(r.toy.state, 'idle');
  t.false(r.ledPort.lit);
});

test('a squeeze shorter than the minimum is discarded', (t) => {
  const r = rig();
  r.paw.press();
  r.clock.advance(200);
  r.paw.release();
  t.is(r.rec.kept, 0);
  t.is(r.rec.discarded, 1);
});

test('recording stops itself at 60 s and the rest of the hold is ignored', (t) => {
  const r = rig();
  r.paw.press();
  r.clock.advance(MAX_RECORD_MS + 5000);
  t.is(r.rec.kept, 1);
  t.is(r.toy.state, 'idle');
  t.false(r.ledPort.lit, 'LED off once recording stopped');
  r.paw.release();
  t.is(r.rec.starts, 1);
  t.is(r.toy.counters.get('toy.recording_max_length'), 1);
});

test('without a family, a 3 s paw hold enters pairing mode and a short press only flashes', (t) => {
  const r = rig({ family: 0 });
  r.paw.press();
  r.clock.advance(1000);
  r.paw.release();
  t.is(r.pair.enters, 0);
  t.is(r.rec.starts, 0, 'no recording without a family');
  t.is(r.led.current, 'no-family');
  r.paw.press();
  r.clock.advance(PAIR_HOLD_MS);
  t.is(r.toy.state, 'pairing');
  t.is(r.pair.enters, 1);
  t.is(r.led.current, 'pairing');
  r.paw.release();
  r.toy.pairingEnded('paired');
  t.is(r.led.current, 'paired');
  r.clock.advance(2000);
  t.is(r.led.current, 'off');
});

test('with a family, paw + heart released after 3 s enters pairing; held 10 s resets', (t) => {
  const r = rig();
  r.heart.press();
  r.paw.press();
  r.clock.advance(PAIR_HOLD_MS + 100);
  t.is(r.led.current, 'pairing', 'LED tells the gesture is armed');
  r.paw.release();
  r.heart.release();
  t.is(r.toy.state, 'pairing');
  t.is(r.resets(), 0);
  r.heart.press(); // heart in pairing mode cancels
  r.heart.release();
  t.is(r.pair.cancels, 1);
  t.is(r.toy.state, 'idle');

  r.paw.press();
  r.heart.press(); // heart pressed during a recording: the recording is discarded, combo armed
  t.is(r.rec.discarded, 1);
  r.clock.advance(RESET_HOLD_MS);
  t.is(r.resets(), 1);
  r.paw.release();
  r.heart.release();
  t.is(r.toy.state, 'idle');
  t.is(r.rec.starts, 1);
});

test('a locked pairing is refused and shown', (t) => {
  const r = rig({ family: 0, locked: true });
  r.paw.press();
  r.clock.advance(PAIR_HOLD_MS);
  t.is(r.toy.state, 'idle');
  t.is(r.led.current, 'locked');
  t.is(r.toy.counters.get('toy.pairing_refused_locked'), 1);
  r.paw.release();
  r.clock.advance(6000);
  t.is(r.led.current, 'off');
});

test('a waiting message makes the heart glow until pressed; heart plays it', (t) => {
  const r = rig({ waiting: 1 });
  t.is(r.led.current, 'message');
  let maxR = 0;
  let minR = 255;
  for (let i = 0; i < 60; i++) {
    r.clock.advance(50);
    maxR = Math.max(maxR, r.ledPort.r);
    minR = Math.min(minR, r.ledPort.r);
  }
  t.true(maxR > 200 && minR < 50, 'the glow breathes');
  r.heart.press();
  t.is(r.toy.state, 'playing');
  r.heart.release();
  r.play.waiting = 0;
  r.play.done?.(true);
  t.is(r.toy.state, 'idle');
  t.is(r.led.current, 'off');
  t.is(r.toy.counters.get('toy.played'), 1);
});

test('nothing to play: the heart does nothing', (t) => {
  const r = rig();
  r.heart.press();
  r.heart.release();
  t.is(r.play.plays, 0);
  t.is(r.toy.state, 'idle');
});

test('a collaborator that throws is counted and the toy stays usable', (t) => {
  const r = rig({ recorderThrows: true });
  t.notThrows(() => r.paw.press());
  t.is(r.toy.counters.get('toy.collaborator_error'), 1);
  t.is(r.toy.state, 'idle');
  r.paw.release();
  t.is(r.toy.state, 'idle');
});

test('the error state ignores every gesture and shows the error pattern', (t) => {
  const r = rig({ waiting: 1 });
  r.toy.fail('identity missing');
  r.paw.press();
  r.heart.press();
  r.clock.advance(RESET_HOLD_MS + 1000);
  t.is(r.rec.starts, 0);
  t.is(r.play.plays, 0);
  t.is(r.resets(), 0);
  t.is(r.led.current, 'error');
});

test('the recording light shows at once, even over a one-shot flash', (t) => {
  const r = rig({ family: 0 });
  r.paw.press();
  r.clock.advance(PAIR_HOLD_MS);
  r.paw.release();
  r.toy.pairingEnded('paired');
  r.pair.family = 1;
  t.is(r.led.current, 'paired', 'the green flashes play');
  r.clock.advance(100);
  r.paw.press(); // the child squeezes during the flashes
  t.is(r.toy.state, 'recording');
  for (let i = 0; i < 30; i++) {
    t.true(r.ledPort.r === 255 && r.ledPort.g === 0 && r.ledPort.b === 0, `red at ${i * 50} ms`);
    r.clock.advance(50);
  }
  r.paw.release();
});
