// The record path of the whole toy after issue 13 (mic slot → encoder → the sealer's
// plaintext, no rings): a squeeze shorter than MIN_RECORD_MS never leaves the toy, a hold
// just past it sends the held chunk and the rest, the 60 s cap holds, and no frame is
// lost or reordered on the way (the fake codec carries each frame's number).
import { test } from './xs/harness.js';
import { Phone, pairedRig } from './app-rig.js';
import { MIN_RECORD_MS } from '../src/toy.js';

/** Opens the chunks and checks the frame numbers (FakeCodec: bytes 0..1 of a packet) rise by one. */
function openInOrder(phone: Phone, chunks: Uint8Array[]): { packets: number; messages: number; gaps: number } {
  let packets = 0;
  let messages = 0;
  let gaps = 0;
  let last = -1;
  const opener = phone.env.opener;
  for (const c of chunks) {
    const r = opener.push(c);
    for (const p of r.packets) {
      const v = (p[0]! << 8) | p[1]!;
      if (last >= 0 && v !== last + 1) gaps++;
      last = v;
    }
    packets += r.packets.length;
    if (r.final) {
      messages++;
      opener.finish(r.info.messageKey);
    }
  }
  return { packets, messages, gaps };
}

test('a squeeze shorter than MIN_RECORD_MS never leaves the toy (its sealed chunk was held), and nothing is left open', async (t) => {
  const { rig } = await pairedRig();
  const before = rig.published().length;
  const sealedBefore = rig.app.counters.get('envelope.sealed_chunks');
  rig.paw.press();
  rig.clock.advance(MIN_RECORD_MS - 20); // 29 frames: the first 25-packet chunk (500 ms) was sealed at 520 ms and held
  t.is(rig.app.counters.get('envelope.sealed_chunks') - sealedBefore, 1, 'a chunk was sealed while the paw was held');
  rig.paw.release();
  rig.clock.advance(3000);
  t.is(rig.published().length, before, 'nothing published');
  t.is(rig.app.outbox!.count(), 0);
  t.is(rig.app.counters.get('rec.discarded'), 1);
  t.is(rig.app.recorder!.busy, false);
});

test('a hold just past MIN_RECORD_MS sends the held chunk and the rest: every frame once, in order', async (t) => {
  const { rig, phone } = await pairedRig();
  const before = rig.published().length;
  rig.paw.press();
  rig.clock.advance(MIN_RECORD_MS + 100);
  rig.paw.release();
  rig.clock.advance(3000);
  const chunks = rig.published().slice(before);
  t.true(chunks.length >= 2, `${chunks.length} chunks`);
  const got = openInOrder(phone, chunks);
  t.is(got.messages, 1);
  t.is(got.gaps, 0, 'no frame lost or reordered between the mic slot and the sealer');
  t.true(got.packets >= 34 && got.packets <= 36, `about 35 packets, got ${got.packets}`);
  t.is(rig.app.counters.get('rec.messages'), 1);
  t.is(rig.mic.overruns, 0);
});

test('the 60 s cap: a 65 s hold sends exactly 60 s, whole and in order', async (t) => {
  const { rig, phone } = await pairedRig();
  const before = rig.published().length;
  rig.paw.press();
  rig.clock.advance(65_000);
  rig.paw.release();
  rig.clock.advance(3000);
  const got = openInOrder(phone, rig.published().slice(before));
  t.is(got.messages, 1);
  t.is(got.packets, 3000, '60 s of 20 ms packets');
  t.is(got.gaps, 0);
  t.is(rig.app.counters.get('rec.seal_TOO_LONG'), 0, 'the toy stops itself at 60 s');
  t.is(rig.app.outbox!.count(), 0);
});
