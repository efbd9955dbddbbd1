/**
 * Node implementation of the Moddable `time` module (modules/base/time, SDK 8.2):
 * `Time.ticks`, `Time.delta`, `Time.set`, `timezone`, `dst`.
 *
 * `ticks` is what the device gives: modMilliseconds() (an unsigned 32-bit
 * millisecond count since boot) passed to JS through xsmcSetInteger, i.e. as a
 * signed 32-bit integer that wraps after 2^32 ms (49.7 days) and reads negative in
 * its second half. Here it is performance.now() (monotonic) plus `simTicks.offsetMs`,
 * which a test moves to idle the "device" for minutes or days, or to just before a
 * wrap, without waiting. `Time.set(seconds)` sets the wall clock only (Date.now()
 * in this process is not changed: the simulator reads its own host clock).
 */
import { performance } from 'node:perf_hooks';

/** Test control: added to the tick count (ms). */
export const simTicks = { offsetMs: 0 };

function raw(): number {
  return Math.floor(performance.now()) + simTicks.offsetMs;
}

export default class Time {
  static timezone = 0;
  static dst = 0;
  /** Wall seconds last passed to set() (undefined: never set). */
  static setTo: number | undefined;

  /** Milliseconds since boot, as a signed 32-bit integer (wraps). */
  static get ticks(): number {
    return raw() | 0;
  }

  /** (end - start) as an unsigned 32-bit difference, returned signed, as xs_time_delta does. */
  static delta(start: number, end?: number): number {
    return (((end ?? raw()) >>> 0) - (start >>> 0)) | 0;
  }

  static set(seconds: number): void {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new Error('invalid time');
    Time.setTo = seconds;
  }
}
