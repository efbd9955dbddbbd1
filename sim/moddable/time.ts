/**
 * Node implementation of the Moddable `time` module: Time.set(seconds) is
 * recorded on the board (the host's clock is not changed); Time.ticks is a
 * monotonic millisecond counter.
 */
import { board } from './board.js';

const Time = {
  set(seconds: number): void {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new Error('invalid time');
    board.timeSetTo = seconds;
  },
  get ticks(): number {
    return Math.floor(performance.now());
  },
  timezone: 0,
  dst: 0,
};
export default Time;
