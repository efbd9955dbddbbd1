/**
 * SocketPort on the device: Moddable `socket` (TCP) or `securesocket` (TLS 1.2, the
 * default on the device: the relay is reached only over TLS). One connection at a
 * time; after its 'close' event connect() may be called again.
 *
 * Moddable socket callbacks: 1 connected, 2 data received (value = bytes available),
 * 3 data sent (value = bytes free in the send buffer), -1 disconnected, -2 error.
 * write() with no argument answers the free space of the send buffer.
 *
 * Back-pressure: when a write does not fit the free space, the bytes are copied into
 * one pending buffer (owned by the adapter, up to `maxPendingBytes`) and written as
 * space frees; while it is not empty, write() answers 'FULL' and a 'writable' event
 * follows when it has drained. So a 3 KB publish never deadlocks on a smaller socket
 * buffer. The triple-slash references pull in the Moddable typings this file uses
 * (the firmware tsconfig does not load all of them). Exceptions from the Moddable module become a 'close' event with an error;
 * the handler is never called re-entrantly from connect().
 */
import Timer from 'timer';
import { Socket } from 'socket';
import SecureSocket from 'securesocket';
import type { PortStatus, SocketEvent, SocketPort } from './ports.js';

export interface ModdableSocketOptions {
  /** TLS (default true). Plain TCP is for a lab broker only. */
  tls?: boolean;
  /** Options passed as `secure` to SecureSocket (e.g. { protocolVersion: 0x303, trustedCA }). */
  secure?: Record<string, unknown>;
  /** Largest write the adapter will hold while the socket is full. Default 4608. */
  maxPendingBytes?: number;
}

interface RawSocket {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
  write(...data: ArrayBuffer[]): number | void;
  close(): void;
}

const MSG_ERROR = -2;
const MSG_DISCONNECT = -1;
const MSG_CONNECT = 1;
const MSG_DATA = 2;
const MSG_SENT = 3;

export class ModdableSocket implements SocketPort {
  private sock: RawSocket | undefined;
  private connected = false;
  private handler: (e: SocketEvent) => void = () => undefined;
  private readonly pending: Uint8Array;
  private pendingStart = 0;
  private pendingEnd = 0;
  private wantWritable = false;
  /** Handler exceptions swallowed (a handler must not throw). */
  handlerThrew = 0;

  constructor(private readonly opts: ModdableSocketOptions = {}) {
    this.pending = new Uint8Array(opts.maxPendingBytes ?? 4608);
  }

  onEvent(handler: (e: SocketEvent) => void): void {
    this.handler = handler;
  }

  private emit(e: SocketEvent): void {
    try {
      this.handler(e);
    } catch {
      this.handlerThrew++;
    }
  }

  connect(host: string, port: number): PortStatus {
    if (this.sock) return 'BUSY';
    let s: RawSocket;
    try {
      s = (this.opts.tls ?? true)
        ? (new SecureSocket({ host, port, secure: { protocolVersion: 0x303, ...(this.opts.secure ?? {}) } }) as unknown as RawSocket)
        : (new Socket({ host, port }) as unknown as RawSocket);
    } catch {
      // report asynchronously, like every other outcome
      Timer.set(() => this.emit({ kind: 'close', error: 'connect failed' }), 0);
      return 'OK';
    }
    this.sock = s;
    this.connected = false;
    this.pendingStart = this.pendingEnd = 0;
    s.callback = (message: number, value?: number) => {
      if (this.sock !== s) return;
      try {
        this.onMessage(s, message, value ?? 0);
      } catch {
        this.finish(s, 'socket error');
      }
    };
    return 'OK';
  }

  private onMessage(s: RawSocket, message: number, value: number): void {
    switch (message) {
      case MSG_CONNECT:
        this.connected = true;
        this.emit({ kind: 'connect' });
        return;
      case MSG_DATA: {
        if (value <= 0) return;
        const buf = s.read(ArrayBuffer, value);
        this.emit({ kind: 'data', data: new Uint8Array(buf) });
        return;
      }
      case MSG_SENT:
        this.drain(s, value);
        return;
      case MSG_DISCONNECT:
        this.finish(s, undefined);
        return;
      case MSG_ERROR:
        this.finish(s, 'socket error');
        return;
      default:
        return;
    }
  }

  private free(s: RawSocket): number {
    const n = s.write();
    return typeof n === 'number' ? n : 0;
  }

  private drain(s: RawSocket, freeHint: number): void {
    if (this.pendingEnd > this.pendingStart) {
      const free = Math.max(freeHint, this.free(s));
      const n = Math.min(free, this.pendingEnd - this.pendingStart);
      if (n > 0) {
        s.write((this.pending.buffer as ArrayBuffer).slice(this.pendingStart, this.pendingStart + n));
        this.pendingStart += n;
      }
      if (this.pendingStart < this.pendingEnd) return;
      this.pendingStart = this.pendingEnd = 0;
    }
    if (this.wantWritable) {
      this.wantWritable = false;
      this.emit({ kind: 'writable' });
    }
  }

  write(bytes: Uint8Array): PortStatus {
    const s = this.sock;
    if (!s || !this.connected) return 'OFF';
    if (this.pendingEnd > this.pendingStart) {
      this.wantWritable = true;
      return 'FULL';
    }
    try {
      const free = this.free(s);
      const now = Math.min(free, bytes.length);
      const rest = bytes.length - now;
      if (rest > this.pending.length) {
        // nothing written: the caller keeps the bytes and waits for 'writable'
        this.wantWritable = true;
        return 'FULL';
      }
      if (now > 0) s.write((bytes.buffer as ArrayBuffer).slice(bytes.byteOffset, bytes.byteOffset + now));
      if (rest > 0) {
        this.pending.set(bytes.subarray(now), 0);
        this.pendingStart = 0;
        this.pendingEnd = rest;
      }
      return 'OK';
    } catch {
      this.finish(s, 'write failed');
      return 'OFF';
    }
  }

  private finish(s: RawSocket, error: string | undefined): void {
    if (this.sock !== s) return;
    this.sock = undefined;
    this.connected = false;
    this.pendingStart = this.pendingEnd = 0;
    try {
      s.close();
    } catch {
      // already closed
    }
    this.emit(error ? { kind: 'close', error } : { kind: 'close' });
  }

  close(): void {
    const s = this.sock;
    if (!s) return;
    this.finish(s, undefined);
  }
}
