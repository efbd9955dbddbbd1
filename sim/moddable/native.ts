/**
 * The host functions the firmware binds with XS's native("xs_...") — in Node,
 * a global `native(name)` returning these implementations (installed by
 * sim/moddable-register.ts). Add an entry when hal/native/*.c gains a function.
 */
import { randomFillSync } from 'node:crypto';
import { board } from './board.js';
import { OpusCodecHost } from '../opus-codec-host.js';
import { naclCrypto } from '../../src/nacl-crypto.js';

type HostFunction = (...args: any[]) => unknown;

export const hostFunctions: Record<string, HostFunction> = {
  /** hal/native/pawpost-random.c: fills a buffer from the hardware RNG. */
  xs_pawpost_random(view: ArrayBufferView | ArrayBuffer): void {
    if (board.rngBroken) throw new Error('rng failed');
    const v = view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    randomFillSync(v);
    board.rngBytes += v.length;
  },
  // hal/native/opus-codec.c on @evan/opus (sim/opus-codec-host.ts). Same arguments, range
  // checks (RangeError) and "opus_encode: ..." messages; 20 ms frames only (the C takes any).
  xs_opus_create(sampleRate: number, bitrate: number, complexity: number): SimOpus {
    if (sampleRate !== 16000) throw new Error(`opus_init: sample rate ${sampleRate} (the simulator has 16000 only)`);
    if (complexity < -1 || complexity > 10) throw new RangeError('complexity');
    const h: SimOpus = { codec: new OpusCodecHost({ bitrate, complexity: complexity < 0 ? undefined : (complexity as 0) }) };
    simOpusHandles.add(h);
    return h;
  },
  xs_opus_encode(h: SimOpus, buffer: ArrayBufferLike, byteOffset: number, samples: number, packet: Uint8Array, packetOffset = 0, maxBytes?: number): number {
    const c = opusOf(h);
    const pcm = simPcm(buffer, byteOffset, samples);
    if (!(packet instanceof Uint8Array)) throw new TypeError('invalid buffer');
    if (!(packetOffset >= 0 && packetOffset <= packet.length)) throw new RangeError('packet offset');
    let room = Math.min(1275, packet.length - packetOffset);
    if (maxBytes !== undefined) {
      if (!(maxBytes >= 1 && maxBytes <= room)) throw new RangeError('packet room');
      room = maxBytes;
    }
    return opusCall('opus_encode', () => c.encode(pcm, packet, packetOffset, room));
  },
  xs_opus_decode(h: SimOpus, packet: Uint8Array, length: number, buffer: ArrayBufferLike, byteOffset: number, samples: number, packetOffset = 0): number {
    const c = opusOf(h);
    if (!(length >= 1 && length <= 1275)) throw new RangeError('packet length');
    const pcm = simPcm(buffer, byteOffset, samples);
    if (!(packet instanceof Uint8Array)) throw new TypeError('invalid buffer');
    if (!(packetOffset >= 0) || (packetOffset | 0) !== packetOffset) throw new RangeError('packet offset');
    if (packetOffset + length > packet.length) throw new RangeError('packet length exceeds its buffer');
    return opusCall('opus_decode', () => c.decode(packet, length, pcm, packetOffset));
  },
  xs_opus_reset(h: SimOpus): void {
    opusOf(h).reset();
  },
  xs_opus_close(h: SimOpus): void {
    if (!simOpusHandles.has(h)) throw new SyntaxError('C: xsGetHostData: not a host object');
    h.codec?.close();
    h.codec = undefined;
  },
  // hal/native/pawpost-crypto.c on tweetnacl (src/nacl-crypto.ts, the reference): same arguments,
  // in-place ranges and throws (TypeError for a wrong buffer or size, RangeError for a range).
  xs_pawpost_x25519_base(out: unknown, scalar: unknown): void {
    const o = simFixed(out, 32, true);
    o.set(naclCrypto.boxKeyPairFromSecret(simFixed(scalar, 32).slice()).publicKey);
  },
  xs_pawpost_x25519(out: unknown, scalar: unknown, point: unknown): boolean {
    const o = simFixed(out, 32, true);
    const r = naclCrypto.scalarMult(simFixed(scalar, 32).slice(), simFixed(point, 32).slice());
    o.set(r);
    return r.some((b) => b !== 0);
  },
  xs_pawpost_box_before(out: unknown, theirPublic: unknown, mySecret: unknown): boolean {
    const o = simFixed(out, 32, true);
    const pk = simFixed(theirPublic, 32).slice();
    const sk = simFixed(mySecret, 32).slice();
    o.set(naclCrypto.boxBefore(pk, sk));
    return naclCrypto.scalarMult(sk, pk).some((b) => b !== 0);
  },
  xs_pawpost_secretbox_seal(buf: unknown, offset: unknown, length: unknown, nonce: unknown, key: unknown): void {
    const off = simIndex(offset);
    const len = simIndex(length);
    const box = simRange(buf, off, 16 + len, true);
    const sealed = naclCrypto.secretbox(box.slice(16), simFixed(nonce, 24).slice(), simFixed(key, 32).slice());
    box.set(sealed);
  },
  xs_pawpost_secretbox_open(buf: unknown, offset: unknown, length: unknown, nonce: unknown, key: unknown): boolean {
    const off = simIndex(offset);
    const len = simIndex(length);
    const box = simRange(buf, off, 16 + len, true);
    const pt = naclCrypto.secretboxOpen(box.slice(), simFixed(nonce, 24).slice(), simFixed(key, 32).slice());
    if (!pt) return false;
    box.set(pt, 16);
    return true;
  },
  xs_pawpost_onetimeauth(out: unknown, buf: unknown, offset: unknown, length: unknown, key: unknown): void {
    const off = simIndex(offset);
    const len = simIndex(length);
    const o = simFixed(out, 16, true);
    o.set(naclCrypto.onetimeauth(simRange(buf, off, len).slice(), simFixed(key, 32).slice()));
  },
  xs_pawpost_sha512(out: unknown, buf: unknown, offset: unknown, length: unknown): void {
    const off = simIndex(offset);
    const len = simIndex(length);
    const o = simFixed(out, 64, true);
    o.set(naclCrypto.sha512(simRange(buf, off, len).slice()));
  },
  xs_pawpost_sign_verify(sig: unknown, buf: unknown, offset: unknown, length: unknown, pk: unknown): boolean {
    const off = simIndex(offset);
    const len = simIndex(length);
    const s = simFixed(sig, 64).slice();
    const m = simRange(buf, off, len).slice();
    return naclCrypto.signVerify(m, s, simFixed(pk, 32).slice());
  },
};

/** xsmcGetBuffer*: a byte view of an ArrayBuffer, a Uint8Array or a DataView (else TypeError "invalid buffer"). */
function simBytes(b: unknown): Uint8Array {
  if (b instanceof ArrayBuffer) {
    if ((b as ArrayBuffer & { detached?: boolean }).detached) throw new TypeError('detached buffer');
    return new Uint8Array(b);
  }
  if (b instanceof Uint8Array || b instanceof DataView) {
    if ((b.buffer as ArrayBuffer & { detached?: boolean }).detached) throw new TypeError('detached buffer');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  throw new TypeError('invalid buffer');
}
function simFixed(b: unknown, size: number, _writable = false): Uint8Array {
  const v = simBytes(b);
  if (v.length !== size) throw new TypeError(`must be ${size} bytes`);
  return v;
}
function simIndex(v: unknown): number {
  if (typeof v !== 'number') throw new TypeError('not a number');
  if (!(v >= 0) || v > 0x7fffffff || !Number.isInteger(v)) throw new RangeError('out of range');
  return v;
}
function simRange(b: unknown, offset: number, need: number, _writable = false): Uint8Array {
  const v = simBytes(b);
  if (offset > v.length || need > v.length - offset) throw new RangeError('range outside the buffer');
  return v.subarray(offset, offset + need);
}

/** The sim's host object of xs_opus_create (the C block: encoder + decoder; undefined once closed). */
interface SimOpus {
  codec: OpusCodecHost | undefined;
}
const simOpusHandles = new WeakSet<SimOpus>();
function opusOf(h: SimOpus): OpusCodecHost {
  if (!simOpusHandles.has(h)) throw new SyntaxError('C: xsGetHostData: not a host object');
  if (!h.codec) throw new Error('opus codec closed');
  return h.codec;
}
function simPcm(buffer: ArrayBufferLike, byteOffset: number, samples: number): Int16Array {
  if (!(buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer)) throw new TypeError('invalid buffer');
  if (!(byteOffset >= 0) || byteOffset % 2 !== 0) throw new RangeError('pcm byteOffset');
  if (!(samples > 0)) throw new RangeError('pcm samples');
  if (byteOffset > buffer.byteLength || (buffer.byteLength - byteOffset) / 2 < samples) throw new RangeError('pcm outside its buffer');
  return new Int16Array(buffer, byteOffset, samples);
}
/** Runs a codec call, rethrowing the library's failure as the C does: "opus_decode: <reason>". */
function opusCall(what: string, f: () => number): number {
  try {
    return f();
  } catch (e) {
    const m = e instanceof Error ? e.message.replace(/^opus (en|de)code failed: /, '') : String(e);
    throw new Error(`${what}: ${m}`);
  }
}

/** XS's `native`: throws for a name with no Node implementation, as xsl would fail to link it. */
export function native(name: string): HostFunction {
  const f = hostFunctions[name];
  if (!f) throw new Error(`no Node implementation of host function ${name} (add it to sim/moddable/native.ts)`);
  return f;
}
