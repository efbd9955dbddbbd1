/**
 * The simulated board (an M5Stack ATOM Echo) behind the Node implementations
 * of the Moddable modules in sim/moddable/*: GPIO levels, the SK6812 pixel,
 * the microphone, the I2S speaker, NVS preferences, the LittleFS file system,
 * the hardware RNG and the trace console. One process-wide singleton,
 * `board`, as the hardware is one: the firmware's modules (loaded unchanged
 * through sim/moddable-loader.ts) drive it from one side, the simulator page
 * and the tests drive it from the other (press a button, read the LED, feed
 * the mic, collect the speaker).
 *
 * Events (EventEmitter): 'pin' {pin, level}, 'led' {pin, r, g, b},
 * 'speaker' (Int16Array chunk, 16 kHz mono; a copy), 'trace' (line),
 * 'mic-open' / 'mic-close', 'speaker-open' / 'speaker-close'.
 *
 * What it models of the device (so the adapters meet the same rules):
 * - an ESP32 GPIO has ONE interrupt handler: a second Monitor on a pin gets no
 *   edges (gpio_isr_handler_add fails; counted in `isrConflicts`);
 * - monitor callbacks and timers run later on the event loop, never inside
 *   the call that caused them (like the device's message queue);
 * - the mic and the speaker share the I2S pins (`i2sShared`, default true):
 *   opening one while the other is open throws, as the IDF driver fails;
 * - AudioOut RawSamples reference the caller's SharedArrayBuffer until played
 *   (an adapter that reuses a queued slot is heard doing it);
 * - the file system has a capacity and a power-cut switch (`fs.failAfter`).
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The subset of a sim Monitor the board drives. */
export interface BoardMonitor {
  readonly pin: number;
  readonly edge: number;
  deliver(rising: boolean): void;
}

/** A sim AudioOut as the board renders it. */
export interface BoardAudioOut {
  render(into: Int16Array): number;
}

export interface FsFaults {
  /** When >= 0: that many more mutating operations succeed, then each throws (a power cut). */
  failAfter: number;
  /** Bytes the partition holds (sum of file sizes); writes beyond throw "No space left on device". */
  capacity: number;
}

export class SimBoard extends EventEmitter {
  // ------------------------------------------------------------- network (wifi, sntp, time)
  /** SSID of the last join (the passphrase is never kept). */
  wifiSsid: string | undefined;
  /** Joins started. */
  wifiJoins = 0;
  /** The next N joins fail with `disconnect`. */
  wifiFails = 0;
  /** The next N SNTP requests fail. */
  sntpFails = 0;

  // ------------------------------------------------------------- GPIO
  private readonly levels = new Map<number, number>();
  private readonly monitors = new Map<number, BoardMonitor>();
  /** Monitors that could not get their pin's interrupt (already taken). */
  isrConflicts = 0;

  /** Current level of `pin` (1 when never set: buttons idle high with their pull-ups). */
  level(pin: number): number {
    return this.levels.get(pin) ?? 1;
  }

  /** Drives `pin` to `level`; an edge reaches the pin's monitor later (setImmediate). */
  setLevel(pin: number, level: 0 | 1): void {
    const old = this.level(pin);
    this.levels.set(pin, level);
    if (old === level) return;
    this.emit('pin', { pin, level });
    const m = this.monitors.get(pin);
    if (m) setImmediate(() => m.deliver(level === 1));
  }

  /** Presses an active-low button on `pin` (drives it to 0). */
  press(pin: number): void {
    this.setLevel(pin, 0);
  }

  /** Releases an active-low button on `pin`. */
  release(pin: number): void {
    this.setLevel(pin, 1);
  }

  /** Contact bounce: toggles `pin` `times` times (ending on the opposite level), edges delivered in order. */
  bounce(pin: number, times: number): void {
    for (let i = 0; i < times; i++) this.setLevel(pin, this.level(pin) === 1 ? 0 : 1);
  }

  /** Called by sim Monitor: returns false when the pin's interrupt is already taken. */
  attachMonitor(m: BoardMonitor): boolean {
    if (this.monitors.has(m.pin)) {
      this.isrConflicts++;
      return false;
    }
    this.monitors.set(m.pin, m);
    return true;
  }

  detachMonitor(m: BoardMonitor): void {
    if (this.monitors.get(m.pin) === m) this.monitors.delete(m.pin);
  }

  /** Open monitors (leak checks). */
  monitorCount(): number {
    return this.monitors.size;
  }

  // ------------------------------------------------------------- LED (NeoPixel)
  private readonly pixels = new Map<number, number[]>();
  /** Open NeoPixel drivers. */
  pixelDrivers = 0;

  /** Called by sim NeoPixel.update(): colours are 0xRRGGBB per pixel. */
  showPixels(pin: number, colors: readonly number[]): void {
    this.pixels.set(pin, colors.slice());
    const c = colors[0] ?? 0;
    this.emit('led', { pin, r: (c >> 16) & 255, g: (c >> 8) & 255, b: c & 255 });
  }

  /** The colour pixel 0 on `pin` shows now (black when never updated). */
  ledColor(pin = 27): { r: number; g: number; b: number } {
    const c = this.pixels.get(pin)?.[0] ?? 0;
    return { r: (c >> 16) & 255, g: (c >> 8) & 255, b: c & 255 };
  }

  // ------------------------------------------------------------- I2S (mic + speaker)
  /** Mic and speaker share the I2S pins (ATOM Echo). */
  i2sShared = true;
  micOpen = 0;
  speakerOpen = 0;
  /** Sample rate the mic reports (the manifest defines 16 kHz). */
  micSampleRate = 16000;
  private micQueue: Int16Array[] = [];
  private micOffset = 0;
  /** Samples the mic had to invent (silence) because nothing was fed. */
  micUnderrunSamples = 0;
  /** Samples delivered by the mic. */
  micSamplesRead = 0;

  /** Queues samples the microphone will "hear" (copied). */
  feedMic(samples: Int16Array): void {
    this.micQueue.push(samples.slice());
  }

  /** Samples fed and not yet read. */
  micPending(): number {
    let n = -this.micOffset;
    for (const q of this.micQueue) n += q.length;
    return n;
  }

  /** Called by sim AudioIn.read(): fills `out` from the fed samples, silence after them. */
  readMic(out: Int16Array): void {
    let i = 0;
    while (i < out.length && this.micQueue.length) {
      const head = this.micQueue[0]!;
      const n = Math.min(out.length - i, head.length - this.micOffset);
      out.set(head.subarray(this.micOffset, this.micOffset + n), i);
      i += n;
      this.micOffset += n;
      if (this.micOffset === head.length) {
        this.micQueue.shift();
        this.micOffset = 0;
      }
    }
    if (i < out.length) {
      out.fill(0, i);
      this.micUnderrunSamples += out.length - i;
    }
    this.micSamplesRead += out.length;
  }

  /** Called by sim AudioIn/AudioOut constructors: throws when the shared pins are taken. */
  openI2s(who: 'mic' | 'speaker'): void {
    if (this.i2sShared && (who === 'mic' ? this.speakerOpen : this.micOpen) > 0) {
      throw new Error(`i2s pins busy (${who === 'mic' ? 'speaker' : 'mic'} open)`);
    }
    if (who === 'mic') this.micOpen++;
    else this.speakerOpen++;
    this.emit(`${who}-open`);
  }

  closeI2s(who: 'mic' | 'speaker'): void {
    if (who === 'mic') this.micOpen = Math.max(0, this.micOpen - 1);
    else this.speakerOpen = Math.max(0, this.speakerOpen - 1);
    this.emit(`${who}-close`);
  }

  private playing = new Set<BoardAudioOut>();
  /** Everything the speaker played since the last takeSpeaker(), in order. */
  private played: Int16Array[] = [];
  /** When true, a 20 ms interval renders the speaker in real time (the simulator); tests render by hand. */
  private renderTimer: NodeJS.Timeout | undefined;

  /** Called by sim AudioOut.start()/stop(). */
  setPlaying(out: BoardAudioOut, on: boolean): void {
    if (on) this.playing.add(out);
    else this.playing.delete(out);
  }

  /** Plays `samples` samples of every started AudioOut now; returns the mixed chunk (also emitted and kept). */
  renderSpeaker(samples: number): Int16Array {
    const mix = new Int16Array(samples);
    const part = new Int16Array(samples);
    for (const out of this.playing) {
      part.fill(0);
      out.render(part);
      for (let i = 0; i < samples; i++) {
        const v = mix[i]! + part[i]!;
        mix[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    }
    this.played.push(mix);
    this.emit('speaker', mix);
    return mix;
  }

  /** Returns (and forgets) everything played so far as one buffer. */
  takeSpeaker(): Int16Array {
    let n = 0;
    for (const c of this.played) n += c.length;
    const all = new Int16Array(n);
    let o = 0;
    for (const c of this.played) {
      all.set(c, o);
      o += c.length;
    }
    this.played = [];
    return all;
  }

  /** Starts or stops real-time rendering (20 ms chunks), as the simulator does. */
  autoRender(on: boolean): void {
    if (on && !this.renderTimer) {
      this.renderTimer = setInterval(() => {
        if (this.playing.size) this.renderSpeaker(320);
      }, 20);
      this.renderTimer.unref();
    } else if (!on && this.renderTimer) {
      clearInterval(this.renderTimer);
      this.renderTimer = undefined;
    }
  }

  // ------------------------------------------------------------- NVS preferences
  /** domain → key → value, as the ESP32 NVS holds them. */
  readonly preferences = new Map<string, Map<string, string | number | boolean | ArrayBuffer>>();

  // ------------------------------------------------------------- file system
  private fsDir: string | undefined;
  readonly fs: FsFaults = { failAfter: -1, capacity: 1 << 20 };

  /** Host directory standing for the LittleFS partition (a temp dir unless set). */
  fsRoot(): string {
    if (!this.fsDir) this.fsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-lfs-'));
    return this.fsDir;
  }

  /** Points the partition at `dir` (created if missing), e.g. to keep the toy's files across simulator runs. */
  setFsRoot(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    this.fsDir = dir;
  }

  /** Called by sim File before each mutating operation: applies the power-cut switch. */
  fsTick(): void {
    if (this.fs.failAfter === 0) throw new Error('LFS_ERR: -5');
    if (this.fs.failAfter > 0) this.fs.failAfter--;
  }

  /** Bytes used on the partition. */
  fsUsed(): number {
    let n = 0;
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else n += fs.statSync(p).size;
      }
    };
    walk(this.fsRoot());
    return n;
  }

  // ------------------------------------------------------------- RNG and console
  /** When true, the hardware RNG fails (native xs_pawpost_random throws). */
  rngBroken = false;
  /** Bytes the hardware RNG produced. */
  rngBytes = 0;
  /** Every trace() line, in order. */
  readonly traceLines: string[] = [];
  /** Also print trace() lines on stdout (the simulator sets it). */
  traceToStdout = false;

  trace(line: string): void {
    this.traceLines.push(line);
    if (this.traceToStdout) process.stdout.write(line.endsWith('\n') ? line : line + '\n');
    this.emit('trace', line);
  }

  // ------------------------------------------------------------- timers
  /** Live Moddable timers (leak checks). */
  liveTimers = 0;

  /** Forgets all state except the file system directory (a fresh board for the next test). */
  reset(): void {
    this.wifiSsid = undefined;
    this.wifiJoins = this.wifiFails = this.sntpFails = 0;
    this.levels.clear();
    this.monitors.clear();
    this.isrConflicts = 0;
    this.pixels.clear();
    this.pixelDrivers = 0;
    this.micOpen = this.speakerOpen = 0;
    this.micQueue = [];
    this.micOffset = 0;
    this.micUnderrunSamples = this.micSamplesRead = 0;
    this.playing.clear();
    this.played = [];
    this.autoRender(false);
    this.preferences.clear();
    this.fs.failAfter = -1;
    this.fs.capacity = 1 << 20;
    this.rngBroken = false;
    this.rngBytes = 0;
    this.traceLines.length = 0;
  }
}

/** The board. */
export const board = new SimBoard();
