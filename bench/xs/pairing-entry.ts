/**
 * XS entry for bench/pairing.bench.ts: one pairing over the fake radio, split so
 * the host can meter the toy's steps alone (each `toy-*` command is only what
 * the toy does for one incoming write; `phone-*` commands are the phone's work,
 * metered separately and not counted as the toy's).
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { PairingRig, NETWORK } from '../../tests/pairing-rig.js';
import { PhonePairing } from '../../phone/phone-pairing.js';
import { CHR_PAIR, CHR_SESSION, hmacSha512 } from '../../src/pairing-protocol.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import type { SimCentral } from '../../sim/ble-sim.js';

let rig: PairingRig;
let central: SimCentral;
let phone: PhonePairing;
let pending: Uint8Array = new Uint8Array(0);

const take = (chr: string): Uint8Array => {
  const v = central.take(chr);
  if (!v) throw new Error(`no notification on ${chr}`);
  if (v[0] === 0x7f) throw new Error(`toy refused: ${v[1]}`);
  return v;
};

onXsCommand('setup', () => {
  rig = new PairingRig(3);
  rig.svc.enterPairingMode();
  central = rig.phone();
  central.connect();
  phone = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  pending = phone.start();
  return { ok: true };
});
onXsCommand('toy-m1', () => {
  central.writeNow(CHR_PAIR, pending);
  return rig.svc.status();
});
onXsCommand('phone-m2', () => {
  pending = phone.handleM2(take(CHR_PAIR));
  return pending.length;
});
onXsCommand('toy-m3', () => {
  central.writeNow(CHR_PAIR, pending);
  return rig.svc.status();
});
onXsCommand('phone-m4', () => {
  phone.handleM4(take(CHR_PAIR));
  pending = phone.seal({ op: 'register', id: 'mum', name: 'Mum' });
  return true;
});
onXsCommand('toy-register', () => {
  central.writeNow(CHR_SESSION, pending);
  return true;
});
onXsCommand('phone-net', () => {
  if (phone.open(take(CHR_SESSION)).status !== 'OK') throw new Error('register refused');
  pending = phone.seal({ op: 'network', settings: NETWORK });
  return true;
});
onXsCommand('toy-network', () => {
  central.writeNow(CHR_SESSION, pending);
  return true;
});
onXsCommand('phone-done', () => {
  if (phone.open(take(CHR_SESSION)).status !== 'OK') throw new Error('network refused');
  pending = phone.seal({ op: 'done' });
  return true;
});
onXsCommand('toy-done', () => {
  central.writeNow(CHR_SESSION, pending);
  return rig.endedResults();
});
onXsCommand('x25519', () => {
  naclCrypto.scalarMult(new Uint8Array(32).fill(5), new Uint8Array(32).fill(9));
  return true;
});
onXsCommand('hmac', () => {
  hmacSha512(naclCrypto, new Uint8Array(16), new Uint8Array(96));
  return true;
});
