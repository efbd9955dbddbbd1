/**
 * Node implementation of Moddable's `pins/audioout` (modules/pins/i2s/audioout.js
 * and audioout.c), the subset PawPost uses, with the driver's rules:
 * - a queue of `audioOut.queueLength` elements per stream (manifest defines;
 *   SDK default 8); enqueue on a full queue throws "queue full";
 * - RawSamples must be a non-relocatable buffer (a SharedArrayBuffer, else
 *   "non-relocatable block required") and are READ AT PLAY TIME, not copied;
 * - Volume (0..256) on an empty queue applies at once, otherwise it is an
 *   element applied when reached; Callback elements call `callback(id)`;
 *   Silence(count) plays zeros; Flush empties the queue;
 * - length(stream) = free queue elements; start()/stop() gate rendering, which
 *   the board drives (board.renderSpeaker / autoRender);
 * - the constructor takes the shared I2S pins (throws while the mic holds them).
 */
import { board, type BoardAudioOut } from './board.js';
import { deviceDefines } from './manifest-config.js';

type Element =
  | { kind: 'raw'; view: Int16Array; pos: number; repeat: number }
  | { kind: 'volume'; value: number }
  | { kind: 'callback'; id: number }
  | { kind: 'silence'; left: number };

const audioOutDefines = (deviceDefines.audioOut ?? {}) as { queueLength?: number };
export const QUEUE_LENGTH: number = audioOutDefines.queueLength ?? 8;

export class Mixer {
  static readonly Samples = 1;
  static readonly Flush = 2;
  static readonly Callback = 3;
  static readonly Volume = 4;
  static readonly RawSamples = 5;
  static readonly Tone = 6;
  static readonly Silence = 7;

  readonly sampleRate: number;
  readonly numChannels: number;
  readonly bitsPerSample: number;
  readonly streams: number;
  protected readonly queues: Element[][] = [];
  protected readonly volumes: number[] = [];

  constructor(options: { sampleRate?: number; numChannels?: number; bitsPerSample?: number; streams?: number } = {}) {
    this.sampleRate = options.sampleRate ?? 16000;
    this.numChannels = options.numChannels ?? 1;
    this.bitsPerSample = options.bitsPerSample ?? 16;
    this.streams = options.streams ?? 1;
    if (this.numChannels !== 1 || this.bitsPerSample !== 16) throw new Error('sim AudioOut: 16-bit mono only');
    if (!(this.streams >= 1 && this.streams <= 4)) throw new RangeError('invalid streams');
    for (let i = 0; i < this.streams; i++) {
      this.queues.push([]);
      this.volumes.push(256);
    }
  }

  enqueue(stream: number, kind: number, a?: unknown, b?: number, c?: number, d?: number): void {
    const q = this.queues[stream];
    if (!q) throw new RangeError('invalid stream');
    if (kind !== Mixer.Flush && q.length === QUEUE_LENGTH) throw new Error('queue full');
    switch (kind) {
      case Mixer.RawSamples: {
        if (!(a instanceof SharedArrayBuffer)) throw new Error('non-relocatable block required');
        const repeat = b === undefined ? 1 : b === Infinity ? -1 : b;
        if (repeat !== -1 && !(repeat > 0)) throw new Error('invalid repeat');
        const total = a.byteLength >> 1;
        const offset = c ?? 0;
        if (offset >= total) throw new Error('buffer too small');
        let count = d ?? -1;
        if (count < 0 || offset + count > total) count = total - offset;
        q.push({ kind: 'raw', view: new Int16Array(a, offset * 2, count), pos: 0, repeat });
        return;
      }
      case Mixer.Volume: {
        const v = Number(a) | 0;
        if (q.length === 0) this.volumes[stream] = v;
        else q.push({ kind: 'volume', value: v });
        return;
      }
      case Mixer.Callback:
        q.push({ kind: 'callback', id: Number(a) | 0 });
        return;
      case Mixer.Silence:
        q.push({ kind: 'silence', left: Number(a) | 0 });
        return;
      case Mixer.Flush:
        q.length = 0;
        return;
      default:
        throw new Error(`sim AudioOut: kind ${kind} not supported`);
    }
  }

  length(stream: number): number {
    const q = this.queues[stream];
    if (!q) throw new RangeError('invalid stream');
    return QUEUE_LENGTH - q.length;
  }

  close(): void {
    for (const q of this.queues) q.length = 0;
  }
}

export default class AudioOut extends Mixer implements BoardAudioOut {
  callback: ((id: number) => void) | undefined;
  private closed = false;

  constructor(options: { sampleRate?: number; numChannels?: number; bitsPerSample?: number; streams?: number } = {}) {
    super(options);
    board.openI2s('speaker');
  }

  start(): void {
    if (this.closed) throw new Error('closed');
    board.setPlaying(this, true);
  }

  stop(): void {
    board.setPlaying(this, false);
  }

  override close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    super.close();
    board.closeI2s('speaker');
  }

  /** Called by the board: mixes `into.length` samples of every stream, consuming the queues. */
  render(into: Int16Array): number {
    for (let s = 0; s < this.streams; s++) {
      const q = this.queues[s]!;
      let i = 0;
      while (i < into.length && q.length) {
        const e = q[0]!;
        if (e.kind === 'volume') {
          this.volumes[s] = e.value;
          q.shift();
        } else if (e.kind === 'callback') {
          q.shift();
          const cb = this.callback;
          if (cb) setImmediate(() => cb.call(this, e.id));
        } else if (e.kind === 'silence') {
          const n = Math.min(e.left, into.length - i);
          i += n;
          e.left -= n;
          if (e.left === 0) q.shift();
        } else {
          const vol = this.volumes[s]!;
          const n = Math.min(e.view.length - e.pos, into.length - i);
          for (let k = 0; k < n; k++) {
            const v = into[i + k]! + ((e.view[e.pos + k]! * vol) >> 8);
            into[i + k] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
          }
          i += n;
          e.pos += n;
          if (e.pos === e.view.length) {
            if (e.repeat === -1 || --e.repeat > 0) e.pos = 0;
            else q.shift();
          }
        }
      }
    }
    return into.length;
  }
}
