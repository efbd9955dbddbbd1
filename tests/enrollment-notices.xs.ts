// The toy's side of phone enrollment (src/enrollment-notices.ts, wired in src/app.ts):
// a paired phone is announced to the relay by a sealed grant on the toy's ctl topic,
// the counter survives a factory reset, and without the relay key nothing is sent.
import { test } from './xs/harness.js';
import { AppRig, Phone } from './app-rig.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { openNotice } from '../src/enrollment-grant.js';
import { EnrollmentNotices, NOTICE_SEQ_KEY } from '../src/enrollment-notices.js';
import { factoryReset } from '../src/factory-reset.js';
import { Counters } from '../src/counters.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { FakeRandom } from './fakes/fake-random.js';

const RELAY_SECRET = new Uint8Array(32).fill(0x2a);
const relay = naclCrypto.boxKeyPairFromSecret(RELAY_SECRET);

async function pairWithRelayKey(withKey: boolean): Promise<{ rig: AppRig; phone: Phone }> {
  const rig = new AppRig({ boot: false });
  if (withKey) rig.nvs.write('relay_pk', relay.publicKey);
  rig.boot();
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const phone = new Phone(rig, 1);
  await phone.pair('Mum');
  rig.clock.advance(2000);
  return { rig, phone };
}

test('pairing a phone sends the relay a sealed grant for it on the toy\'s ctl topic', async (t) => {
  const { rig, phone } = await pairWithRelayKey(true);
  const ctl = rig.broker.published.filter((p) => p.topic === `pp/t/${rig.toyId}/ctl`);
  t.is(ctl.length, 1, 'one notice');
  const toyPublic = rig.app.identity!.publicKey;
  const n = openNotice(naclCrypto, ctl[0]!.payload, naclCrypto.boxBefore(toyPublic, RELAY_SECRET));
  t.is(n.kind, 'grant');
  t.is(n.toyId, rig.toyId);
  t.deepEqual(n.phonePublicKey, naclCrypto.boxKeyPairFromSecret(phone.secretKey).publicKey);
  t.is(n.seq, 1);
  t.is(rig.app.counters.get('enroll.grant'), 1);
});

test('without the relay key in the factory data no notice is sent', async (t) => {
  const { rig } = await pairWithRelayKey(false);
  t.is(rig.broker.published.filter((p) => p.topic.endsWith('/ctl')).length, 0);
  t.is(rig.app.roster!.size, 1);
});

test('notice numbers keep rising across a factory reset; revokes carry the phone key; a storage fault is counted, not thrown', (t) => {
  const storage = new MemoryStorage();
  const counters = new Counters();
  const sent: Uint8Array[] = [];
  const toy = naclCrypto.boxKeyPairFromSecret(new Uint8Array(32).fill(9));
  const make = () => new EnrollmentNotices({ crypto: naclCrypto, random: new FakeRandom(3), storage, toyId: '0123456789abcdef0123456789abcdef', toySecretKey: toy.secretKey, relayPublicKey: relay.publicKey, send: (n) => (sent.push(n), 'OK'), counters });
  const phoneKey = naclCrypto.boxKeyPairFromSecret(new Uint8Array(32).fill(5)).publicKey;
  t.true(make().notify('grant', phoneKey));
  factoryReset(storage);
  t.true(storage.read(NOTICE_SEQ_KEY) !== undefined, 'the counter is kept by a reset');
  t.true(make().notify('revoke', phoneKey));
  const k = naclCrypto.boxBefore(toy.publicKey, RELAY_SECRET);
  const a = openNotice(naclCrypto, sent[0]!, k);
  const b = openNotice(naclCrypto, sent[1]!, k);
  t.deepEqual([a.kind, a.seq, b.kind, b.seq], ['grant', 1, 'revoke', 2]);
  storage.write(NOTICE_SEQ_KEY, Uint8Array.of(255, 255, 255, 255));
  t.false(make().notify('grant', phoneKey), 'an exhausted counter is refused');
  t.is(counters.get('enroll.notice_failed'), 1);
});
