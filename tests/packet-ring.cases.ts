import { MAX_PACKET_BYTES } from '../audio/codec-port.js';
import { PacketRing } from '../audio/packet-ring.js';
import { lcg, throwsCode, type AudioCase } from './audio-cases.js';

function fillPacket(b: Uint8Array, len: number, id: number): void {
  for (let i = 0; i < len; i++) b[i] = (id * 31 + i) & 0xff;
}
function checkPacket(b: Uint8Array, len: number, id: number): boolean {
  for (let i = 0; i < len; i++) if (b[i] !== ((id * 31 + i) & 0xff)) return false;
  return true;
}

export const packetRingCases: AudioCase[] = [
  {
    name: 'random interleaving keeps every packet whole and in order (against a model queue)',
    fn: (t) => {
      const rnd = lcg(42);
      const r = new PacketRing(3000);
      const model: { id: number; len: number }[] = [];
      let id = 0;
      let fulls = 0;
      let popped = 0;
      const src = new Uint8Array(MAX_PACKET_BYTES);
      for (let step = 0; step < 20000; step++) {
        if (rnd() < 0.55) {
          const len = rnd() < 0.05 ? 1 + Math.floor(rnd() * MAX_PACKET_BYTES) : 1 + Math.floor(rnd() * 80);
          const useScratch = rnd() < 0.5;
          const buf = useScratch ? r.reserve() : src;
          fillPacket(buf, len, id);
          const s = useScratch ? r.commit(len) : r.push(buf, len);
          if (s === 'OK') model.push({ id: id++, len });
          else {
            t.is(s, 'FULL');
            t.false(r.fits(len));
            fulls++;
          }
        } else {
          const len = r.peek();
          const m = model.shift();
          if (!m) {
            t.is(len, 0);
            continue;
          }
          if (len !== m.len || !checkPacket(r.readScratch, len, m.id)) t.fail(`packet ${m.id} corrupt`);
          t.true(r.drop());
          popped++;
        }
        if (r.count !== model.length) t.is(r.count, model.length);
      }
      t.true(popped > 5000, `${popped} packets popped`);
      t.true(fulls > 0, 'the ring filled at times');
      t.is(r.overruns, fulls);
      t.true(r.bytesUsed <= r.capacityBytes);
    },
  },
  {
    name: 'lengths 0 and over 1275 are a typed error, counted, and change nothing',
    fn: (t) => {
      const r = new PacketRing(2000);
      const b = new Uint8Array(2000);
      t.is(r.push(b, 10), 'OK');
      throwsCode(t, () => r.push(b, 0), 'CodecError', 'SIZE');
      throwsCode(t, () => r.push(b, 1276), 'CodecError', 'SIZE');
      throwsCode(t, () => r.push(b, -1), 'CodecError', 'SIZE');
      throwsCode(t, () => r.push(b, 1.5), 'CodecError', 'SIZE');
      throwsCode(t, () => r.push(new Uint8Array(5), 6), 'CodecError', 'SIZE');
      throwsCode(t, () => r.commit(0), 'CodecError', 'SIZE');
      t.is(r.rejected, 6);
      t.is(r.count, 1);
      t.is(r.peek(), 10);
    },
  },
  {
    name: 'full answers FULL, counts it, keeps the write scratch for a retry',
    fn: (t) => {
      const r = new PacketRing(1277 + 100);
      const w = r.reserve();
      fillPacket(w, 1275, 1);
      t.is(r.commit(1275), 'OK');
      fillPacket(w, 200, 2);
      t.is(r.commit(200), 'FULL');
      t.is(r.overruns, 1);
      t.is(r.peek(), 1275);
      t.true(checkPacket(r.readScratch, 1275, 1));
      r.drop();
      t.is(r.commit(200), 'OK', 'retry after the consumer made room');
      t.is(r.peek(), 200);
      t.true(checkPacket(r.readScratch, 200, 2));
      t.is(r.writeScratch, w);
    },
  },
  {
    name: 'empty answers 0 / EMPTY and counts underruns; read lends the read scratch',
    fn: (t) => {
      const r = new PacketRing(1400);
      t.is(r.peek(), 0);
      t.is(r.read(() => undefined), 'EMPTY');
      t.is(r.underruns, 2);
      t.false(r.drop());
      r.push(new Uint8Array([1, 2, 3]), 3);
      r.push(new Uint8Array([4, 5]), 2);
      let lent: Uint8Array | undefined;
      let sum = 0;
      t.is(
        r.drain((p, n) => {
          lent = p;
          for (let i = 0; i < n; i++) sum += p[i]!;
        }),
        2,
      );
      t.is(lent, r.readScratch);
      t.is(sum, 15);
    },
  },
  {
    name: 'a consumer callback that throws leaves the packet queued',
    fn: (t) => {
      const r = new PacketRing(1400);
      r.push(new Uint8Array([9]), 1);
      let threw = false;
      try {
        r.read(() => {
          throw new Error('sealer busy');
        });
      } catch {
        threw = true;
      }
      t.true(threw);
      t.is(r.count, 1);
      t.is(r.read((p) => t.is(p[0], 9)), 'OK');
      throwsCode(t, () => new PacketRing(1000), 'PortError', 'INVAL');
    },
  },
];
