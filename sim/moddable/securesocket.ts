/**
 * Node stand-in for the Moddable SDK's `securesocket` (modules/crypt/securesocket/
 * securesocket.js, SDK 8.2) for the simulator: the SAME callback translation over a
 * sim `Socket`, but NO TLS: the bytes go over plain TCP to the simulator's embedded
 * broker (sim/embedded-broker.ts), which listens without TLS on loopback. The `secure`
 * options (protocolVersion, trustedCA, ...) are accepted and ignored; nothing here
 * authenticates the server. Use it only against a local broker.
 *
 * Semantics kept from the device:
 * - callback(1) once the "handshake" is over (here: TCP connected);
 * - callback(2, n) with n ≤ 1024 per decrypted chunk, read through `read()` like Socket;
 * - callback(3, free - 128) when the socket reports free space above the 128-byte TLS
 *   overhead estimate; `write()` with no argument answers free - 128 (0 below 128);
 * - on disconnect (-1) or error (-2) the callback gets the code, then the secure socket
 *   closes itself;
 * - an exception thrown by the callback closes the socket with callback(-2), as the
 *   SDK's try/catch around its message handler does.
 */
import { Socket, type SocketDictionary } from './socket.js';

const TLS_OVERHEAD = 128;
const MAX_RECORD_CHUNK = 1024;

export interface SecureSocketDictionary extends SocketDictionary {
  /** TLS options for the device; ignored in the simulator. */
  secure?: Record<string, unknown>;
  /** An existing sim Socket to run over. */
  sock?: Socket;
}

export default class SecureSocket {
  callback: ((message: number, value?: number) => void) | undefined;
  #sock: Socket | undefined;
  #closing: number | boolean = false;
  #data: Uint8Array | undefined;
  #pos = 0;

  constructor(dict: SecureSocketDictionary) {
    const sock = dict.sock ?? new Socket(dict);
    this.#sock = sock;
    sock.callback = (message: number, value?: number) => {
      if (this.#closing) return;
      try {
        switch (message) {
          case Socket.connected:
            this.callback?.(Socket.connected);
            break;
          case Socket.readable: {
            // deliver what the socket has in chunks of at most 1024 bytes (TLS records)
            let n = value ?? 0;
            while (n > 0 && !this.#closing) {
              const s = this.#sock!;
              const buf = new Uint8Array(s.read(ArrayBuffer, n));
              for (let o = 0; o < buf.length && !this.#closing; o += MAX_RECORD_CHUNK) {
                this.#data = buf.subarray(o, Math.min(buf.length, o + MAX_RECORD_CHUNK));
                this.#pos = 0;
                this.callback?.(Socket.readable, this.#data.length);
              }
              this.#data = undefined;
              if (this.#closing) return;
              n = s.read();
            }
            break;
          }
          case Socket.writable:
            if ((value ?? 0) > TLS_OVERHEAD) this.callback?.(Socket.writable, (value ?? 0) - TLS_OVERHEAD);
            break;
          default:
            this.#closing = message;
            break;
        }
      } catch {
        this.#closing = Socket.error;
      }
      if (typeof this.#closing === 'number') {
        const code = this.#closing;
        try {
          this.callback?.(code);
        } catch {
          Socket.simCallbackExceptions++;
        }
        this.close();
      }
    };
  }

  /** Like Socket.read over the current decrypted chunk; returns 0 with no argument when nothing is left. */
  read(type?: unknown, limit?: number | string): unknown {
    const d = this.#data;
    const avail = d ? d.length - this.#pos : 0;
    if (type === undefined) return avail;
    if (!d || avail <= 0) return undefined;
    let n = avail;
    if (typeof limit === 'number') n = Math.min(n, Math.max(0, limit | 0));
    else if (typeof limit === 'string' && limit.length > 0) {
      const t = d.indexOf(limit.charCodeAt(0) & 0xff, this.#pos);
      if (t >= 0) n = Math.min(n, t - this.#pos + 1);
    }
    const bytes = d.subarray(this.#pos, this.#pos + n);
    let result: unknown;
    if (type === null) result = n;
    else if (type === ArrayBuffer) result = bytes.slice().buffer;
    else if (type === String) result = new TextDecoder().decode(bytes);
    else if (type === Number) {
      n = 1;
      result = d[this.#pos];
    } else throw new Error('unsupported output type');
    this.#pos += n;
    return result;
  }

  /** Free space minus the TLS overhead estimate with no argument; else writes all items (throws when they do not fit). */
  write(...items: (ArrayBuffer | ArrayBufferView | string | number)[]): number | undefined {
    const s = this.#sock;
    const raw = s ? (s.write() ?? 0) : 0;
    const available = raw < TLS_OVERHEAD ? 0 : raw - TLS_OVERHEAD;
    if (items.length === 0) return available;
    if (!s) throw new Error('closed socket');
    let needed = 0;
    for (const it of items) needed += typeof it === 'number' ? 1 : typeof it === 'string' ? new TextEncoder().encode(it).length : it.byteLength;
    if (needed > available) throw new Error("can't write all data");
    s.write(...items);
    return undefined;
  }

  /** Safe twice; no callback follows. */
  close(): void {
    this.#closing = this.#closing || true;
    this.#sock?.close();
    this.#sock = undefined;
    this.#data = undefined;
  }
}

export { SecureSocket };
