/**
 * XS entry for bench/envelope.bench.ts: seals and opens one second of audio
 * (50 packets of 40 bytes = 16 kbps Opus in 20 ms frames) with the real
 * envelope code and tweetnacl, inside XS, so the host reads exact compute steps
 * per call. Keys are throwaway (FakeRandom); shared keys are computed in
 * `setup` (the pairing step) and cached, as on the device.
 */
import { onXsCommand } from '../../tests/xs/commands.js';
import { naclCrypto } from '../../src/nacl-crypto.js';
import { EnvelopeOpener, EnvelopeSealer, ReplayGuard, type SenderKeys } from '../../src/envelope.js';
import { FakeRandom } from '../../tests/fakes/fake-random.js';
import { MemoryStorage } from '../../tests/fakes/memory-storage.js';

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
let sealed: Uint8Array[] = [];
const packet = new Uint8Array(40);
random.fill(packet);

onXsCommand('setup', () => {
  shared = members.map((m) => naclCrypto.boxBefore(m.pk, toySk));
  return shared.length;
});

/** One X25519 + HSalsa20 (crypto_box_beforenm): the once-per-pairing cost. */
onXsCommand('x25519', () => naclCrypto.boxBefore(members[0]!.pk, toySk).length);

/** Seals `seconds` of audio to `recipients` members (toy → family). Keeps the chunks for `open`. */
onXsCommand('seal', (arg) => {
  const { recipients, seconds } = arg as { recipients: number; seconds: number };
  const sealer = new EnvelopeSealer({ crypto: naclCrypto, random, storage: new MemoryStorage(), clock, senderPublicKey: toyPk });
  const msg = sealer.begin(shared.slice(0, recipients));
  const out: Uint8Array[] = [];
  for (let i = 0; i < 50 * seconds; i++) {
    const c = msg.addPacket(packet);
    if (c) out.push(c);
  }
  out.push(msg.finish());
  sealed = out;
  return { chunks: out.length, bytes: out.reduce((n, c) => n + c.length, 0) };
});

/** Opens the last sealed message as member `slot` would (its wrap is in that slot), with a replay guard. */
onXsCommand('open', (arg) => {
  const { slot } = arg as { slot: number };
  const keys: SenderKeys = { sharedKeyFor: () => shared[slot] };
  const o = new EnvelopeOpener({ crypto: naclCrypto, keys, clock, replay: new ReplayGuard(new MemoryStorage()) });
  let packets = 0;
  for (const c of sealed) packets += o.push(c).packets.length;
  return packets;
});
