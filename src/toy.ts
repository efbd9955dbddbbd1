/**
 * The toy's state machine: what the paw, the heart and the LED mean.
 *
 * Gestures (docs/USER-GUIDE.md):
 * - Paw, with at least one phone paired: hold to record, release to send. The LED is
 *   steady red for the whole recording; recording starts only on this local press.
 *   A squeeze shorter than MIN_RECORD_MS is discarded; recording stops by itself at
 *   MAX_RECORD_MS (the rest of that hold is ignored).
 * - Paw held PAIR_HOLD_MS while idle and no phone is paired yet: pairing mode.
 * - Paw and heart held together: released after PAIR_HOLD_MS → pairing mode (how a
 *   family adds a second phone, since a paw hold alone records once a phone is paired);
 *   held RESET_HOLD_MS → factory reset. The LED turns blue at 3 s, white at 10 s.
 * - Heart, when the heart glows (a message waits): plays the oldest message. Pressed
 *   during playback: stops it (the message stays waiting). Pressed in pairing mode:
 *   leaves pairing mode.
 *
 * The machine drives collaborators through small control interfaces so that it can
 * be tested alone and wired in src/main.ts. Button callbacks never throw: a
 * collaborator's exception is caught, counted ('toy.collaborator_error') and the toy
 * returns to idle.
 */
import type { ButtonPort, ClockPort, LogPort, TimerHandle } from '../hal/ports.js';
import { Counters } from './counters.js';
import type { HeartLed } from './heart-led.js';

export const PAIR_HOLD_MS = 3000;
export const RESET_HOLD_MS = 10000;
export const MIN_RECORD_MS = 600;
export const MAX_RECORD_MS = 60000;
export const LOCKED_SHOW_MS = 5000;

/** Records one message to the family while the paw is held. */
export interface RecorderControl {
  /** Starts capture and streaming sealing. 'BUSY' when the audio hardware is taken. */
  start(): 'OK' | 'BUSY';
  /** Ends the recording: keep=true finishes and queues the message, false discards it. */
  stop(keep: boolean): void;
}

/** Plays received messages. */
export interface PlayerControl {
  /** Messages waiting to be heard. */
  waiting(): number;
  /** Plays the oldest waiting message; `done(played)` is called once when it ends. */
  playNext(done: (played: boolean) => void): 'OK' | 'EMPTY' | 'BUSY';
  /** Stops playback now; `done(false)` follows. */
  stop(): void;
}

/** The BLE pairing service. */
export interface PairingControl {
  /** Number of paired family members. */
  familySize(): number;
  /** Starts advertising for 120 s. 'LOCKED' after too many failed attempts. */
  enter(): 'OK' | 'LOCKED';
  /** Leaves pairing mode. */
  cancel(): void;
}

export type ToyState = 'error' | 'idle' | 'recording' | 'playing' | 'pairing' | 'holding' | 'resetting';

export interface ToyOptions {
  paw: ButtonPort;
  heart: ButtonPort;
  led: HeartLed;
  clock: ClockPort;
  recorder: RecorderControl;
  player: PlayerControl;
  pairing: PairingControl;
  /** Wipes family, network settings and messages; keeps the factory identity. */
  factoryReset: () => void;
  log?: LogPort;
  counters?: Counters;
}

export class Toy {
  private s: ToyState = 'idle';
  private pawDown = false;
  private heartDown = false;
  private ignorePawUntilRelease = false;
  private recordStart = 0;
  private holdTimer: TimerHandle | undefined;
  private resetTimer: TimerHandle | undefined;
  private maxTimer: TimerHandle | undefined;
  private lockedTimer: TimerHandle | undefined;
  private comboArmedPair = false;
  private closed = false;
  readonly counters: Counters;

  constructor(private readonly o: ToyOptions) {
    this.counters = o.counters ?? new Counters();
    o.paw.onChange((pressed) => this.guard(() => this.onPaw(pressed)));
    o.heart.onChange((pressed) => this.guard(() => this.onHeart(pressed)));
    this.refreshLed();
  }

  get state(): ToyState {
    return this.s;
  }

  /** Puts the toy in the error state (factory data missing or malformed): it does nothing but show the error pattern. */
  fail(reason: string): void {
    this.cancelTimers();
    this.s = 'error';
    this.o.led.show('error');
    this.o.log?.log('error', 'toy.halted', { reason });
  }

  /** Tells the toy the set of waiting messages changed (a message arrived or was consumed). */
  messagesChanged(): void {
    this.guard(() => this.refreshLed());
  }

  /** Tells the toy how pairing mode ended. */
  pairingEnded(result: 'paired' | 'failed' | 'timeout' | 'cancelled' | 'locked'): void {
    this.guard(() => {
      if (this.s !== 'pairing') return;
      this.s = 'idle';
      this.counters.inc(`toy.pairing_${result}`);
      if (result === 'paired') this.o.led.show('paired');
      else if (result === 'failed') this.o.led.show('failed');
      if (result === 'locked') this.showLocked();
      else this.refreshLed();
    });
  }

  /** Tells the toy that one pairing attempt failed while pairing mode stays open. */
  pairingAttemptFailed(): void {
    this.guard(() => {
      if (this.s === 'pairing') this.o.led.show('failed');
    });
  }

  private guard(fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (e) {
      this.counters.inc('toy.collaborator_error');
      this.o.log?.log('error', 'toy.collaborator_error', { error: e instanceof Error ? e.name : 'unknown' });
      this.cancelTimers();
      if (this.s !== 'error') this.s = 'idle';
      this.refreshLed();
    }
  }

  private onPaw(pressed: boolean): void {
    this.pawDown = pressed;
    if (this.s === 'error' || this.s === 'resetting') return;
    if (!pressed) {
      this.ignorePawUntilRelease = false;
      if (this.s === 'recording') this.endRecording();
      else if (this.s === 'holding') this.releaseHold();
      return;
    }
    if (this.ignorePawUntilRelease) return;
    if (this.heartDown && (this.s === 'idle' || this.s === 'playing')) {
      if (this.s === 'playing') this.o.player.stop();
      this.startCombo();
      return;
    }
    if (this.s !== 'idle') return;
    if (this.o.pairing.familySize() === 0) {
      this.s = 'holding';
      this.comboArmedPair = false;
      this.holdTimer = this.o.clock.after(PAIR_HOLD_MS, () => this.guard(() => this.enterPairing()));
      return;
    }
    this.startRecording();
  }

  private onHeart(pressed: boolean): void {
    this.heartDown = pressed;
    if (this.s === 'error' || this.s === 'resetting') return;
    if (!pressed) {
      if (this.s === 'holding') this.releaseHold();
      return;
    }
    if (this.pawDown && (this.s === 'recording' || this.s === 'idle' || this.s === 'holding')) {
      if (this.s === 'recording') {
        this.counters.inc('toy.recording_discarded');
        this.maxTimer?.cancel();
        this.o.recorder.stop(false);
      }
      this.holdTimer?.cancel();
      this.startCombo();
      return;
    }
    if (this.s === 'pairing') {
      this.o.pairing.cancel();
      this.pairingEnded('cancelled');
      return;
    }
    if (this.s === 'playing') {
      this.o.player.stop();
      return;
    }
    if (this.s === 'idle') {
      const r = this.o.player.playNext((played) => this.guard(() => this.playbackDone(played)));
      if (r === 'OK') {
        this.s = 'playing';
        this.o.led.show('playing');
      } else if (r === 'BUSY') this.counters.inc('toy.play_busy');
    }
  }

  private startRecording(): void {
    const r = this.o.recorder.start();
    if (r !== 'OK') {
      this.counters.inc('toy.record_busy');
      this.ignorePawUntilRelease = true;
      return;
    }
    this.s = 'recording';
    this.recordStart = this.o.clock.now();
    this.o.led.show('recording');
    this.maxTimer = this.o.clock.after(MAX_RECORD_MS, () =>
      this.guard(() => {
        if (this.s !== 'recording') return;
        this.counters.inc('toy.recording_max_length');
        this.ignorePawUntilRelease = true;
        this.endRecording();
      }),
    );
  }

  private endRecording(): void {
    this.maxTimer?.cancel();
    this.maxTimer = undefined;
    const keep = this.o.clock.now() - this.recordStart >= MIN_RECORD_MS;
    this.counters.inc(keep ? 'toy.recordings' : 'toy.recording_too_short');
    this.s = 'idle';
    this.o.recorder.stop(keep);
    this.refreshLed();
  }

  private startCombo(): void {
    this.s = 'holding';
    this.comboArmedPair = false;
    this.holdTimer?.cancel();
    this.resetTimer?.cancel();
    this.holdTimer = this.o.clock.after(PAIR_HOLD_MS, () =>
      this.guard(() => {
        this.comboArmedPair = true;
        this.o.led.show('pairing');
      }),
    );
    this.resetTimer = this.o.clock.after(RESET_HOLD_MS, () => this.guard(() => this.doReset()));
  }

  private releaseHold(): void {
    // Releasing either control ends a hold. A combo released after PAIR_HOLD_MS pairs.
    const wasCombo = this.resetTimer !== undefined;
    const armed = this.comboArmedPair;
    this.cancelTimers();
    this.s = 'idle';
    if (wasCombo && armed) return this.enterPairing();
    if (!wasCombo && this.o.pairing.familySize() === 0) this.o.led.show('no-family');
    this.ignorePawUntilRelease = this.pawDown;
    this.refreshLed();
  }

  private enterPairing(): void {
    this.cancelTimers();
    this.ignorePawUntilRelease = this.pawDown;
    const r = this.o.pairing.enter();
    if (r === 'LOCKED') {
      this.s = 'idle';
      this.counters.inc('toy.pairing_refused_locked');
      this.showLocked();
      return;
    }
    this.s = 'pairing';
    this.counters.inc('toy.pairing_mode');
    this.o.led.show('pairing');
  }

  private doReset(): void {
    this.cancelTimers();
    this.s = 'resetting';
    this.o.led.show('reset');
    this.o.log?.log('warn', 'toy.factory_reset');
    this.counters.inc('toy.factory_reset');
    this.o.factoryReset();
    this.s = 'idle';
    this.ignorePawUntilRelease = this.pawDown;
    this.refreshLed();
  }

  private playbackDone(played: boolean): void {
    if (this.s !== 'playing') return;
    this.counters.inc(played ? 'toy.played' : 'toy.play_stopped');
    this.s = 'idle';
    this.refreshLed();
  }

  private showLocked(): void {
    this.lockedTimer?.cancel();
    this.o.led.show('locked');
    this.lockedTimer = this.o.clock.after(LOCKED_SHOW_MS, () =>
      this.guard(() => {
        this.lockedTimer = undefined;
        this.refreshLed();
      }),
    );
  }

  private refreshLed(): void {
    if (this.s === 'error') return this.o.led.show('error');
    if (this.s === 'recording') return this.o.led.show('recording');
    if (this.s === 'playing') return this.o.led.show('playing');
    if (this.s === 'pairing') return this.o.led.show('pairing');
    if (this.lockedTimer) return;
    this.o.led.show(this.o.player.waiting() > 0 ? 'message' : 'off');
  }

  private cancelTimers(): void {
    for (const t of [this.holdTimer, this.resetTimer, this.maxTimer]) t?.cancel();
    this.holdTimer = this.resetTimer = this.maxTimer = undefined;
    this.comboArmedPair = false;
  }

  /** Stops all timers. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.cancelTimers();
    this.lockedTimer?.cancel();
    this.closed = true;
  }
}
