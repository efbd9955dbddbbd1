/**
 * The outbox's write-behind (src/outbox.ts) and its durability point, in both tiers
 * (tests/outbox-write-behind.test.ts with ava, tests/outbox-write-behind.xs.ts in XS):
 * a chunk is durable at its PUBACK or persistAfterMs after add(), at add() while
 * offline; power cuts at every 10 ms step and at every storage operation lose no
 * durable chunk, and the parent's inbox hands each over exactly once.
 */
import { Inbox } from '../src/inbox.js';
import { seqKey } from '../src/outbox.js';
import type { AudioCase, CaseT } from './audio-cases.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { OUT, ToyRig, hex, testChunk } from './mqtt-rig.js';

const D = 1500; // persistAfterMs, as the app wires it (OUTBOX_PERSIST_AFTER_MS)
const CHUNKS = 5;
const EVERY = 500; // a chunk of 25 packets is 0.5 s of audio
const chunk = (i: number) => testChunk(i, 900);
const key = (i: number) => seqKey('ob.', i);
const obWrites = (s: MemoryStorage, before: Map<string, Uint8Array>) => [...s.data.keys()].filter((k) => k.startsWith('ob.') && !before.has(k)).length;

/** Counts each payload the parent's inbox hands over (its dedupe is the receiver's). */
function parentGot(rig: ToyRig): Map<string, number> {
  const parent = new Inbox({ storage: new MemoryStorage() });
  const got = new Map<string, number>();
  parent.setConsumer((m) => got.set(hex(m.payload), (got.get(hex(m.payload)) ?? 0) + 1));
  for (const p of rig.broker.published) parent.accept(p.topic, p.payload);
  return got;
}

/** An online toy with write-behind, its link up for 100 ms. */
function onlineRig(): ToyRig {
  const rig = new ToyRig({}, { persistAfterMs: D });
  rig.run(100);
  return rig;
}

/** Which chunks are durable now: acknowledged (gone from the outbox) or on flash. */
function durableNow(rig: ToyRig, added: number): boolean[] {
  const queued = new Set(rig.cur.outbox.ids());
  return Array.from({ length: added }, (_, i) => !queued.has(key(i)) || rig.storage.data.has(key(i)));
}

/**
 * A recording: CHUNKS chunks added every EVERY ms while online (the broker silent when
 * `silent`), a power cut at `cutAt` ms (never when < 0), then the broker answers and
 * the toy runs two minutes. Checks the durability point at the cut and delivery after it.
 */
function cutRun(t: CaseT, cutAt: number, silent: boolean): void {
  const rig = onlineRig();
  rig.broker.dropPublishes = silent;
  const addedAt: number[] = [];
  let tNow = 0;
  let cut = false;
  const end = (CHUNKS - 1) * EVERY + D + 200;
  for (; tNow <= end; tNow += 10) {
    if (!cut && tNow % EVERY === 0 && addedAt.length < CHUNKS) {
      t.is(rig.cur.session.send(OUT, chunk(addedAt.length)), 'OK');
      addedAt.push(tNow);
    }
    if (tNow === cutAt) {
      const durable = durableNow(rig, addedAt.length);
      for (let i = 0; i < addedAt.length; i++) {
        if (tNow - addedAt[i]! >= D) t.true(durable[i], `cut at ${cutAt}: chunk ${i} added at ${addedAt[i]} is durable`);
      }
      rig.powerCut();
      cut = true;
      (rig as { durableAtCut?: boolean[] }).durableAtCut = durable;
    }
    rig.clock.advance(10);
  }
  rig.broker.dropPublishes = false;
  rig.run(120000, 100);
  const got = parentGot(rig);
  const durable = (rig as { durableAtCut?: boolean[] }).durableAtCut ?? Array.from({ length: CHUNKS }, () => true);
  let prefix = true;
  for (let i = 0; i < addedAt.length; i++) {
    const n = got.get(hex(chunk(i))) ?? 0;
    t.true(n <= 1, `cut at ${cutAt}: chunk ${i} handed over ${n} times`);
    if (durable[i]) t.is(n, 1, `cut at ${cutAt}: durable chunk ${i} delivered once`);
    if (n === 0) prefix = false;
    else t.true(prefix, `cut at ${cutAt}: chunk ${i} delivered after a lost one (a hole in the message)`);
  }
  t.is(rig.cur.outbox.count(), 0, `cut at ${cutAt}: outbox drained`);
  t.is(rig.cur.outbox.ramCountNow(), 0);
}

export const outboxWriteBehindCases: AudioCase[] = [
  {
    name: 'online with prompt PUBACKs: chunks are published from RAM and never touch the flash',
    fn: (t) => {
      const rig = onlineRig();
      const w0 = rig.storage.writes;
      const r0 = rig.storage.reads;
      for (let i = 0; i < 10; i++) {
        t.is(rig.cur.session.send(OUT, chunk(i)), 'OK');
        rig.run(EVERY);
      }
      rig.run(D * 2);
      t.is(rig.storage.writes - w0, 0, 'no flash write');
      t.is(rig.storage.reads - r0, 0, 'no read-back');
      t.is(rig.counters.get('outbox.acked_in_ram'), 10);
      t.is(rig.counters.get('outbox.persisted'), 0);
      t.is(rig.broker.published.length, 10);
      t.is(rig.cur.outbox.count(), 0);
    },
  },
  {
    name: 'a chunk without a PUBACK is written exactly persistAfterMs after add(), and acked later from flash',
    fn: (t) => {
      const rig = onlineRig();
      rig.broker.dropPublishes = true;
      const before = new Map(rig.storage.data);
      rig.cur.session.send(OUT, chunk(1));
      rig.clock.advance(D - 10);
      t.is(obWrites(rig.storage, before), 0, 'still in RAM just before the deadline');
      t.is(rig.cur.outbox.ramCountNow(), 1);
      rig.clock.advance(10);
      t.is(obWrites(rig.storage, before), 1, 'on flash at the deadline');
      t.is(rig.cur.outbox.ramCountNow(), 0);
      t.deepEqual(rig.cur.outbox.read(key(0))?.payload, chunk(1));
      rig.broker.dropPublishes = false;
      rig.run(120000, 100); // the publish times out, the session reconnects and resends from flash
      t.is(parentGot(rig).get(hex(chunk(1))), 1);
      t.is(rig.cur.outbox.count(), 0);
      t.false(rig.storage.data.has(key(0)), 'removed after its PUBACK');
    },
  },
  {
    name: 'offline, add() writes the chunk at once (durable at add)',
    fn: (t) => {
      const rig = new ToyRig({}, { persistAfterMs: D });
      rig.broker.up = false;
      rig.run(100);
      rig.cur.session.send(OUT, chunk(2));
      t.true(rig.storage.data.has(key(0)));
      t.is(rig.cur.outbox.ramCountNow(), 0);
    },
  },
  {
    name: 'more than maxRamRecords unacknowledged chunks: the oldest goes to flash at once',
    fn: (t) => {
      const rig = new ToyRig({}, { persistAfterMs: D, maxRamRecords: 2 });
      rig.run(100);
      rig.broker.dropPublishes = true;
      for (let i = 0; i < 4; i++) rig.cur.session.send(OUT, chunk(i));
      t.is(rig.cur.outbox.ramCountNow(), 2);
      t.true(rig.storage.data.has(key(0)) && rig.storage.data.has(key(1)));
      t.false(rig.storage.data.has(key(2)) || rig.storage.data.has(key(3)));
    },
  },
  {
    name: 'power cut at every 10 ms step of a recording while the broker answers: durable chunks arrive once, no holes',
    fn: (t) => {
      for (let cut = 0; cut <= (CHUNKS - 1) * EVERY + D + 100; cut += 10) cutRun(t, cut, false);
    },
  },
  {
    name: 'power cut at every 10 ms step while PUBLISHes are lost: every chunk older than persistAfterMs survives, arrives once',
    fn: (t) => {
      for (let cut = 0; cut <= (CHUNKS - 1) * EVERY + D + 100; cut += 10) cutRun(t, cut, true);
    },
  },
  {
    name: 'power cut at every storage operation of write-behind, persisting and removing: nothing durable lost, nothing twice',
    fn: (t) => {
      const run = (k: number) => {
        const rig = onlineRig();
        rig.broker.dropPublishes = true;
        let sent = 0;
        let durable: boolean[] | undefined;
        const powerCut = rig.powerCut.bind(rig);
        rig.powerCut = () => {
          durable ??= durableNow(rig, sent); // what was durable the moment the power went
          return powerCut();
        };
        if (k >= 0) rig.storage.failAfter = k;
        for (let i = 0; i < 3; i++) {
          rig.cur.session.send(OUT, chunk(i));
          sent++;
          rig.run(EVERY);
        }
        rig.run(D + 100);
        durable ??= [true, true, true];
        rig.broker.dropPublishes = false;
        rig.run(120000, 100);
        return { rig, durable };
      };
      const clean = run(-1);
      const ops = clean.rig.storage.writes + clean.rig.storage.removes;
      t.true(ops >= 6, `ops ${ops}`);
      for (let k = 0; k <= ops; k++) {
        const { rig, durable } = run(k);
        const got = parentGot(rig);
        for (let i = 0; i < 3; i++) {
          const n = got.get(hex(chunk(i))) ?? 0;
          t.true(n <= 1, `cut at op ${k}: chunk ${i} handed over ${n} times`);
          if (durable[i]) t.is(n, 1, `cut at op ${k}: durable chunk ${i}`);
        }
        t.is(rig.cur.outbox.count(), 0, `cut at op ${k}: outbox drained`);
      }
    },
  },
];
