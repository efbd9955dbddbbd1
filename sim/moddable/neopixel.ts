/**
 * Node implementation of Moddable's `neopixel` driver
 * (modules/drivers/neopixel): colours are 0xRRGGBB numbers from makeRGB;
 * setPixel/fill change the buffer, update() shows it on the board
 * (board.ledColor(pin), 'led' event). brightness scales like the driver (0..255).
 */
import { board } from './board.js';

export default class NeoPixel {
  private readonly pin: number;
  private readonly colors: number[];
  private closed = false;
  brightness = 255;

  constructor(options: { pin?: number; length?: number; order?: string } = {}) {
    this.pin = options.pin ?? 27;
    const length = options.length ?? 1;
    if (!Number.isInteger(length) || length < 1 || length > 1024) throw new RangeError('invalid length');
    this.colors = new Array<number>(length).fill(0);
    board.pixelDrivers++;
  }

  get length(): number {
    return this.colors.length;
  }

  makeRGB(r: number, g: number, b: number): number {
    const c = (v: number): number => Math.max(0, Math.min(255, v | 0));
    return (c(r) << 16) | (c(g) << 8) | c(b);
  }

  setPixel(index: number, color: number): void {
    this.check();
    if (index >= 0 && index < this.colors.length) this.colors[index] = color & 0xffffff;
  }

  fill(color: number, index = 0, count = this.colors.length - index): void {
    this.check();
    for (let i = index; i < index + count && i < this.colors.length; i++) this.colors[i] = color & 0xffffff;
  }

  getPixel(index: number): number {
    return this.colors[index] ?? 0;
  }

  update(): void {
    this.check();
    const k = this.brightness / 255;
    const scaled = this.colors.map((c) => {
      const r = Math.round(((c >> 16) & 255) * k), g = Math.round(((c >> 8) & 255) * k), b = Math.round((c & 255) * k);
      return (r << 16) | (g << 8) | b;
    });
    board.showPixels(this.pin, scaled);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    board.pixelDrivers--;
  }

  private check(): void {
    if (this.closed) throw new Error('closed');
  }
}
