// The durability point of a recording on the whole toy (src/app.ts with its
// write-behind outbox), in XS and in Node: with the broker's PUBACKs lost, a power
// cut 2 s after the paw is released still delivers the whole message once; a cut
// right after the release loses it (it was not durable yet: the point is real).
import { test } from './xs/harness.js';
import { AppRig, pairedRig } from './app-rig.js';
import { Inbox } from '../src/inbox.js';
import { MemoryStorage } from './fakes/memory-storage.js';

/** The distinct chunks the toy published (a receiver's dedupe), and how many the parent's inbox handed over twice. */
function distinct(rig: AppRig): { chunks: Uint8Array[]; twice: number } {
  const inbox = new Inbox({ storage: new MemoryStorage() });
  const chunks: Uint8Array[] = [];
  const seen = new Map<Uint8Array, number>();
  inbox.setConsumer((m) => {
    chunks.push(m.payload);
    seen.set(m.payload, (seen.get(m.payload) ?? 0) + 1);
  });
  for (const c of rig.published()) inbox.accept(rig.topics.out, c);
  return { chunks, twice: [...seen.values()].filter((n) => n > 1).length };
}

/** Records 3 s with every PUBLISH lost, cuts the power `cutMs` after the release, then lets the link work. */
async function cutAfterRelease(cutMs: number) {
  const { rig, phone } = await pairedRig();
  rig.broker.dropPublishes = true;
  rig.holdPaw(3000);
  rig.clock.advance(cutMs);
  rig.boot(); // power cycle: RAM gone, storage kept
  rig.broker.dropPublishes = false;
  rig.clock.advance(130000);
  const d = distinct(rig);
  return { rig, phone, d };
}

test('PUBACKs lost, power cut 1.6 s after the paw is released: the whole message arrives once', async (t) => {
  const { rig, phone, d } = await cutAfterRelease(1600);
  t.is(d.twice, 0);
  t.is(phone.open(d.chunks).messages, 1);
  t.is(rig.app.outbox!.count(), 0);
});

test('PUBACKs lost, power cut 2 s after the paw is released: the whole message arrives once', async (t) => {
  const { phone, d } = await cutAfterRelease(2000);
  t.is(d.twice, 0);
  t.is(phone.open(d.chunks).messages, 1);
});

test('PUBACKs lost, power cut 100 ms after the release: the message was not durable yet and does not arrive whole', async (t) => {
  const { phone, d } = await cutAfterRelease(100);
  t.is(phone.open(d.chunks).messages, 0);
});

test('online with PUBACKs: a recording costs no outbox flash write and no read-back', async (t) => {
  const { rig, phone } = await pairedRig();
  rig.clock.advance(1000);
  const obBefore = rig.data.keys('ob.').length;
  const touched: string[] = [];
  const data = rig.data as unknown as Record<string, (k: string, v?: Uint8Array) => unknown>;
  for (const op of ['read', 'write', 'remove']) {
    const f = data[op]!.bind(rig.data);
    data[op] = (k: string, v?: Uint8Array) => {
      touched.push(`${op} ${k}`);
      return f(k, v);
    };
  }
  rig.holdPaw(5000);
  rig.clock.advance(2000);
  t.is(rig.data.keys('ob.').length, obBefore);
  t.deepEqual(touched, ['read rp.tx', 'write rp.tx'], 'only the send counter: no outbox write, remove or read-back');
  t.is(phone.open(distinct(rig).chunks).messages, 1);
  t.true(rig.app.counters.get('outbox.acked_in_ram') >= 10);
});
