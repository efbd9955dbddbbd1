/**
 * The host functions the firmware binds with XS's native("xs_...") — in Node,
 * a global `native(name)` returning these implementations (installed by
 * sim/moddable-register.ts). Add an entry when hal/native/*.c gains a function.
 */
import { randomFillSync } from 'node:crypto';
import { board } from './board.js';
import { OpusCodecHost } from '../opus-codec-host.js';

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
  xs_opus_encode(h: SimOpus, buffer: ArrayBufferLike, byteOffset: number, samples: number, packet: Uint8Array): number {
    const c = opusOf(h);
    const pcm = simPcm(buffer, byteOffset, samples);
    if (!(packet instanceof Uint8Array)) throw new TypeError('invalid buffer');
    return opusCall('opus_encode', () => c.encode(pcm, packet));
  },
  xs_opus_decode(h: SimOpus, packet: Uint8Array, length: number, buffer: ArrayBufferLike, byteOffset: number, samples: number): number {
    const c = opusOf(h);
    if (!(length >= 1 && length <= 1275)) throw new RangeError('packet length');
    const pcm = simPcm(buffer, byteOffset, samples);
    if (!(packet instanceof Uint8Array)) throw new TypeError('invalid buffer');
    if (length > packet.length) throw new RangeError('packet length exceeds its buffer');
    return opusCall('opus_decode', () => c.decode(packet, length, pcm));
  },
  xs_opus_reset(h: SimOpus): void {
    opusOf(h).reset();
  },
  xs_opus_close(h: SimOpus): void {
    if (!simOpusHandles.has(h)) throw new SyntaxError('C: xsGetHostData: not a host object');
    h.codec?.close();
    h.codec = undefined;
  },
};

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
