/**
 * SocketPort over node:net (or node:tls when `tls` options are given), for the
 * simulator and integration tests. One connection at a time; after its 'close'
 * event, connect() may be called again.
 *
 * write() copies the bytes into Node's queue and answers 'FULL' (without queueing)
 * while Node's buffer is above its high-water mark; a 'writable' event follows
 * 'drain'. Handler exceptions are caught and counted (`handlerThrew`).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { PortStatus, SocketEvent, SocketPort } from '../hal/ports.js';

export interface NodeSocketOptions {
  /** Connect with TLS using these options (servername, ca, ...). */
  tls?: tls.ConnectionOptions;
  /** Connect timeout in ms (default 10 000). */
  connectTimeoutMs?: number;
}

export class NodeSocket implements SocketPort {
  private sock: net.Socket | undefined;
  private handler: (e: SocketEvent) => void = () => undefined;
  private connected = false;
  handlerThrew = 0;
  /** Bytes written and received, for benches. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(private readonly opts: NodeSocketOptions = {}) {}

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
    const s = this.opts.tls
      ? tls.connect({ host, port, ...this.opts.tls })
      : net.connect({ host, port });
    this.sock = s;
    this.connected = false;
    s.setNoDelay(true);
    s.setTimeout(this.opts.connectTimeoutMs ?? 10000);
    let lastError: string | undefined;
    s.once(this.opts.tls ? 'secureConnect' : 'connect', () => {
      if (this.sock !== s) return;
      this.connected = true;
      s.setTimeout(0);
      this.emit({ kind: 'connect' });
    });
    s.on('timeout', () => {
      if (!this.connected) s.destroy(new Error('connect timeout'));
    });
    s.on('data', (b: Buffer) => {
      if (this.sock !== s) return;
      this.bytesIn += b.length;
      this.emit({ kind: 'data', data: new Uint8Array(b.buffer, b.byteOffset, b.length) });
    });
    s.on('drain', () => {
      if (this.sock === s) this.emit({ kind: 'writable' });
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? 'error';
    });
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = undefined;
      this.connected = false;
      this.emit(lastError ? { kind: 'close', error: lastError } : { kind: 'close' });
    });
    return 'OK';
  }

  write(bytes: Uint8Array): PortStatus {
    const s = this.sock;
    if (!s || !this.connected || s.destroyed) return 'OFF';
    if (s.writableNeedDrain) return 'FULL';
    this.bytesOut += bytes.length;
    s.write(Buffer.from(bytes)); // Buffer.from copies
    return 'OK';
  }

  close(): void {
    this.sock?.destroy();
  }
}
