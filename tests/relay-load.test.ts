/**
 * The load test, small (50 toys, 100 phones, 8 s with a burst and a broker restart):
 * nothing lost, nothing misdelivered, every publish acknowledged. The full fleet
 * (1,000 toys, 2,000 phones) is `npm run relay -- load` or `npm run bench -- relay`.
 * Skips with one line when not root or mosquitto / the dynsec plugin is missing.
 */
import test from 'ava';
import { runLoad, DEFAULT_LOAD } from '../relay/relay-load.js';
import { relayRigUnavailable } from './relay-rig.js';

const why = relayRigUnavailable();
const rt = why ? test.skip : test.serial;
if (why) test('relay load test skipped: ' + why, (t) => t.pass());

rt('50 toys and 100 phones through a burst and a broker restart: nothing lost or misdelivered', async (t) => {
  const r = await runLoad({ ...DEFAULT_LOAD, toys: 50, phonesPerToy: 2, seconds: 8, burstToys: 20, steadyRate: 5, drainSeconds: 40 });
  t.log(`${r.expected} deliveries, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, redelivered ${r.redelivered}`);
  t.true(r.expected >= 20 * 40 * 2, 'the burst alone is 1,600 deliveries');
  t.is(r.published, r.acked);
  t.is(r.lost, 0);
  t.is(r.misdelivered, 0);
  t.false(Number.isNaN(r.restartSeconds), 'the broker was restarted');
});
