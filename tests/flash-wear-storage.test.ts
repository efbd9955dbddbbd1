import test from 'ava';
import { FlashWearStorage, SECTOR_BYTES } from './fakes/flash-wear-storage.js';
import { MemoryStorage } from './fakes/memory-storage.js';

test('every write of a record larger than 16 bytes erases its own sectors; reads and keys erase nothing', (t) => {
  const s = new FlashWearStorage(new MemoryStorage());
  s.write('ob.000000000001', new Uint8Array(1100));
  s.write('ob.000000000002', new Uint8Array(4000)); // the largest record: still one sector
  s.write('x', new Uint8Array(16)); // inline in the metadata
  t.is(s.dataErases, 2);
  s.read('ob.000000000001');
  s.keys('ob.');
  t.is(s.dataErases, 2);
  t.is(s.reads, 1);
  t.deepEqual([...s.writesByPrefix], [['ob', 2], ['x', 1]]);
  t.is(s.bytesWritten, 1100 + 4000 + 16);
  t.true(4000 <= SECTOR_BYTES);
});

test('metadata commits fill a sector and cost one erase each time it is compacted', (t) => {
  const s = new FlashWearStorage(new MemoryStorage());
  for (let i = 0; i < 64; i++) s.remove('k'); // 64 commits of 64 B = 4096 B
  t.is(s.metadataErases, 1);
  t.is(s.erases, 1);
  for (let i = 0; i < 21; i++) s.write('k', new Uint8Array(4)); // 63 commits, inline values
  t.is(s.metadataErases, 1);
  s.write('k', new Uint8Array(4));
  t.is(s.metadataErases, 2);
  s.resetCounts();
  t.is(s.erases, 0);
  t.is(s.writes, 0);
});

test('a failing write is not counted and the error passes through', (t) => {
  const inner = new MemoryStorage();
  const s = new FlashWearStorage(inner);
  inner.failAfter = 0;
  t.throws(() => s.write('a', new Uint8Array(100)));
  t.is(s.writes, 0);
  t.is(s.erases, 0);
});
