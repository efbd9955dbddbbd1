/**
 * The simulator survives a factory reset (issue 15): paw + heart held 10 s wipes the
 * family; the simulated reboot closes everything the firmware's main() opened
 * (BLE above all: a second BLEServer threw "BLE already initialized") and a new
 * pairing follows, then a message reaches the toy under the new pairing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep, until } from './wait-until.js';

await import('../sim/moddable-register.js');
const { startSimulator } = await import('../sim/simulator.js');
const { air } = await import('../sim/moddable/ble-air.js');


test.serial('a factory reset in the simulator is followed by a new pairing', async (t) => {
  t.timeout(90000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-reset-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const model = sim.model;
    model.press('paw', true);
    await until('pairing mode', () => sim.toy().toy.state === 'pairing', 8000);
    model.press('paw', false);
    await model.parentPair('Mum');
    await until('the toy online', () => sim.toy().session()?.state === 'online');
    t.is(sim.toy().roster?.size, 1);
    const first = sim.toy();

    // paw + heart 10 s: factory reset, then the simulated reboot
    model.press('paw', true);
    model.press('heart', true);
    await until('the reset', () => sim.toy() !== first, 16000);
    model.press('heart', false);
    model.press('paw', false);
    t.is(sim.toy().roster?.size, 0, 'the family is gone after the reset');
    t.is(sim.toy().toy.state, 'idle');
    t.is(air.counters.servers >= 2, true, 'the rebooted firmware opened BLE again');
    await until('the page shows the phone unpaired', () => /not paired/.test(model.snapshot().parent.status), 5000);

    // a new pairing on the rebooted toy
    await sleep(200);
    model.press('paw', true);
    await until('pairing mode after the reset', () => sim.toy().toy.state === 'pairing', 8000);
    model.press('paw', false);
    await model.parentPair('Mum');
    t.is(sim.toy().roster?.size, 1);
    await until('the toy online again', () => sim.toy().session()?.state === 'online');
    await until('the parent online again', () => sim.parent.status.endsWith('online'));
    await model.parentSend('Hello again');
    await until('the message at the toy', () => (sim.toy().player?.waiting() ?? 0) === 1);
    t.deepEqual(uncaught, [], 'no uncaught exception');
    // close() is safe twice
    first.close();
    sim.toy().close();
    sim.toy().close();
  } finally {
    process.off('uncaughtException', onUncaught);
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
