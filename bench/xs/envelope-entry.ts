/**
 * XS entry for bench/envelope.bench.ts: seals and opens audio with the real
 * envelope code (v2, src/) and the frozen v1 (tests/envelope-v1/) side by side,
 * with tweetnacl inside XS, so the host reads exact compute steps per call.
 * Audio: 50 Opus packets per second (20 ms frames) at the app's chunking
 * (APP_PACKETS_PER_CHUNK = 25 packets a chunk, as src/app.ts wires the envelope); packet sizes either a constant 40 bytes (16 kbps) or a
 * deterministic VBR-like spread of 20..70 bytes (for the bytes-on-the-wire rows).
 * Keys are throwaway (FakeRandom); shared and pair keys are computed in `setup`
 * (the pairing step) and cached, as on the device.
 */
import nacl from 'tweetnacl';
import { onXsCommand } from '../../tests/xs/commands.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import { EnvelopeOpener, EnvelopeSealer, ReplayGuard, pairKey, type OpenerMode } from '../../src/envelope.js';
import * as V1 from '../../tests/envelope-v1/envelope.js';
import { FakeRandom } from '../../tests/fakes/fake-random.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';

/** Packets a chunk as the app seals them (src/app.ts `packetsPerChunk ?? 25`). */
const APP_PACKETS_PER_CHUNK = 25;
const random = new FakeRandom(2026);
const clock = { wallNow: () => Date.UTC(2026, 10, 28) };
const key = () => {
  const k = new Uint8Array(32);
  random.fill(k);
  return k;
};
const toySk = key();
const toyPk = naclCrypto.boxKeyPairFromSecret(toySk).publicKey;
const members = Array.from({ length: 8 }, () => {
  const sk = key();
  return { sk, pk: naclCrypto.boxKeyPairFromSecret(sk).publicKey };
});
let shared: Uint8Array[] = [];
let pair: Uint8Array[] = [];
let sealed: Uint8Array[] = [];
let sealedVersion = 0;
const constant = new Uint8Array(40);
random.fill(constant);
const vbr = Array.from({ length: 50 }, (_, i) => {
  const p = new Uint8Array(20 + ((i * 37) % 51));
  random.fill(p);
  return p;
});

onXsCommand('setup', () => {
  shared = members.map((m) => naclCrypto.boxBefore(m.pk, toySk));
  pair = members.map((m, j) => pairKey(naclCrypto, shared[j]!, toyPk, m.pk));
  return shared.length;
});

/** One X25519 + HSalsa20 (crypto_box_beforenm): the once-per-pairing cost. */
onXsCommand('x25519', () => naclCrypto.boxBefore(members[0]!.pk, toySk).length);
/** One pair key (SHA-512): twice per member and boot in v2. */
onXsCommand('pairkey', () => pairKey(naclCrypto, shared[0]!, toyPk, members[0]!.pk).length);

/** Seals `seconds` of audio to `recipients` members in envelope version v. Keeps the chunks for `open`. */
onXsCommand('seal', (arg) => {
  const { v, recipients, seconds, pad, sizes } = arg as { v: 1 | 2; recipients: number; seconds: number; pad?: number; sizes?: 'vbr' };
  const msg =
    v === 1
      ? new V1.EnvelopeSealer({ crypto: naclCrypto, random, storage: new MemoryStorage(), clock, senderPublicKey: toyPk, packetsPerChunk: APP_PACKETS_PER_CHUNK }).begin(shared.slice(0, recipients))
      : new EnvelopeSealer({ crypto: naclCrypto, random, storage: new MemoryStorage(), clock, senderPublicKey: toyPk, senderSecretKey: toySk, padBlock: pad ?? 0, packetsPerChunk: APP_PACKETS_PER_CHUNK }).begin(pair.slice(0, recipients));
  const out: Uint8Array[] = [];
  let audio = 0;
  for (let i = 0; i < 50 * seconds; i++) {
    const p = sizes === 'vbr' ? vbr[i % 50]! : constant;
    audio += p.length;
    const c = msg.addPacket(p);
    if (c) out.push(c);
  }
  out.push(msg.finish());
  sealed = out;
  sealedVersion = v;
  return { chunks: out.length, bytes: out.reduce((n, c) => n + c.length, 0), audio };
});

/**
 * Opens the last sealed message as the member in wrap slot `slot`. v1: the full
 * open (what v1 did at admission and again at playback). v2: mode 'full',
 * 'admit' (no decryption) or 'play' (open once). `replay`: with a replay guard.
 */
onXsCommand('open', (arg) => {
  const { slot, mode, replay } = arg as { slot: number; mode?: OpenerMode; replay?: boolean };
  const guard = replay ? new ReplayGuard(new MemoryStorage()) : undefined;
  let packets = 0;
  if (sealedVersion === 1) {
    const o = new V1.EnvelopeOpener({ crypto: naclCrypto, keys: { sharedKeyFor: () => shared[slot] }, clock, replay: guard as unknown as V1.ReplayGuard });
    for (const c of sealed) packets += o.push(c).packets.length;
  } else {
    const o = new EnvelopeOpener({ crypto: naclCrypto, keys: { receiveKeyFor: () => pair[slot] }, clock, replay: guard, mode });
    for (const c of sealed) packets += o.push(c).packets.length;
  }
  return packets;
});

/**
 * One decryption pass alone: XSalsa20 (crypto_stream_xor) over every chunk body
 * of the last sealed v1 message, no Poly1305. What v1 did twice on the toy and
 * v2 does once: the figure "v1 minus the double decryption" subtracts.
 */
onXsCommand('decrypt', () => {
  const ll = (nacl as unknown as { lowlevel: { crypto_stream_xor: (c: Uint8Array, cp: number, m: Uint8Array, mp: number, d: number, n: Uint8Array, k: Uint8Array) => number } }).lowlevel;
  const k = new Uint8Array(32);
  const n = new Uint8Array(24);
  let bytes = 0;
  for (let i = 0; i < sealed.length; i++) {
    const body = sealed[i]!.subarray(i === 0 ? 53 + 56 : 52 + 16);
    const out = new Uint8Array(body.length);
    ll.crypto_stream_xor(out, 0, body, 0, body.length, n, k);
    bytes += body.length;
  }
  return bytes;
});
