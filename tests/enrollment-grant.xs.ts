/**
 * src/enrollment-grant.ts in XS (and under Node): a grant made by the toy opens
 * only with that toy's key at the relay; forged, altered, retargeted and truncated
 * notices and requests are typed GrantErrors; the phone's request binds its key.
 */
import { test } from './xs/harness.js';
import nacl from 'tweetnacl';
import { naclCrypto as crypto } from '../src/nacl-crypto.js';
import {
  GrantError,
  NOTICE_BYTES,
  makeEnrollRequest,
  makeNotice,
  openEnrollRequest,
  openNotice,
  peekEnrollRequest,
  peekNotice,
  phoneBrokerUser,
  toHex,
} from '../src/enrollment-grant.js';

function kp(n: number) {
  const s = new Uint8Array(32);
  for (let i = 0; i < 32; i++) s[i] = (n * 37 + i * 11 + 5) & 255;
  return nacl.box.keyPair.fromSecretKey(s);
}
const relay = kp(1);
const toy = kp(2);
const otherToy = kp(3);
const phone = kp(4);
const thief = kp(5);
const TOY_ID = '00112233445566778899aabbccddeeff';
const OTHER_ID = 'ffeeddccbbaa99887766554433221100';
const nonce = (n: number) => new Uint8Array(24).fill(n);
const code = (e: unknown) => (e instanceof GrantError ? e.code : 'other');
const PASSWORD = 'Zk3-9_phone-password-0123456789';

const toyKey = crypto.boxBefore(relay.publicKey, toy.secretKey);
const relayToyKey = crypto.boxBefore(toy.publicKey, relay.secretKey);

function grant(o: { kind?: 'grant' | 'revoke'; toyId?: string; key?: Uint8Array; phonePk?: Uint8Array; seq?: number } = {}) {
  return makeNotice({ crypto, kind: o.kind ?? 'grant', toyId: o.toyId ?? TOY_ID, toyRelayKey: o.key ?? toyKey, phonePublicKey: o.phonePk ?? phone.publicKey, seq: o.seq ?? 7, nonce: nonce(9) });
}

test('a grant made by the toy opens at the relay with the toy\'s public key', (t) => {
  const g = grant({ seq: 0x01020304 });
  t.is(g.length, NOTICE_BYTES);
  t.deepEqual(peekNotice(g), { kind: 'grant', toyId: TOY_ID });
  const n = openNotice(crypto, g, relayToyKey);
  t.is(n.kind, 'grant');
  t.is(n.toyId, TOY_ID);
  t.is(toHex(n.phonePublicKey), toHex(phone.publicKey));
  t.is(n.seq, 0x01020304);
  const r = openNotice(crypto, grant({ kind: 'revoke', seq: 0xffffffff }), relayToyKey);
  t.is(r.kind, 'revoke');
  t.is(r.seq, 0xffffffff);
});

test('forged, retargeted and altered notices are refused with a typed code', (t) => {
  // made with another toy's key but naming this toy: does not authenticate
  const forged = grant({ key: crypto.boxBefore(relay.publicKey, otherToy.secretKey) });
  t.is(code(t.throws(() => openNotice(crypto, forged, relayToyKey))), 'FORGED');
  // another toy's real grant with the clear toy id rewritten to this toy
  const theirs = grant({ toyId: OTHER_ID, key: crypto.boxBefore(relay.publicKey, otherToy.secretKey) });
  const moved = theirs.slice();
  moved.set(peekBytes(TOY_ID), 2);
  t.is(code(t.throws(() => openNotice(crypto, moved, relayToyKey))), 'FORGED');
  // a grant the toy sealed for another toy id (clear and sealed ids differ)
  const inner = grant({ toyId: OTHER_ID });
  const relabelled = inner.slice();
  relabelled.set(peekBytes(TOY_ID), 2);
  t.is(code(t.throws(() => openNotice(crypto, relabelled, relayToyKey))), 'TOY', 'sealed id differs from the clear one');
  // every single flipped bit is refused
  const g = grant();
  let refused = 0;
  for (let i = 0; i < g.length; i++) {
    const x = g.slice();
    x[i]! ^= 1 << (i % 8);
    try {
      openNotice(crypto, x, relayToyKey);
    } catch (e) {
      if (e instanceof GrantError) refused++;
    }
  }
  t.is(refused, g.length, 'every flipped bit is a GrantError');
  t.is(code(t.throws(() => peekNotice(g.subarray(0, 100)))), 'FORMAT');
  t.is(code(t.throws(() => openNotice(crypto, new Uint8Array(NOTICE_BYTES), relayToyKey))), 'FORMAT');
  t.is(code(t.throws(() => grant({ phonePk: new Uint8Array(32) }))), 'WEAK_KEY');
  t.is(code(t.throws(() => grant({ seq: -1 }))), 'FORMAT');
  t.is(code(t.throws(() => grant({ toyId: 'XYZ' }))), 'FORMAT');
});

function peekBytes(hex: string): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return b;
}

test('the enroll request carries the grant and password, sealed by the phone; a thief cannot reuse it', (t) => {
  const g = grant();
  const phoneKey = crypto.boxBefore(relay.publicKey, phone.secretKey);
  const req = makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: phoneKey, grant: g, password: PASSWORD, nonce: nonce(3) });
  const who = peekEnrollRequest(req).phonePublicKey;
  t.is(toHex(who), toHex(phone.publicKey));
  const opened = openEnrollRequest(crypto, req, crypto.boxBefore(who, relay.secretKey));
  t.is(opened.password, PASSWORD);
  t.is(toHex(opened.grant), toHex(g));
  // a thief with the grant but not the phone's key: its request names its own key (and
  // the relay sees WRONG_PHONE), or names the phone's key and does not authenticate
  const thiefKey = crypto.boxBefore(relay.publicKey, thief.secretKey);
  const stolen = makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: thiefKey, grant: g, password: PASSWORD, nonce: nonce(4) });
  t.is(code(t.throws(() => openEnrollRequest(crypto, stolen, crypto.boxBefore(phone.publicKey, relay.secretKey)))), 'FORGED');
  t.is(code(t.throws(() => makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: phoneKey, grant: g, password: 'short', nonce: nonce(5) }))), 'PASSWORD');
  t.is(code(t.throws(() => makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: phoneKey, grant: g, password: 'has a space in it 0123', nonce: nonce(5) }))), 'PASSWORD');
  t.is(code(t.throws(() => peekEnrollRequest(req.subarray(0, 60)))), 'FORMAT');
  t.is(code(t.throws(() => peekEnrollRequest(new Uint8Array(400)))), 'FORMAT');
});

test('the phone\'s broker user is derived from its key: ph- and 32 hex, stable, distinct', (t) => {
  const u = phoneBrokerUser(crypto, phone.publicKey);
  t.true(/^ph-[0-9a-f]{32}$/.test(u), u);
  t.is(phoneBrokerUser(crypto, phone.publicKey), u);
  t.not(phoneBrokerUser(crypto, thief.publicKey), u);
});

test('an enroll request may carry no grant (the toy delivered it itself); any other grant length is refused', (t) => {
  const phoneKey = crypto.boxBefore(relay.publicKey, phone.secretKey);
  const req = makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: phoneKey, grant: new Uint8Array(0), password: PASSWORD, nonce: nonce(6) });
  const opened = openEnrollRequest(crypto, req, crypto.boxBefore(phone.publicKey, relay.secretKey));
  t.is(opened.grant.length, 0);
  t.is(opened.password, PASSWORD);
  t.is(code(t.throws(() => makeEnrollRequest({ crypto, phonePublicKey: phone.publicKey, phoneRelayKey: phoneKey, grant: new Uint8Array(50), password: PASSWORD, nonce: nonce(6) }))), 'FORMAT');
  // a sealed body that claims a 50-byte grant
  const pw = new Uint8Array(PASSWORD.length);
  for (let i = 0; i < pw.length; i++) pw[i] = PASSWORD.charCodeAt(i);
  const body = new Uint8Array(2 + 50 + 1 + pw.length);
  body[1] = 50;
  body[52] = pw.length;
  body.set(pw, 53);
  const box = crypto.secretbox(body, nonce(7), phoneKey);
  const bad = new Uint8Array(57 + box.length);
  bad[0] = 1;
  bad.set(phone.publicKey, 1);
  bad.set(nonce(7), 33);
  bad.set(box, 57);
  t.is(code(t.throws(() => openEnrollRequest(crypto, bad, crypto.boxBefore(phone.publicKey, relay.secretKey)))), 'FORMAT');
});
