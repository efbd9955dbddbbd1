/**
 * XS entry for bench/native-crypto.bench.ts: the toy's envelope and pairing
 * paths with the CryptoPort tweetnacl inside XS ('js'), the device's
 * hal/moddable-crypto.ts over libsodium ('native'; only in the native worker,
 * tools/xs-native/, which defines the global `native`), or the stand-in
 * (bench/xs/host-crypto.ts, 'host': every operation one issueCommand out of XS,
 * for a worker without the C). Same code, same keys, same bytes; only the
 * CryptoPort differs.
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import { EnvelopeOpener, EnvelopeSealer, ReplayGuard, pairKey } from '../../src/envelope.js';
import { FakeRandom } from '../../tests/fakes/fake-random.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';
import { PairingRig, NETWORK } from '../../tests/pairing-rig.js';
import { PhonePairing } from '../../phone/phone-pairing.js';
import { CHR_PAIR, CHR_SESSION } from '../../src/pairing-protocol.js';
import type { CryptoPort } from '../../hal/ports.js';
import type { SimCentral } from '../../sim/ble-sim.js';
import { HostCrypto } from './host-crypto.js';

const host = new HostCrypto();
declare const native: unknown;
/** hal/moddable-crypto.ts, loaded only where the C is linked in (its module calls native() when it loads). */
let libsodium: (CryptoPort & { calls: number }) | undefined;
if (typeof native === 'function') {
  void import('../../hal/moddable-crypto.js').then((m) => {
    libsodium = new m.ModdableCrypto();
  });
}
let crypto: CryptoPort = naclCrypto;
/** Native calls so far by the chosen CryptoPort (0 for tweetnacl). */
const nativeCalls = () => host.calls + (libsodium?.calls ?? 0);
const clock = { wallNow: () => Date.UTC(2026, 10, 28) };
let random = new FakeRandom(2026);
const key = () => {
  const k = new Uint8Array(32);
  random.fill(k);
  return k;
};
let toySk: Uint8Array = new Uint8Array(32);
let toyPk: Uint8Array = new Uint8Array(32);
let member: { sk: Uint8Array; pk: Uint8Array } = { sk: toySk, pk: toyPk };
let toward: Uint8Array[] = []; // K(toy → member): the toy seals with it
let from: Uint8Array[] = []; // K(member → toy): the toy opens with it
let sealedByMember: Uint8Array[] = [];
const packet = new Uint8Array(40);

/** Picks the CryptoPort and rebuilds keys and a message from the member (seeded: the same bytes for both). */
onXsCommand('use', (arg) => {
  const impl = (arg as { impl: string }).impl;
  if (impl === 'native' && !libsodium) throw new Error('no native crypto in this worker');
  crypto = impl === 'native' ? libsodium! : impl === 'host' ? host : naclCrypto;
  random = new FakeRandom(2026);
  toySk = key();
  toyPk = naclCrypto.boxKeyPairFromSecret(toySk).publicKey;
  const sk = key();
  member = { sk, pk: naclCrypto.boxKeyPairFromSecret(sk).publicKey };
  const shared = naclCrypto.boxBefore(member.pk, toySk);
  toward = [pairKey(naclCrypto, shared, toyPk, member.pk)];
  from = [pairKey(naclCrypto, shared, member.pk, toyPk)];
  random.fill(packet);
  return true;
});

/** The member seals `seconds` of audio to the toy (not metered as the toy's work: setup). */
onXsCommand('member-seal', (arg) => {
  const { seconds } = arg as { seconds: number };
  const msg = new EnvelopeSealer({ crypto: naclCrypto, random, storage: new MemoryStorage(), clock, senderPublicKey: member.pk, senderSecretKey: member.sk }).begin(from);
  const out: Uint8Array[] = [];
  for (let i = 0; i < 50 * seconds; i++) {
    const c = msg.addPacket(packet);
    if (c) out.push(c);
  }
  out.push(msg.finish());
  sealedByMember = out;
  return out.length;
});

/** The toy seals `seconds` of audio to its member (the record path's crypto + envelope JavaScript). */
onXsCommand('seal', (arg) => {
  const { seconds } = arg as { seconds: number };
  const before = nativeCalls();
  const msg = new EnvelopeSealer({ crypto, random, storage: new MemoryStorage(), clock, senderPublicKey: toyPk, senderSecretKey: toySk }).begin(toward);
  let chunks = 0;
  for (let i = 0; i < 50 * seconds; i++) if (msg.addPacket(packet)) chunks++;
  msg.finish();
  return { chunks: chunks + 1, nativeCalls: nativeCalls() - before };
});

/** The toy admits ('admit') or plays ('play') the member's message. */
onXsCommand('open', (arg) => {
  const { mode } = arg as { mode: 'admit' | 'play' };
  const before = nativeCalls();
  const o = new EnvelopeOpener({ crypto, keys: { receiveKeyFor: () => from[0] }, clock, replay: mode === 'admit' ? new ReplayGuard(new MemoryStorage()) : undefined, mode });
  let packets = 0;
  for (const c of sealedByMember) packets += o.push(c).packets.length;
  return { packets, nativeCalls: nativeCalls() - before };
});

// ---------------------------------------------------------------- pairing, the toy's side only
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
onXsCommand('pair-setup', () => {
  rig = new PairingRig(3, new MemoryStorage(), crypto);
  rig.svc.enterPairingMode();
  central = rig.phone();
  central.connect();
  phone = new PhonePairing({ crypto: naclCrypto, random: rig.random, setupCode: rig.setupCode, member: rig.phoneKeys(1) });
  pending = phone.start();
  return true;
});
const toyStep = (chr: string) => {
  const before = nativeCalls();
  central.writeNow(chr, pending);
  return nativeCalls() - before;
};
onXsCommand('toy-m1', () => toyStep(CHR_PAIR));
onXsCommand('phone-m2', () => void (pending = phone.handleM2(take(CHR_PAIR))));
onXsCommand('toy-m3', () => toyStep(CHR_PAIR));
onXsCommand('phone-m4', () => {
  phone.handleM4(take(CHR_PAIR));
  pending = phone.seal({ op: 'register', id: 'mum', name: 'Mum' });
});
onXsCommand('toy-register', () => toyStep(CHR_SESSION));
onXsCommand('phone-net', () => {
  if (phone.open(take(CHR_SESSION)).status !== 'OK') throw new Error('register refused');
  pending = phone.seal({ op: 'network', settings: NETWORK });
});
onXsCommand('toy-network', () => toyStep(CHR_SESSION));
onXsCommand('phone-done', () => {
  if (phone.open(take(CHR_SESSION)).status !== 'OK') throw new Error('network refused');
  pending = phone.seal({ op: 'done' });
});
onXsCommand('toy-done', () => toyStep(CHR_SESSION));
onXsCommand('paired', () => rig.roster.size);
