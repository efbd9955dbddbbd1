/**
 * LedPort over Moddable's `neopixel` driver: the ATOM Echo's heart LED is one
 * SK6812 RGB pixel on GPIO27 (GRB order), driven by the ESP32 RMT peripheral.
 * Chosen over `pins/pwm`: the ATOM Echo has no plain RGB LED, and one data pin
 * serves any WS2812/SK6812 pixel a plush toy might carry.
 *
 * set(r, g, b): each channel clamped to 0..255 (NaN counts as 0), then scaled
 * by `maxLevel`/255 (the SK6812 at full power is too bright in a child's face
 * and draws ~50 mA); unchanged colours are not resent. close() turns the LED
 * off and frees the RMT channel; safe twice; set() after close() is ignored.
 */
import NeoPixel from 'neopixel';
import type { LedPort } from './ports.js';
import { PortError } from './ports.js';

export interface ModdableLedOptions {
  /** Data GPIO (ATOM Echo: 27). */
  pin: number;
  /** Colour order of the pixel (SK6812 / WS2812: "GRB", the default). */
  order?: string;
  /** Highest channel value sent, 0..255 (default 255). */
  maxLevel?: number;
  /** Receives driver errors. Must not throw. */
  onError?: (err: unknown) => void;
}

function clamp(v: number): number {
  if (!(v > 0)) return 0; // also NaN
  return v >= 255 ? 255 : Math.round(v);
}

export class ModdableLed implements LedPort {
  private pixel: NeoPixel | undefined;
  private readonly scale: number;
  private readonly onError: (err: unknown) => void;
  private last = -1;
  /** Colours actually sent to the pixel. */
  updates = 0;

  constructor(options: ModdableLedOptions) {
    const maxLevel = options.maxLevel ?? 255;
    if (!(maxLevel >= 0 && maxLevel <= 255)) throw new PortError('INVAL', 'maxLevel must be 0..255');
    if (!Number.isInteger(options.pin) || options.pin < 0 || options.pin > 48) throw new PortError('INVAL', 'bad pin');
    this.scale = maxLevel / 255;
    const onError = options.onError ?? (() => {});
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        // onError must not throw
      }
    };
    try {
      this.pixel = new NeoPixel({ pin: options.pin, length: 1, order: options.order ?? 'GRB' });
    } catch {
      throw new PortError('IO', 'cannot open LED');
    }
    this.set(0, 0, 0);
  }

  set(r: number, g: number, b: number): void {
    const px = this.pixel;
    if (!px) return;
    const R = Math.round(clamp(r) * this.scale);
    const G = Math.round(clamp(g) * this.scale);
    const B = Math.round(clamp(b) * this.scale);
    const key = (R << 16) | (G << 8) | B;
    if (key === this.last) return;
    try {
      px.setPixel(0, px.makeRGB(R, G, B));
      px.update();
      this.last = key;
      this.updates++;
    } catch (err) {
      this.onError(err);
    }
  }

  close(): void {
    const px = this.pixel;
    if (!px) return;
    this.set(0, 0, 0);
    this.pixel = undefined;
    try {
      px.close();
    } catch (err) {
      this.onError(err);
    }
  }
}
