/**
 * Node implementation of the Moddable SDK's `socket` module (TCP `Socket`,
 * modules/network/socket/socket.js over lwip/modSocket.c, SDK 8.2) on node:net.
 * TCP clients (`kind` "TCP", the default), and `kind` "UDP" only as an SNTP server
 * stand-in (SimUdpSocket below: a 48-byte request to port 123 is answered with the
 * host's clock); no RAW, no Listener.
 *
 * `new Socket({host | address, port})` starts connecting; then `socket.callback(message, value)`:
 * - `Socket.connected` (1) once connected;
 * - `Socket.readable` (2, n): n bytes are available in the current received segment
 *   (segments are at most `mss` bytes, like lwip pbufs). The next segment is offered
 *   only after this one has been read completely (inside or after the callback);
 * - `Socket.writable` (3, free) after written bytes left the send buffer; `free` is the
 *   free space of the send buffer (lwip tcp_sndbuf);
 * - `Socket.disconnected` (-1) when the peer closed (after every received byte was
 *   offered), `Socket.error` (-2) on a connection error (refused, reset, DNS failure).
 *   After either, nothing more is reported.
 * Every callback is its own later message (setImmediate), as modMessagePostToMachine.
 *
 * `read()` → bytes available in the current segment; `read(ArrayBuffer[, count])`,
 * `read(String[, count])`, `read(Number)` (one byte), `read(null, count)` (skip).
 * Throws Error("nothing to read") when called with a type and nothing is available.
 * `write()` → free space of the send buffer; `write(...items)` (ArrayBuffer, typed
 * array/DataView, string as UTF-8, number as one byte) all-or-nothing: throws
 * Error("can't write all data") when they do not fit, as lwip does. Writes to a socket
 * that was disconnected are dropped silently (the SDK traces "write on closed socket").
 * After close(), read/write throw Error("closed socket") and no callback comes.
 *
 * The receive side stops reading from the OS while more than `rcvWindow` bytes wait
 * unread (lwip's TCP window). Sizes default to the ESP32's lwip configuration.
 * A callback that throws is counted (Socket.simCallbackExceptions) and does not stop
 * the socket, like a trace on the device.
 */
import * as net from 'node:net';

export interface SocketDictionary {
  host?: string;
  address?: string;
  port: number;
  kind?: 'TCP' | 'UDP';
  /** Send buffer bytes (lwip TCP_SND_BUF; ESP32 default 5744). Simulation only. */
  sndbuf?: number;
  /** Largest segment offered at once (ESP32 TCP_MSS 1440). Simulation only. */
  mss?: number;
  /** Unread bytes above which reading from the OS pauses (ESP32 TCP_WND 5760). Simulation only. */
  rcvWindow?: number;
  /** Wrap an already connected node:net socket (used by the simulator's tests). */
  nodeSocket?: net.Socket;
  /** TCP keepalive / Nagle options are accepted and ignored. */
  keepalive?: unknown;
  noDelay?: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class Socket {
  static readonly connected = 1;
  static readonly readable = 2;
  static readonly writable = 3;
  static readonly error = -2;
  static readonly disconnected = -1;
  /** Exceptions thrown by callbacks, process-wide. */
  static simCallbackExceptions = 0;

  /** Set by the application: (message, value) as listed in the file comment. */
  callback: ((message: number, value?: number) => void) | undefined;

  #ns: net.Socket | undefined;
  #closed = false;
  /** No more callbacks (disconnect or error reported, or closed). */
  #done = false;
  #connected = false;
  #peerEnded = false;
  readonly #sndbuf: number = 5744;
  readonly #mss: number = 1440;
  readonly #rcvWindow: number = 5760;
  #inflight = 0;
  readonly #segments: Uint8Array[] = [];
  #queued = 0;
  #cur: Uint8Array | undefined;
  #pos = 0;
  #offerPending = false;
  #failing = false;

  constructor(dict: SocketDictionary) {
    if (!dict || typeof dict !== 'object') throw new Error('invalid dictionary');
    // a UDP socket is a different object (JavaScript lets a constructor return one)
    if (dict.kind === 'UDP') return new SimUdpSocket() as unknown as Socket;
    if (dict.kind !== undefined && dict.kind !== 'TCP') throw new Error('invalid socket kind');
    const host = dict.address ?? dict.host;
    if (!dict.nodeSocket && (typeof host !== 'string' || host === '')) throw new Error('invalid dictionary');
    if (!dict.nodeSocket && !(Number.isInteger(dict.port) && dict.port > 0 && dict.port < 65536)) throw new Error('invalid dictionary');
    this.#sndbuf = dict.sndbuf ?? 5744;
    this.#mss = dict.mss ?? 1440;
    this.#rcvWindow = dict.rcvWindow ?? 5760;
    const ns = dict.nodeSocket ?? net.connect({ host: host!, port: dict.port });
    this.#ns = ns;
    ns.setNoDelay(true);
    if (dict.nodeSocket) {
      this.#connected = true;
      this.#post(() => this.#call(Socket.connected));
    } else {
      ns.once('connect', () => {
        this.#connected = true;
        this.#post(() => this.#call(Socket.connected));
      });
    }
    ns.on('data', (b: Buffer) => this.#onData(b));
    ns.on('end', () => {
      this.#peerEnded = true;
      this.#offer();
    });
    ns.on('error', () => this.#fail());
    ns.on('close', () => {
      // a close without 'end' or 'error' (e.g. destroyed underneath): report once
      if (!this.#peerEnded) this.#fail();
    });
  }

  /** See the file comment. */
  read(): number;
  read(type: typeof ArrayBuffer, limit?: number | string): ArrayBuffer;
  read(type: typeof String, limit?: number | string): string;
  read(type: typeof Number): number;
  read(type: null, limit?: number | string): number;
  read(...args: unknown[]): unknown {
    if (this.#closed) throw new Error('closed socket');
    const cur = this.#cur;
    const avail = cur ? cur.length - this.#pos : 0;
    if (args.length === 0) return avail;
    if (!cur || avail <= 0) throw new Error('nothing to read');
    let n = avail;
    const limit = args[1];
    if (typeof limit === 'number') n = Math.min(n, Math.max(0, limit | 0));
    else if (typeof limit === 'string' && limit.length > 0) {
      const t = cur.indexOf(limit.charCodeAt(0) & 0xff, this.#pos);
      if (t >= 0) n = Math.min(n, t - this.#pos + 1);
    }
    const type = args[0];
    let result: unknown;
    const bytes = cur.subarray(this.#pos, this.#pos + n);
    if (type === null) result = n;
    else if (type === ArrayBuffer) result = bytes.slice().buffer;
    else if (type === String) result = dec.decode(bytes);
    else if (type === Number) {
      n = 1;
      result = cur[this.#pos];
    } else throw new Error('unsupported output type');
    this.#pos += n;
    if (this.#pos >= cur.length) {
      this.#cur = undefined;
      this.#pos = 0;
      this.#offer();
    }
    return result;
  }

  /** See the file comment. Returns the free send space when called with no argument. */
  write(...items: (ArrayBuffer | ArrayBufferView | string | number)[]): number | undefined {
    if (this.#closed) throw new Error('closed socket');
    const ns = this.#ns;
    const open = !this.#done && !this.#failing && ns !== undefined && !ns.destroyed;
    const free = open ? Math.max(0, this.#sndbuf - this.#inflight) : 0;
    if (items.length === 0) return free;
    if (!open) return undefined; // "write on closed socket": dropped
    const parts: Uint8Array[] = [];
    let needed = 0;
    for (const it of items) {
      let b: Uint8Array;
      if (typeof it === 'string') b = enc.encode(it);
      else if (typeof it === 'number') b = Uint8Array.of(it & 0xff);
      else if (it instanceof ArrayBuffer) b = new Uint8Array(it);
      else if (ArrayBuffer.isView(it)) b = new Uint8Array(it.buffer, it.byteOffset, it.byteLength);
      else throw new Error('unsupported type for write');
      parts.push(b);
      needed += b.length;
    }
    if (needed > free) throw new Error("can't write all data");
    const out = Buffer.alloc(needed); // the stack copies (TCP_WRITE_FLAG_COPY)
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    this.#inflight += needed;
    ns!.write(out, () => {
      this.#inflight -= needed;
      this.#post(() => this.#call(Socket.writable, Math.max(0, this.#sndbuf - this.#inflight)));
    });
    return undefined;
  }

  /** Closes at once; no callback follows. Safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#done = true;
    const ns = this.#ns;
    this.#ns = undefined;
    ns?.destroy();
  }

  /** `get("REMOTE_IP")`: the peer's address. */
  get(name: string): string | undefined {
    if (name === 'REMOTE_IP') return this.#ns?.remoteAddress;
    return undefined;
  }

  // ----------------------------------------------------------------

  #post(fn: () => void): void {
    setImmediate(() => {
      if (this.#done) return;
      fn();
    });
  }

  #call(message: number, value?: number): void {
    try {
      if (value === undefined) this.callback?.(message);
      else this.callback?.(message, value);
    } catch {
      Socket.simCallbackExceptions++;
    }
  }

  #fail(): void {
    if (this.#done || this.#failing) return;
    this.#failing = true;
    setImmediate(() => {
      if (this.#done) return;
      this.#done = true;
      this.#call(Socket.error);
    });
  }

  #onData(b: Buffer): void {
    for (let i = 0; i < b.length; i += this.#mss) this.#segments.push(new Uint8Array(b.subarray(i, Math.min(b.length, i + this.#mss))));
    this.#queued += b.length;
    if (this.#queued > this.#rcvWindow) this.#ns?.pause();
    this.#offer();
  }

  /** Offers the next segment (or the disconnect) when the current one is read. */
  #offer(): void {
    if (this.#cur || this.#offerPending || this.#done || this.#failing) return;
    this.#offerPending = true;
    setImmediate(() => {
      this.#offerPending = false;
      if (this.#done || this.#cur) return;
      const seg = this.#segments.shift();
      if (seg) {
        this.#queued -= seg.length;
        if (this.#queued <= this.#rcvWindow && this.#ns?.isPaused()) this.#ns.resume();
        this.#cur = seg;
        this.#pos = 0;
        this.#call(Socket.readable, seg.length);
        return;
      }
      if (this.#peerEnded) {
        this.#done = true;
        this.#call(Socket.disconnected);
      }
    });
  }
}

export default Object.freeze({ Socket });

/** Seconds from 1900 (NTP) to 1970 (Unix). */
const NTP_UNIX_OFFSET = 2208988800;

/**
 * `new Socket({ kind: 'UDP' })` in the simulator: the one UDP peer the firmware has is an
 * SNTP server. `write(address, 123, request)` with a 48-byte request is answered after
 * 5 ms by a 48-byte server-mode reply carrying the host's clock (transmit time, byte 40);
 * the reply is offered as `callback(Socket.readable, 48)` and read with `read(ArrayBuffer)`.
 * Writes to other ports are dropped. After close() nothing more is offered.
 */
export class SimUdpSocket {
  callback: ((message: number, value?: number) => void) | undefined;
  #closed = false;
  #datagram: Uint8Array | undefined;
  /** Requests seen, process-wide (tests). */
  static requests = 0;

  write(address: string, port: number, data: ArrayBuffer | Uint8Array): void {
    if (this.#closed) throw new Error('closed socket');
    if (typeof address !== 'string' || !Number.isInteger(port)) throw new Error('invalid arguments');
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (port !== 123 || bytes.length !== 48) return;
    SimUdpSocket.requests++;
    setTimeout(() => {
      if (this.#closed) return;
      const b = new Uint8Array(48);
      b[0] = 0x24; // LI 0, version 4, mode 4 (server)
      b[1] = 2; // stratum
      new DataView(b.buffer).setUint32(40, Math.floor(Date.now() / 1000) + NTP_UNIX_OFFSET);
      this.#datagram = b;
      try {
        this.callback?.(Socket.readable, 48);
      } catch {
        Socket.simCallbackExceptions++;
      }
    }, 5);
  }

  read(type: unknown): ArrayBuffer {
    if (this.#closed) throw new Error('closed socket');
    const d = this.#datagram;
    if (type !== ArrayBuffer || !d) throw new Error('nothing to read');
    this.#datagram = undefined;
    return d.buffer.slice(0) as ArrayBuffer;
  }

  close(): void {
    if (this.#closed) throw new Error('close on closed socket');
    this.#closed = true;
  }
}
