/** Outbox and inbox on MemoryStorage: order, limits, corrupt records, seen-ring reload, dedupeKey. */
import test from 'ava';
import { Counters } from '../src/counters.js';
import { Inbox } from '../src/inbox.js';
import { Outbox } from '../src/outbox.js';
import { MemoryStorage } from './fakes/memory-storage.js';

const b = (...x: number[]) => new Uint8Array(x);

test('outbox keeps send order across restarts, answers FULL, removes corrupt records', (t) => {
  const storage = new MemoryStorage();
  const counters = new Counters();
  let o = new Outbox({ storage, counters, maxRecords: 3 });
  t.is(o.add('a/out', b(1)), 'OK');
  t.is(o.add('a/out', b(2)), 'OK');
  o = new Outbox({ storage, counters, maxRecords: 3 });
  t.is(o.add('a/out', b(3)), 'OK');
  t.is(o.add('a/out', b(4)), 'FULL');
  t.deepEqual(o.ids().map((id) => Array.from(o.read(id)!.payload)), [[1], [2], [3]]);
  storage.write(o.ids()[0]!, b(9, 9)); // a corrupted record
  t.is(o.read(o.ids()[0]!), undefined);
  t.is(counters.get('outbox.corrupt'), 1);
  t.is(o.count(), 2);
  t.throws(() => o.add('a/out', new Uint8Array(4000)), { code: 'INVAL' } as never);
});

test('inbox seen ring survives restart and wraps; a custom dedupeKey is used', (t) => {
  const storage = new MemoryStorage();
  const mk = () => new Inbox({ storage, seenCapacity: 4, dedupeKey: (p) => (p[0] === 255 ? undefined : `k${p[0]}`) });
  let ib = mk();
  const handed: number[] = [];
  ib.setConsumer((m) => { handed.push(m.payload[0]!); ib.confirm(m.id); });
  for (let i = 0; i < 6; i++) t.is(ib.accept('x/in', b(i, 1)), 'STORED');
  t.is(ib.accept('x/in', b(5, 2)), 'DUPLICATE', 'same key, different bytes');
  ib = mk();
  ib.setConsumer((m) => handed.push(m.payload[0]!));
  t.is(ib.accept('x/in', b(4, 3)), 'DUPLICATE', 'remembered after restart');
  t.is(ib.accept('x/in', b(0, 3)), 'STORED', 'older than the ring: forgotten (the envelope replay guard catches it)');
  t.is(ib.accept('x/in', b(255, 1)), 'STORED');
  t.is(ib.accept('x/in', b(255, 1)), 'DUPLICATE', 'payload digest when dedupeKey gives undefined');
  t.deepEqual(handed, [0, 1, 2, 3, 4, 5, 0, 255]);
});

test('inbox: FULL at the record limit, corrupt stored records are counted and skipped', (t) => {
  const storage = new MemoryStorage();
  const counters = new Counters();
  let ib = new Inbox({ storage, counters, maxRecords: 2 });
  t.is(ib.accept('x/in', b(1)), 'STORED');
  t.is(ib.accept('x/in', b(2)), 'STORED');
  t.is(ib.accept('x/in', b(3)), 'FULL');
  storage.write('ib.000000000000', b(7));
  storage.write('ix.seen', b(1, 200, 0, 0, 0));
  ib = new Inbox({ storage, counters });
  t.is(ib.count(), 1);
  t.is(counters.get('inbox.corrupt'), 1);
  t.is(counters.get('inbox.seen_corrupt'), 1);
  storage.capacity = storage.used();
  t.is(ib.accept('x/in', b(4)), 'FULL', 'NOSPACE is FULL, never a throw');
});
