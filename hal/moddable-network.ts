/**
 * NetworkPort over the SDK's `wifi` (station mode; on `lin` the SDK's Wi-Fi
 * stand-in, which reports connected and an address after a second) and SNTP
 * (hal/moddable-sntp.ts over a UDP `socket`, not the SDK's `sntp` module: see
 * there why), which sets the wall clock through `time` before the link is reported
 * up, because TLS checks certificate dates: a toy boots in 1970.
 *
 * Reconnection: after a disconnect (or a join that gets no address within
 * `joinTimeoutMs`) the adapter waits a backoff (1 s doubling to `maxBackoffMs`,
 * with ±25 % jitter from the RandomPort) and joins again, until leave() or
 * close(). Only the SSID length is ever logged; the passphrase never is.
 *
 * Callbacks from the Wi-Fi and SNTP modules never throw: every exception is
 * routed to `onError`.
 */
import WiFi from 'wifi';
import { SntpClient } from './moddable-sntp.js';
import Time from 'time';
import type { ClockPort, LogPort, NetworkPort, PortStatus, RandomPort, TimerHandle } from './ports.js';

export interface ModdableNetworkOptions {
  clock: ClockPort;
  random: RandomPort;
  log: LogPort;
  /** SNTP server host ('' or undefined: the clock is not set by the network). */
  sntpHost?: string;
  /** Give up on one join attempt after this long without an address (ms, default 30 000). */
  joinTimeoutMs?: number;
  /** Longest wait between attempts (ms, default 60 000). */
  maxBackoffMs?: number;
  onError?: (e: unknown) => void;
}

interface WiFiInstance {
  close(): void;
}

export class ModdableNetwork implements NetworkPort {
  private wifi: WiFiInstance | undefined;
  private ssid = '';
  private passphrase = '';
  private up = false;
  private wanted = false;
  private closed = false;
  private backoffMs = 1000;
  private retry: TimerHandle | undefined;
  private joinTimer: TimerHandle | undefined;
  private handler: (up: boolean) => void = () => undefined;
  private sntp: SntpClient | undefined;
  private clockSet = false;
  /** Join attempts, losses and SNTP outcomes (for tests and the log). */
  attempts = 0;
  losses = 0;
  sntpOk = 0;
  sntpFailed = 0;

  constructor(private readonly o: ModdableNetworkOptions) {}

  private error(e: unknown): void {
    try {
      this.o.onError?.(e);
    } catch {
      // onError must not throw
    }
  }

  join(ssid: string, passphrase: string): PortStatus {
    if (this.closed) return 'OFF';
    this.ssid = ssid;
    this.passphrase = passphrase;
    this.wanted = true;
    this.backoffMs = 1000;
    this.attempt();
    return 'OK';
  }

  leave(): void {
    this.wanted = false;
    this.stopWiFi();
    this.setUp(false);
  }

  isUp(): boolean {
    return this.up;
  }

  onState(handler: (up: boolean) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.leave();
    this.closed = true;
  }

  private stopWiFi(): void {
    this.retry?.cancel();
    this.retry = undefined;
    this.joinTimer?.cancel();
    this.joinTimer = undefined;
    const w = this.wifi;
    this.wifi = undefined;
    if (w) {
      try {
        w.close();
      } catch (e) {
        this.error(e);
      }
      try {
        WiFi.disconnect();
      } catch {
        // not connected
      }
    }
  }

  private attempt(): void {
    this.stopWiFi();
    if (!this.wanted || this.closed) return;
    this.attempts++;
    this.o.log.log('info', 'net.joining', { ssidBytes: this.ssid.length, attempt: this.attempts });
    try {
      WiFi.mode = 1; // station
      const dict: Record<string, string> = { ssid: this.ssid };
      if (this.passphrase) dict.password = this.passphrase;
      const w = new WiFi(dict as { ssid: string; password?: string }, (msg: string) => this.onWiFi(w, msg));
      this.wifi = w;
    } catch (e) {
      this.error(e);
      this.scheduleRetry();
      return;
    }
    this.joinTimer = this.o.clock.after(this.o.joinTimeoutMs ?? 30_000, () => {
      this.joinTimer = undefined;
      if (!this.up) {
        this.o.log.log('warn', 'net.join_timeout');
        this.scheduleRetry();
      }
    });
  }

  private onWiFi(w: WiFiInstance, msg: string): void {
    if (this.wifi !== w) return;
    try {
      if (msg === WiFi.gotIP) {
        this.joinTimer?.cancel();
        this.joinTimer = undefined;
        this.backoffMs = 1000;
        // TLS checks certificate dates: report the link up once the clock is set (or SNTP gave up)
        if (!this.setClock(() => this.wifi === w && this.setUp(true))) this.setUp(true);
      } else if (msg === WiFi.disconnected || msg === WiFi.lostIP) {
        if (this.up) this.losses++;
        this.setUp(false);
        this.scheduleRetry();
      }
    } catch (e) {
      this.error(e);
    }
  }

  private scheduleRetry(): void {
    this.stopWiFi();
    if (!this.wanted || this.closed) return;
    const max = this.o.maxBackoffMs ?? 60_000;
    const b = new Uint8Array(1);
    this.o.random.fill(b);
    const wait = Math.round(this.backoffMs * (0.75 + (b[0]! / 255) * 0.5));
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    this.o.log.log('info', 'net.retry', { inMs: wait });
    this.retry = this.o.clock.after(wait, () => {
      this.retry = undefined;
      this.attempt();
    });
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.o.log.log('info', up ? 'net.up' : 'net.down');
    try {
      this.handler(up);
    } catch (e) {
      this.error(e);
    }
  }

  /**
   * Asks SNTP for the time once (until it succeeds); `then` runs when it answered or failed.
   * Returns false (and does not call `then`) when there is nothing to ask.
   */
  private setClock(then: () => void): boolean {
    const host = this.o.sntpHost;
    if (!host || this.clockSet || this.sntp) return false;
    const done = () => {
      try {
        then();
      } catch (e) {
        this.error(e);
      }
    };
    try {
      this.sntp = new SntpClient({
        host,
        onTime: (value) => {
          this.sntp = undefined;
          this.clockSet = true;
          this.sntpOk++;
          try {
            Time.set(value);
          } catch (e) {
            this.error(e);
          }
          this.o.log.log('info', 'net.clock_set', { unix: value });
          done();
        },
        onError: () => {
          this.sntp = undefined;
          this.sntpFailed++;
          this.o.log.log('warn', 'net.clock_failed');
          done();
        },
      });
    } catch (e) {
      this.sntp = undefined;
      this.error(e);
      return false;
    }
    return true;
  }
}
