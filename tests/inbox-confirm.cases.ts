/**
 * Inbox.confirmMany (src/inbox.ts): a played message's chunks are committed to the
 * seen record with ONE write, in both tiers. A power cut at any storage step of the
 * confirmation leaves all of the message's chunks waiting or none: never part.
 */
import { Inbox, type InboxMessage } from '../src/inbox.js';
import type { AudioCase } from './audio-cases.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { testChunk } from './mqtt-rig.js';
import { chunkKey, chunkKeyCodes } from '../src/envelope.js';
import { World, makePackets, sealAll } from './envelope-world.js';

const TOPIC = 'pp/t/x/in';
const N = 20;

function filled(storage: MemoryStorage): { inbox: Inbox; got: InboxMessage[] } {
  const inbox = new Inbox({ storage });
  const got: InboxMessage[] = [];
  inbox.setConsumer((m) => got.push(m));
  return { inbox, got };
}

export const inboxConfirmCases: AudioCase[] = [
  {
    name: 'issue 13: dedupeKeyCodes (chunkKeyCodes, no string per chunk) gives the key hashes of dedupeKey (chunkKey): stored records and the seen record stay compatible both ways',
    fn: (t) => {
      const w = new World(['mum']);
      const chunks = sealAll(w.phones[0]!.env.begin(), makePackets(40, 3));
      const junk = testChunk(7, 300); // no envelope header: both fall back to the payload digest
      const all = [...chunks, junk];
      const storage = new MemoryStorage();
      const byString = new Inbox({ storage, dedupeKey: chunkKey });
      const keysA: string[] = [];
      byString.setConsumer((m) => keysA.push(m.key));
      for (const c of all) t.is(byString.accept(TOPIC, c), 'STORED');
      const storage2 = new MemoryStorage();
      const byCodes = new Inbox({ storage: storage2, dedupeKeyCodes: chunkKeyCodes });
      const keysB: string[] = [];
      byCodes.setConsumer((m) => keysB.push(m.key));
      for (const c of all) t.is(byCodes.accept(TOPIC, c), 'STORED');
      t.deepEqual(keysB, keysA, 'the same key hashes');
      // records stored by one are duplicates to the other after a restart, and confirmed keys too
      const reborn = new Inbox({ storage, dedupeKeyCodes: chunkKeyCodes });
      for (const c of all) t.is(reborn.accept(TOPIC, c), 'DUPLICATE');
      reborn.setConsumer(() => undefined);
      reborn.confirmMany(reborn.ids());
      const again = new Inbox({ storage, dedupeKey: chunkKey });
      for (const c of all) t.is(again.accept(TOPIC, c), 'DUPLICATE', 'confirmed by the codes inbox, seen by the string one');
      // a dedupeKeyCodes that throws is counted and falls back to the digest
      const counters = { n: 0, inc() { this.n++; } };
      const throwing = new Inbox({ storage: new MemoryStorage(), counters: counters as never, dedupeKeyCodes: () => { throw new Error('x'); } });
      t.is(throwing.accept(TOPIC, chunks[0]!), 'STORED');
      t.is(counters.n >= 1, true);
    },
  },
  {
    name: 'issue 13: lendMessages hands one reused object with each chunk\'s fields (stored now and restored after a restart), each record once; without it every chunk has its own',
    fn: (t) => {
      const storage = new MemoryStorage();
      const lending = new Inbox({ storage, lendMessages: true });
      const seen: { obj: InboxMessage; id: string; first: number; len: number; restored: boolean; key: string }[] = [];
      const take = (m: InboxMessage) => seen.push({ obj: m, id: m.id, first: m.payload[0]!, len: m.payload.length, restored: m.restored, key: m.key });
      lending.setConsumer(take);
      for (let i = 0; i < 4; i++) t.is(lending.accept(TOPIC, testChunk(i, 100 + i)), 'STORED');
      t.is(seen.length, 4);
      t.true(seen.every((x) => x.obj === seen[0]!.obj), 'one object, lent');
      t.deepEqual(seen.map((x) => x.len), [100, 101, 102, 103]);
      t.deepEqual(seen.map((x) => x.id), lending.ids());
      t.true(seen.every((x) => !x.restored));
      t.is(new Set(seen.map((x) => x.key)).size, 4);
      lending.setConsumer(take); // a second consumer: nothing is handed over twice in one start-up
      t.is(seen.length, 4);
      // restart: every stored record once more, restored, through the same kind of lent object
      const again = new Inbox({ storage, lendMessages: true });
      const after: { id: string; len: number; restored: boolean; first: number }[] = [];
      again.setConsumer((m) => after.push({ id: m.id, len: m.payload.length, restored: m.restored, first: m.payload[0]! }));
      t.deepEqual(after.map((x) => x.len), [100, 101, 102, 103]);
      t.deepEqual(after.map((x) => x.first), seen.map((x) => x.first), 'the same payloads');
      t.true(after.every((x) => x.restored));
      // the default: an object per chunk, which the consumer may keep
      const own = new Inbox({ storage: new MemoryStorage() });
      const kept: InboxMessage[] = [];
      own.setConsumer((m) => kept.push(m));
      own.accept(TOPIC, testChunk(1, 50));
      own.accept(TOPIC, testChunk(2, 60));
      t.false(kept[0] === kept[1], 'an object per chunk');
      t.is(kept[0]!.payload.length, 50);
    },
  },
  {
    name: 'confirmMany writes the seen record once for a whole message and removes every chunk',
    fn: (t) => {
      const storage = new MemoryStorage();
      const { inbox, got } = filled(storage);
      for (let i = 0; i < N; i++) t.is(inbox.accept(TOPIC, testChunk(i, 300)), 'STORED');
      const w0 = storage.writes;
      inbox.confirmMany(got.map((m) => m.id));
      t.is(storage.writes - w0, 1, 'one write: ix.seen');
      t.is(storage.removes, N);
      t.is(inbox.count(), 0);
      for (let i = 0; i < N; i++) t.is(inbox.accept(TOPIC, testChunk(i, 300)), 'DUPLICATE');
      const again = filled(storage);
      t.is(again.got.length, 0, 'nothing handed over after a restart');
    },
  },
  {
    name: 'power cut at every storage step of confirmMany: after the restart all chunks wait, or none, never some',
    fn: (t) => {
      for (let k = 0; k <= N + 1; k++) {
        const storage = new MemoryStorage();
        const { inbox, got } = filled(storage);
        for (let i = 0; i < N; i++) inbox.accept(TOPIC, testChunk(i, 300));
        storage.failAfter = k;
        let threw = false;
        try {
          inbox.confirmMany(got.map((m) => m.id));
        } catch {
          threw = true;
        }
        storage.failAfter = -1;
        const after = filled(storage); // the restart
        t.true(after.got.length === 0 || after.got.length === N, `cut at ${k}: ${after.got.length} of ${N} handed over again`);
        t.is(after.got.length === N, k === 0, `cut at ${k}: only a cut before the commit leaves the message waiting`);
        t.is(threw, k === 0, `cut at ${k}: only a failed commit throws`);
        t.is(after.inbox.count(), after.got.length);
      }
    },
  },
  {
    name: 'unknown ids are counted and ignored; an empty list writes nothing',
    fn: (t) => {
      const storage = new MemoryStorage();
      const { inbox, got } = filled(storage);
      inbox.accept(TOPIC, testChunk(1, 300));
      const w0 = storage.writes;
      inbox.confirmMany([]);
      inbox.confirmMany(['ib.999999999999']);
      t.is(storage.writes, w0);
      inbox.confirmMany([got[0]!.id, got[0]!.id, 'ib.999999999998']);
      t.is(storage.writes, w0 + 1);
      t.is(inbox.count(), 0);
    },
  },
];
