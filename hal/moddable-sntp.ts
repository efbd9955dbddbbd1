/**
 * SntpClient: asks one SNTP server for the time over a Moddable UDP `socket`, for
 * hal/moddable-network.ts. It replaces the SDK's `sntp` module for one reason,
 * measured in the device tier: that module closes its socket inside the socket's own
 * readable callback, and the SDK's lin socket (modules/network/socket/lin/modSocket.c)
 * polls select() every 20 ms and posts a "readable" message per poll while the socket
 * is readable. When the JS thread was busy for more than 20 ms, a second message for
 * the same socket is queued before the first is handled; the first closes the socket,
 * which frees its C record, and the second then uses the freed record: the firmware
 * died with SIGSEGV in socketDownUseCount ("xsGetHostDestructor: not a host object")
 * right after `net.clock_set`, depending on timing (tools/device-test.ts, update checks).
 * This client reads the answer in the callback and closes the socket CLOSE_DELAY_MS
 * later, outside any socket callback, when no such message can still be queued
 * (the datagram has been read, so later polls find nothing to read).
 *
 * Protocol (RFC 4330, client mode): a 48-byte request, first byte 0x1B (LI 0,
 * version 3, mode 3); an answer is used only when it is 48 bytes, in server mode (4),
 * not a kiss-o'-death (stratum 0), with a non-zero transmit time; its transmit
 * timestamp's seconds (byte 40, since 1900) less 2,208,988,800 are Unix seconds.
 * Anything else is ignored (counted in `ignored`) and the request is sent again at the
 * next retry. Retries every RETRY_MS, ATTEMPTS requests in all, then an error.
 *
 * `onTime(unixSeconds)` or `onError(reason)` is called once, never both, and never
 * after close(). Callbacks may throw: the client catches and ignores. close() is
 * safe to call twice.
 */
import Timer from 'timer';
import Net from 'net';
import { Socket } from 'socket';

/** Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix). */
export const NTP_UNIX_OFFSET = 2208988800;
export const SNTP_PORT = 123;
const RETRY_MS = 5000;
const ATTEMPTS = 5;
/** How long after the answer the socket is closed (more than two lin socket polls). */
const CLOSE_DELAY_MS = 100;

interface UdpSocket {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  write(ip: string, port: number, data: ArrayBuffer): void;
  close(): void;
}

export interface SntpClientOptions {
  host: string;
  onTime: (unixSeconds: number) => void;
  onError: (reason: string) => void;
}

/** The Unix seconds in an SNTP answer, or 0 when it is not a usable server answer. */
export function sntpAnswerSeconds(b: Uint8Array): number {
  if (b.length !== 48) return 0;
  if ((b[0]! & 7) !== 4) return 0; // not server mode
  if (b[1] === 0) return 0; // kiss-o'-death
  const ntp = ((b[40]! << 24) >>> 0) + (b[41]! << 16) + (b[42]! << 8) + b[43]!;
  if (ntp === 0) return 0;
  return ntp - NTP_UNIX_OFFSET;
}

/** The 48-byte SNTP request. */
export function sntpRequest(): ArrayBuffer {
  const b = new Uint8Array(48);
  b[0] = 0x1b;
  return b.buffer as ArrayBuffer;
}

export class SntpClient {
  /** Answers ignored (wrong size, mode, kiss-o'-death). */
  ignored = 0;
  private sock: UdpSocket | undefined;
  private timer: Timer | undefined;
  private address: string | undefined;
  private left = ATTEMPTS;
  private finished = false;

  constructor(private readonly o: SntpClientOptions) {
    const s = new Socket({ kind: 'UDP' } as never) as unknown as UdpSocket;
    this.sock = s;
    s.callback = (message: number, value?: number) => this.onSocket(s, message, value ?? 0);
    this.timer = Timer.repeat(() => this.retry(), RETRY_MS);
    Net.resolve(o.host, (_name: string, address?: string) => {
      if (this.finished) return;
      if (!address) return this.fail('cannot resolve the SNTP host');
      this.address = address;
      this.send();
    });
  }

  private send(): void {
    const s = this.sock;
    if (!s || !this.address) return;
    this.left--;
    try {
      s.write(this.address, SNTP_PORT, sntpRequest());
    } catch {
      // a failed UDP write is retried by the timer
    }
  }

  private retry(): void {
    if (this.finished) return;
    if (this.left <= 0) return this.fail('no answer from the SNTP server');
    this.send();
  }

  private onSocket(s: UdpSocket, message: number, value: number): void {
    if (this.finished || s !== this.sock || message !== 2 || value <= 0) return;
    let seconds = 0;
    try {
      seconds = sntpAnswerSeconds(new Uint8Array(s.read(ArrayBuffer)));
    } catch {
      seconds = 0;
    }
    if (seconds <= 0) {
      this.ignored++;
      return;
    }
    this.end();
    try {
      this.o.onTime(seconds);
    } catch {
      // the caller's problem; the client is done either way
    }
  }

  private fail(reason: string): void {
    if (this.finished) return;
    this.end();
    try {
      this.o.onError(reason);
    } catch {
      // as above
    }
  }

  /** Stops retrying and closes the socket later, outside any socket callback (see the file comment). */
  private end(): void {
    this.finished = true;
    if (this.timer !== undefined) Timer.clear(this.timer);
    this.timer = undefined;
    const s = this.sock;
    this.sock = undefined;
    if (!s) return;
    s.callback = () => undefined;
    Timer.set(() => {
      try {
        s.close();
      } catch {
        // already closed by the SDK
      }
    }, CLOSE_DELAY_MS);
  }

  /** Gives up without calling back. Safe to call twice. */
  close(): void {
    this.end();
  }
}
