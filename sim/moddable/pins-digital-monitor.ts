/**
 * Node implementation of Moddable's `pins/digital/monitor`
 * (modules/pins/digital/monitor): new Monitor({pin, mode, edge}); the board
 * calls the instance's `onChanged` property (this = the monitor) later on the
 * event loop for each configured edge; read() gives the pin level; rises and
 * falls count edges (reading an unconfigured one throws, as on the device).
 * One interrupt handler per GPIO: a second monitor on a pin gets no edges.
 */
import { board, type BoardMonitor } from './board.js';

export default class Monitor implements BoardMonitor {
  static readonly Rising = 1;
  static readonly Falling = 2;
  readonly pin: number;
  readonly edge: number;
  onChanged: (() => void) | undefined;
  private nRises = 0;
  private nFalls = 0;
  private closed = false;
  private readonly attached: boolean;

  constructor(dictionary: { pin: number; mode: number; edge: number; port?: string }) {
    const { pin, edge } = dictionary;
    if (!Number.isInteger(pin) || pin < 0 || pin > 48) throw new RangeError('invalid pin');
    if (!(edge >= 1 && edge <= 3)) throw new RangeError('invalid edge');
    this.pin = pin;
    this.edge = edge;
    this.attached = board.attachMonitor(this);
  }

  deliver(rising: boolean): void {
    if (this.closed || !this.attached) return;
    if (rising) this.nRises++;
    else this.nFalls++;
    if (this.edge & (rising ? Monitor.Rising : Monitor.Falling)) this.onChanged?.call(this);
  }

  read(): number {
    if (this.closed) throw new Error('closed');
    return board.level(this.pin);
  }

  get rises(): number {
    if (!(this.edge & Monitor.Rising)) throw new Error('not configured');
    return this.nRises;
  }

  get falls(): number {
    if (!(this.edge & Monitor.Falling)) throw new Error('not configured');
    return this.nFalls;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.attached) board.detachMonitor(this);
  }
}
