/**
 * The family's library inside the real XS engine (and under Node): the Ogg Opus
 * writer and reader, a history record's bounds checks, and a ParentPhone pairing
 * with the whole toy on fakes (tests/app-rig.ts), sending, receiving and exporting.
 */
import { test } from './xs/harness.js';
import { AppRig } from './app-rig.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { MemoryFiles } from './fakes/memory-files.js';
import { SimCentral } from '../sim/ble-sim.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { OggError, readOggOpus, writeOggOpus } from '../phone/ogg-opus.js';
import { decodeRecord, encodeRecord, HistoryError } from '../phone/message-history.js';
import { ParentPhone } from '../phone/parent-phone.js';

/** CELT 20 ms packets (TOC 0xf8) with varied lengths, some past one lacing value. */
function packets(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const p = new Uint8Array(20 + ((i * 37) % 300));
    for (let k = 0; k < p.length; k++) p[k] = (i * 7 + k * 13) & 0xff;
    p[0] = 0xf8;
    out.push(p);
  }
  return out;
}

test('Ogg Opus: written and read back packet for packet; damage is an OggError', (t) => {
  const ps = packets(120);
  const file = writeOggOpus(ps, { packetsPerPage: 50 });
  const r = readOggOpus(file);
  t.is(r.packets.length, 120);
  t.deepEqual(r.packets[77], ps[77]);
  t.is(r.lastGranule, 120 * 960);
  let typed = 0;
  for (let i = 0; i < file.length; i += 29) {
    const bad = file.slice();
    bad[i] = bad[i]! ^ 0x20;
    try {
      readOggOpus(bad);
    } catch (e) {
      if (e instanceof OggError) typed++;
      else t.fail(`flip at ${i}: ${String(e)}`);
    }
  }
  t.true(typed > 10);
});

test('a history record: every truncation is CORRUPT', (t) => {
  const rec = { id: '00112233445566778899aabbccddeeff', direction: 'sent' as const, state: 'queued' as const, name: 'Mum', at: 1.79e12, createdMs: 1.79e12, durationMs: 2000, chunks: [new Uint8Array(90).fill(3)] };
  const b = encodeRecord(rec);
  t.deepEqual(decodeRecord(rec.id, b).chunks[0], rec.chunks[0]);
  for (let n = 0; n < b.length; n++) {
    const e = t.throws(() => decodeRecord(rec.id, b.subarray(0, n)));
    t.true(e instanceof HistoryError && e.code === 'CORRUPT', `length ${n}`);
  }
});

test('a ParentPhone pairs with the toy, sends, receives and keeps both sealed', async (t) => {
  const rig = new AppRig();
  rig.holdPaw(3000);
  const files = new MemoryFiles();
  const phone = new ParentPhone({ storage: new MemoryStorage(), files, crypto: naclCrypto, random: rig.random, clock: rig.clock });
  const central = new SimCentral(rig.radio);
  await phone.pair(async () => (central.connect(), central), {
    setupCode: rig.setupCode,
    name: 'Mum',
    toyName: 'Teddy',
    brokerUrl: 'mqtt://relay.test:8883',
    network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'relay.test', brokerPort: 8883 },
  });
  central.disconnect();
  rig.clock.advance(2000);
  const sent = await phone.send(packets(60), { publish: async (_topic, c) => rig.deliver([c]) });
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1);
  t.is(phone.history.open(sent.id).packets.length, 60);
  const before = rig.published().length;
  rig.holdPaw(1200);
  rig.clock.advance(1000);
  const outcomes = rig.published().slice(before).map((c) => phone.receive(c).outcome);
  t.is(outcomes[outcomes.length - 1], 'stored');
  const l = phone.history.list();
  t.is(l.records.length, 2);
  t.is(l.records.filter((r) => r.direction === 'received')[0]!.name, 'Teddy');
});
