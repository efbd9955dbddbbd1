import { test } from './xs/harness.js';
import { isStorageKey } from '../hal/ports.js';
import { MemoryStorage } from './fakes/memory-storage.js';

// The same answers as the RegExp it replaced (one RegExp with the length bound: hal/ports.ts).
const RE = /^[A-Za-z0-9._-]{1,15}$/;

test('storage keys: 1..15 of [A-Za-z0-9._-], one check shared by every storage', (t) => {
  for (const k of ['a', 'ib.000000000001', 'rp.rx', 'ix.seen', 'A-Z_a.z-0_9', 'x'.repeat(15), '-', '.', '_']) {
    t.true(isStorageKey(k), k);
  }
  for (const k of ['', 'x'.repeat(16), 'bad/key', 'no way', '~temp', 'a:b', 'caf\u00e9', 'ab\u0000', 'a\nb', '[', '`', '{', '@', '/', ':']) {
    t.false(isStorageKey(k), JSON.stringify(k));
  }
  for (const v of [undefined, null, 7, {}, ['a']]) t.false(isStorageKey(v), String(v));
  // every character code 0..255 alone, against the RegExp
  for (let c = 0; c < 256; c++) {
    const k = String.fromCharCode(c);
    if (isStorageKey(k) !== RE.test(k)) t.fail(`code ${c}`);
  }
  t.pass();
});

test('the storage fake refuses a bad key with INVAL before it touches a value', (t) => {
  const s = new MemoryStorage();
  for (const k of ['', 'x'.repeat(16), 'a/b']) {
    const e = t.throws(() => s.write(k, Uint8Array.of(1))) as { code?: string } | undefined;
    t.is(e?.code, 'INVAL');
  }
  t.is(s.writes, 0);
});
