/**
 * Host side of the no-allocation proof: the record → playback loop runs inside the
 * real XS engine (bench/xs/audio-entry.ts via XsSession) and we read XS's meters.
 * - compute steps per 1,000 frames stay flat from the first thousand to the tenth
 * - live heap slots grow by no more over 5,000 frames than over an empty command
 *   (the command plumbing's own JSON), while a naive queue grows by ~7 slots a frame.
 */
import test from 'ava';
import { XsSession } from '../tools/xs-worker.js';
import type { SteadyReport } from './audio-steady.js';

const entry = new URL('../bench/xs/audio-entry.ts', import.meta.url).pathname;

test('XS steps per frame are flat over 10,000 frames and the loop allocates no heap slots', async (t) => {
  const s = await XsSession.start(entry);
  try {
    await s.call('loop.setup');
    const steps: number[] = [];
    for (let i = 0; i < 10; i++) steps.push((await s.call('loop.run', 1000)).compute);
    const first = steps[0]!;
    const last = steps[9]!;
    t.log(`steps per frame: first 1000 ${first / 1000}, last 1000 ${last / 1000}`);
    t.true(first > 0);
    for (const c of steps) t.true(Math.abs(c - first) / first < 0.005, `chunk ${c} vs first ${first}`);
    const r = (await s.call<SteadyReport>('loop.report')).result;
    t.is(r.played, 10_000);
    t.is(r.mismatches, 0);
    t.true(r.sameBuffers);

    const h0 = (await s.call('noop')).heapCount!;
    const h1 = (await s.call('noop')).heapCount!;
    const h2 = (await s.call('loop.run', 5000)).heapCount!;
    const h3 = (await s.call('ring.naive', 1000)).heapCount!;
    t.log(`heap slots: empty command +${h1 - h0}, 5,000 loop frames +${h2 - h1}, naive 1,000 frames +${h3 - h2}`);
    t.true(h2 - h1 <= h1 - h0, '5,000 frames allocate no more slots than an empty command');
    t.true(h3 - h2 > 1000, 'the meter does see per-frame allocation (naive queue)');
  } finally {
    await s.close();
  }
});
