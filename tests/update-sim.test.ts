/**
 * Firmware updates in the simulator tier (issue 14):
 * - the embedded broker's pp/fw rule (every toy reads, none writes; only the release
 *   operator publishes, retained) and its retained messages;
 * - the lin file slots (hal/lin-update-boot.ts + hal/moddable-file-update.ts) over
 *   the Node `file` module, through the real UpdateClient: install, boot pending with
 *   the image's version, confirm; a reset before confirmation rolls back;
 * - `npm start` end to end: the page's endpoint signs and publishes the next version
 *   with the session key, the simulated toy downloads it, restarts, confirms, and the
 *   device information reports the new version.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import { aclAllows, mosquittoHash, startEmbeddedBroker, type BrokerRegistry } from '../sim/embedded-broker.js';
import { makeSimImage, sessionReleaseKey, signSimRelease } from '../sim/update-publisher.js';
import { UpdateClient } from '../src/update-client.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256 } from '../src/sha256.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { sleep, untilWithin } from './wait-until.js';

await import('../sim/moddable-register.js');
const { board } = await import('../sim/moddable/board.js');
// hal/*.ts import Moddable specifiers: loaded by URL so that the host tsc does not follow them
const hal = (name: string): Promise<any> => import(new URL(`../hal/${name}.js`, import.meta.url).href);
const boot = await hal('lin-update-boot');
const { LinFileUpdateSlot } = await hal('moddable-file-update');

const until = untilWithin(30000);

const TOY = 'a'.repeat(32);
const OTHER_TOY = 'b'.repeat(32);
const PHONE = `ph-${'c'.repeat(32)}`;

test('embedded broker: every toy reads pp/fw, none writes; only the release operator writes; no wildcards', (t) => {
  const registry: BrokerRegistry = {
    toys: { [TOY]: { passwordHash: 'x' }, [OTHER_TOY]: { passwordHash: 'x' } },
    phones: { [PHONE]: { passwordHash: 'x', toys: [TOY] } },
    operators: { 'pp-release': { passwordHash: 'x' } },
  };
  const m = 'pp/fw/sim/manifest';
  t.true(aclAllows(registry, TOY, 'read', m));
  t.true(aclAllows(registry, OTHER_TOY, 'read', 'pp/fw/sim/img/0011223344556677/3'));
  t.false(aclAllows(registry, TOY, 'write', m), 'a toy cannot replace the manifest');
  t.false(aclAllows(registry, PHONE, 'read', m));
  t.false(aclAllows(registry, PHONE, 'write', m));
  t.true(aclAllows(registry, 'pp-release', 'write', m));
  t.false(aclAllows(registry, 'pp-release', 'write', `pp/t/${TOY}/in`), 'the operator touches nothing else');
  t.false(aclAllows(registry, 'pp-release', 'read', `pp/t/${TOY}/out`));
  t.false(aclAllows(registry, TOY, 'read', 'pp/fw/#'));
  t.false(aclAllows(registry, TOY, 'read', 'pp/fw/'), 'the bare prefix is no topic');
  t.false(aclAllows({ ...registry, operators: undefined }, 'pp-release', 'write', m), 'no operator registered: nobody writes');
});

test.serial('embedded broker: the operator publishes a retained manifest; a toy gets it on subscribe and cannot overwrite it', async (t) => {
  const pw = { toy: 'toy-password-1', rel: 'release-password-1' };
  const registry: BrokerRegistry = { toys: { [TOY]: { passwordHash: mosquittoHash(pw.toy) } }, phones: {}, operators: { 'pp-release': { passwordHash: mosquittoHash(pw.rel) } } };
  const broker = await startEmbeddedBroker({ port: 0, registry });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const topic = 'pp/fw/sim/manifest';
  try {
    const rel = await mqtt.connectAsync(url, { clientId: 'pp-release', username: 'pp-release', password: pw.rel, protocolVersion: 4, reconnectPeriod: 0 });
    await rel.publishAsync(topic, Buffer.from('genuine'), { qos: 1, retain: true });
    await rel.endAsync();
    // a toy tries to replace it (refused: the broker closes its connection), then reads it
    const bad = await mqtt.connectAsync(url, { clientId: TOY, username: TOY, password: pw.toy, protocolVersion: 4, reconnectPeriod: 0 });
    bad.on('error', () => undefined);
    bad.publish(topic, Buffer.from('forged'), { qos: 1, retain: true });
    await sleep(300);
    bad.end(true);
    t.is(broker.refused.publish, 1);
    const toy = await mqtt.connectAsync(url, { clientId: TOY, username: TOY, password: pw.toy, protocolVersion: 4, reconnectPeriod: 0 });
    const got = await new Promise<string>((resolve) => {
      toy.on('message', (_t, p) => resolve(p.toString()));
      void toy.subscribeAsync(topic, { qos: 1 });
      setTimeout(() => resolve('nothing'), 3000);
    });
    await toy.endAsync();
    t.is(got, 'genuine');
    // retained anywhere else is still refused, even for the operator
    const rel2 = await mqtt.connectAsync(url, { clientId: 'pp-release', username: 'pp-release', password: pw.rel, protocolVersion: 4, reconnectPeriod: 0 });
    rel2.on('error', () => undefined);
    rel2.publish(`pp/t/${TOY}/in`, Buffer.from('x'), { qos: 1, retain: true });
    await sleep(300);
    rel2.end(true);
    t.is(broker.refused.publish, 2);
  } finally {
    await broker.close();
  }
});

test.serial('lin file slots over Moddable file: install, boot pending as the new version, confirm; an unconfirmed reset rolls back', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-linota-'));
  const saved = board.fsRoot();
  board.setFsRoot(root);
  try {
    const dir = '/ota/';
    const key = sessionReleaseKey();
    const image = makeSimImage({ major: 0, minor: 2, patch: 0 }, 3 * 4096 + 7);
    t.is(boot.simImageVersion('/nothing'), undefined);
    let b = boot.bootLinSlots(dir);
    t.deepEqual(b, { slot: 0, pending: false, version: undefined }, 'factory: the built-in image');
    const storage = new MemoryStorage();
    const client = (version: { major: number; minor: number; patch: number }) => new UpdateClient({
      board: 'lin', runningVersion: version, releaseKeys: [key.publicKey], crypto: naclCrypto, sha256: jsSha256,
      slot: new LinFileUpdateSlot(dir, 64 * 1024), storage,
    });
    let c = client({ major: 0, minor: 1, patch: 0 });
    const manifest = signSimRelease(image, { board: 'lin', version: '0.2.0', securityVersion: 3, secretKey: key.secretKey });
    t.is(c.offer(signSimRelease(image, { board: 'lin', version: '0.2.0', securityVersion: 3, secretKey: sessionReleaseKey().secretKey })), 'SIGNATURE');
    t.is(c.offer(manifest), 'OK');
    t.is(c.begin(), 'OK');
    for (let o = 0; o < image.length; o += 4096) t.is(c.write(o, image.subarray(o, o + 4096)), 'OK');
    t.false(fs.existsSync(path.join(root, 'ota', 'slot-1.bin')), 'no .bin before the whole image');
    t.is(c.finish(), 'OK');
    t.deepEqual(new Uint8Array(fs.readFileSync(path.join(root, 'ota', 'slot-1.bin'))), image);
    // reset before confirmation: rolls back to the built-in image, the record is dropped, no security version
    b = boot.bootLinSlots(dir);
    t.deepEqual(b, { slot: 1, pending: true, version: '0.2.0' });
    b = boot.bootLinSlots(dir);
    t.deepEqual(b, { slot: 0, pending: false, version: undefined }, 'never confirmed: the previous image boots');
    c = client({ major: 0, minor: 1, patch: 0 });
    t.is(await c.bootCheck(() => true), 'normal');
    t.is(c.storedSecurityVersion(), 0);
    // again, and this time confirmed
    c = client({ major: 0, minor: 1, patch: 0 });
    t.is(c.offer(manifest), 'OK');
    t.is(c.begin(), 'OK');
    for (let o = 0; o < image.length; o += 4096) c.write(o, image.subarray(o, o + 4096));
    t.is(c.finish(), 'OK');
    b = boot.bootLinSlots(dir);
    t.deepEqual(b, { slot: 1, pending: true, version: '0.2.0' });
    c = client({ major: 0, minor: 2, patch: 0 });
    t.is(c.storedSecurityVersion(), 0, 'not before confirmation');
    t.is(await c.bootCheck(() => true), 'confirmed');
    t.is(c.storedSecurityVersion(), 3);
    t.deepEqual(boot.bootLinSlots(dir), { slot: 1, pending: false, version: '0.2.0' });
    t.false(boot.linPending(dir));
  } finally {
    board.setFsRoot(saved);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.serial('npm start: the page publishes a signed update; the simulated toy takes it and reports the new version', async (t) => {
  const { startSimulator } = await import('../sim/simulator.js');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-simupd-'));
  const sim = await startSimulator({ dataDir, webPort: 0, brokerPort: 0 });
  try {
    t.is(sim.firmwareVersion(), '0.1.0');
    t.is(sim.deviceInfo().firmware, '0.1.0');
    sim.model.press('paw', true);
    await until('pairing mode', () => sim.toy().toy.state === 'pairing', 6000);
    sim.model.press('paw', false);
    await sim.model.parentPair('Mum');
    await until('the toy online', () => sim.toy().session()?.state === 'online');
    t.is(sim.toy().update?.service, undefined, 'nothing announced: the update modules are not loaded');
    const r = await fetch(`http://127.0.0.1:${sim.webPort}/api/update/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const j = (await r.json()) as { version: string; chunks: number };
    t.is(r.status, 200);
    t.is(j.version, '0.1.1');
    await until('the new firmware running', () => sim.firmwareVersion() === '0.1.1', 60000);
    await until('confirmed once online', () => sim.toy().update?.service?.bootOutcome === 'confirmed', 60000);
    t.is(sim.deviceInfo().firmware, '0.1.1', 'the device-information characteristic reports the new version');
    t.true((sim.toy().update?.service?.client.storedSecurityVersion() ?? 0) > 0, 'security version stored after confirmation');
    const files = fs.readdirSync(path.join(dataDir, 'toy-ota')).sort();
    t.deepEqual(files.filter((f) => f.endsWith('.part')), [], 'nothing half-written');
  } finally {
    await sim.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
