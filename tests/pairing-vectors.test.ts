/**
 * The committed pairing vectors (tests/vectors/pairing-v2.json):
 * 1. equal what the toy and phone of this repository produce now;
 * 2. are recomputed from their inputs alone by an independent implementation
 *    written here from docs/PROTOCOL.md on @noble/curves (X25519),
 *    @noble/hashes (SHA-512, HMAC) and @noble/ciphers (XSalsa20-Poly1305, HSalsa20),
 *    sharing no code with src/ except the network-settings record encoder
 *    (which has its own byte-level check below).
 */
import test from 'ava';
import { x25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { hsalsa, secretbox } from '@noble/ciphers/salsa.js';
import vectors from './vectors/pairing-v2.json' with { type: 'json' };
import { fromHex, makePairingVectors, toHex, type PairingVector, type PairingVectors } from './pairing-vectors.cases.js';

const V = vectors as PairingVectors;
const te = new TextEncoder();
const cat = (...p: Uint8Array[]) => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};
const H = (...p: Uint8Array[]) => sha512(cat(...p));
const M = (k: Uint8Array, ...p: Uint8Array[]) => hmac(sha512, k, cat(...p));
function nonce(dir: string, ctr: number): Uint8Array {
  const n = new Uint8Array(24);
  n[0] = dir.charCodeAt(0);
  new DataView(n.buffer).setUint32(20, ctr);
  return n;
}
/** crypto_box_beforenm: HSalsa20(X25519(sk, pk), 16 zero bytes). */
function beforenm(pk: Uint8Array, sk: Uint8Array): Uint8Array {
  const s = x25519.getSharedSecret(sk, pk);
  const words = (b: Uint8Array) => {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    return Uint32Array.from({ length: b.length / 4 }, (_, i) => dv.getUint32(4 * i, true));
  };
  const out = new Uint32Array(8);
  hsalsa(words(te.encode('expand 32-byte k')), words(s), new Uint32Array(4), out);
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  out.forEach((w, i) => dv.setUint32(4 * i, w, true));
  return b;
}
function lstr(s: string): Uint8Array {
  const b = te.encode(s);
  return cat(Uint8Array.of(b.length), b);
}
function frame(key: Uint8Array, dir: string, ctr: number, pt: Uint8Array): Uint8Array {
  const hdr = new Uint8Array(5);
  hdr[0] = 0x10;
  new DataView(hdr.buffer).setUint32(1, ctr);
  return cat(hdr, secretbox(key, nonce(dir, ctr)).seal(pt));
}

/** The whole exchange from the inputs, per docs/PROTOCOL.md. */
function independent(v: PairingVector) {
  const i = v.inputs;
  const toyId = fromHex(i.toyId);
  const S = fromHex(i.setupSecret);
  const toySk = fromHex(i.toyStaticSecret);
  const phoneSk = fromHex(i.phoneStaticSecret);
  const et = fromHex(i.toyEphemeralSecret);
  const ep = fromHex(i.phoneEphemeralSecret);
  const Tp = x25519.getPublicKey(toySk);
  const Pp = x25519.getPublicKey(phoneSk);
  const Ep = x25519.getPublicKey(ep);
  const Et = x25519.getPublicKey(et);
  const m1 = cat(Uint8Array.of(1, 2), Ep);
  const dh = x25519.getSharedSecret(et, Ep);
  const th1 = H(te.encode('PawPost pairing v1'), toyId, Ep, Et);
  const prk = M(S, dh, th1);
  const keys = M(prk, te.encode('keys'), Uint8Array.of(1));
  const conf = M(prk, te.encode('confirm'), Uint8Array.of(2));
  const [t2p, p2t, kct, kcp] = [keys.slice(0, 32), keys.slice(32), conf.slice(0, 32), conf.slice(32)];
  const tagToy = M(kct, te.encode('toy'), th1, Tp).slice(0, 32);
  const m2 = cat(Uint8Array.of(2), Et, secretbox(t2p, nonce('T', 0)).seal(cat(Tp, tagToy)));
  const th2 = H(th1, m2);
  const ss = beforenm(Tp, phoneSk);
  const tagPhone = M(kcp, te.encode('phone'), th2, Pp, ss).slice(0, 32);
  const m3 = cat(Uint8Array.of(3), secretbox(p2t, nonce('P', 0)).seal(cat(Pp, tagPhone)));
  const keyHash = H(te.encode('PawPost toy key v1'), Tp).slice(0, 16);
  const th3 = H(th2, m3);
  const proof = M(ss, te.encode('toy key'), th3).slice(0, 32);
  const m4 = cat(Uint8Array.of(4), secretbox(t2p, nonce('T', 1)).seal(cat(toyId, Uint8Array.of(0), proof)));
  const n = i.network;
  const net = cat(Uint8Array.of(1), lstr(n.ssid), lstr(n.passphrase), lstr(n.brokerHost), Uint8Array.of(n.brokerPort >> 8, n.brokerPort & 255));
  const reqs = [cat(Uint8Array.of(1), lstr(i.memberId), lstr(i.memberName)), cat(Uint8Array.of(2), net), Uint8Array.of(4)];
  const resps = [Uint8Array.of(0x81, 0, 1), Uint8Array.of(0x82, 0), Uint8Array.of(0x84, 0)];
  const session = reqs.map((r, k) => ({ requestFrame: toHex(frame(p2t, 'P', 1 + k, r)), responseFrame: toHex(frame(t2p, 'T', 2 + k, resps[k]!)) }));
  // Wrong secret: the phone derives other keys, so the toy's M2 box does not open.
  const W = fromHex(v.wrongSecret.setupSecret);
  const wKeys = M(M(W, x25519.getSharedSecret(ep, fromHex(v.wrongSecret.m2).slice(1, 33)), H(te.encode('PawPost pairing v1'), toyId, Ep, fromHex(v.wrongSecret.m2).slice(1, 33))), te.encode('keys'), Uint8Array.of(1));
  let wrongOpens = true;
  try {
    secretbox(wKeys.slice(0, 32), nonce('T', 0)).open(fromHex(v.wrongSecret.m2).slice(33));
  } catch {
    wrongOpens = false;
  }
  return {
    toyPublic: toHex(Tp),
    phonePublic: toHex(Pp),
    m1: toHex(m1),
    toyEphemeralPublic: toHex(Et),
    dh: toHex(dh),
    th1: toHex(th1),
    keys: { t2p: toHex(t2p), p2t: toHex(p2t), confirmToy: toHex(kct), confirmPhone: toHex(kcp) },
    tagToy: toHex(tagToy),
    m2: toHex(m2),
    th2: toHex(th2),
    staticShared: toHex(ss),
    tagPhone: toHex(tagPhone),
    m3: toHex(m3),
    toyKeyHash: toHex(keyHash),
    th3: toHex(th3),
    toyKeyProof: toHex(proof),
    m4: toHex(m4),
    session,
    wrongOpens,
  };
}

test('the committed vectors equal what the code produces now (regenerate: npx tsx tools/make-pairing-vectors.ts)', (t) => {
  t.deepEqual(makePairingVectors(), V);
});

test('an independent implementation on @noble/* reproduces every byte from the inputs alone', (t) => {
  t.true(V.vectors.length >= 2);
  for (const v of V.vectors) {
    const r = independent(v);
    const { wrongOpens, session, ...rest } = r;
    for (const [k, val] of Object.entries(rest)) t.deepEqual(val, (v as unknown as Record<string, unknown>)[k], `${v.name}.${k}`);
    t.deepEqual(session, v.session.map((s) => ({ requestFrame: s.requestFrame, responseFrame: s.responseFrame })), `${v.name}.session`);
    t.false(wrongOpens, `${v.name}: M2 must not open under a wrong secret`);
    t.is(v.wrongSecret.phoneError, 'TOY_AUTH');
  }
});

test('the independent check bites: one flipped input bit changes the transcript', (t) => {
  const v = structuredClone(V.vectors[0]!);
  v.inputs.setupSecret = '10' + v.inputs.setupSecret.slice(2);
  const r = independent(v);
  t.is(r.th1, v.th1, 'th1 does not depend on the secret');
  t.not(r.m2, v.m2);
  t.not(r.keys.t2p, v.keys.t2p);
});
