/**
 * Node implementation of Moddable's `audioin` (modules/pins/audioin): a mic
 * that hears what the board was fed (board.feedMic), silence otherwise.
 * read(samples, buffer?, offset?) fills 16-bit mono samples at `offset`
 * (bytes) of `buffer` (or a new ArrayBuffer) and returns the buffer. Opening
 * it while the speaker holds the shared I2S pins throws, as on the ATOM Echo.
 */
import { board } from './board.js';

export default class AudioIn {
  private closed = false;
  readonly sampleRate: number;
  readonly bitsPerSample = 16;
  readonly numChannels = 1;

  constructor() {
    board.openI2s('mic');
    this.sampleRate = board.micSampleRate;
  }

  read(samples: number, buffer?: ArrayBuffer | SharedArrayBuffer, offset = 0): ArrayBuffer | SharedArrayBuffer {
    if (this.closed) throw new Error('closed');
    if (!Number.isInteger(samples) || samples < 0) throw new RangeError('invalid');
    const buf = buffer ?? new ArrayBuffer(samples * 2);
    if (offset < 0 || offset % 2 || offset + samples * 2 > buf.byteLength) throw new RangeError('invalid');
    board.readMic(new Int16Array(buf, offset, samples));
    return buf;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    board.closeI2s('mic');
  }
}
