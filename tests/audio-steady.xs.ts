import { test } from './xs/harness.js';
import { SteadyLoop } from './audio-steady.js';

test('10,000 frames through record and playback reuse the same buffer instances (XS)', (t) => {
  const s = new SteadyLoop();
  s.run(10_000);
  const r = s.report();
  t.is(r.played, 10_000, 'every frame reached the speaker');
  t.is(r.mismatches, 0, 'in order, with their values');
  t.is(r.errors, 0);
  t.is(r.dropped, 0);
  t.is(r.underruns, 0);
  // record: one mic slot (the fake's; the device adapter lends its ring's) and one sink buffer, no ring of its own;
  // playback decodes straight into the speaker's lent slot (one in the fake): no PCM ring (issue 13)
  t.deepEqual(r.distinct, { pcmIn: 1, packetOut: 1, packetIn: 1, pcmOut: 1, speaker: 1 });
  t.true(r.sameBuffers, 'every lent buffer is a view of the preallocated rings; RAM unchanged');
});
