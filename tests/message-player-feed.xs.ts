// Playback feeding on the whole toy (src/message-player.ts), in XS and in Node:
// one chunk is opened before playback starts, then at most one per 20 ms tick
// from a low-water mark, and a 10 s message plays without an underrun.
import { test } from './xs/harness.js';
import { pairedRig } from './app-rig.js';

test('heart press: one chunk opened before the first frame, then at most one per tick; no underrun', async (t) => {
  const { rig, phone } = await pairedRig();
  const chunks = phone.sealMessage(500);
  rig.deliver(chunks);
  rig.clock.advance(500);
  t.is(rig.app.player!.waiting(), 1);
  const player = rig.app.player!;
  const o0 = player.chunksOpened;
  const f0 = rig.played.length;
  rig.heart.press();
  rig.heart.release();
  t.is(player.chunksOpened - o0, 1, 'one chunk opened before playback starts');
  let firstFrameOpens = -1;
  let maxPerTick = 0;
  for (let ms = 0; ms < 12000; ms += 20) {
    const before = player.chunksOpened;
    rig.clock.advance(20);
    maxPerTick = Math.max(maxPerTick, player.chunksOpened - before);
    if (firstFrameOpens < 0 && rig.played.length > f0) firstFrameOpens = player.chunksOpened - o0;
  }
  t.is(firstFrameOpens, 1, 'the first frame reached the speaker after one chunk open');
  t.is(maxPerTick, 1, 'at most one chunk opened per tick');
  t.is(player.chunksOpened - o0, chunks.length);
  t.is(rig.played.length - f0, 500);
  t.is(rig.app.counters.get('audio.play.underrun'), 0);
  t.is(player.waiting(), 0);
});
