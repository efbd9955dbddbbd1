/**
 * Firmware delivery through a real Mosquitto with the shipped broker/mosquitto.conf
 * and broker/acl (issue 14): `pp-release` publishes a signed release as retained
 * messages; a toy account reads the manifest and pulls the chunks (UpdateDownloader
 * over the `mqtt` npm client, then over the toy's own MqttSession with its
 * subscribe/unsubscribe); a toy cannot replace the manifest or a chunk.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { randomFillSync } from 'node:crypto';
import { mosquittoHash } from '../sim/embedded-broker.js';
import { publishRelease } from '../release/update-publisher.js';
import { manifestTopic, chunkTopic, UpdateDownloader, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { sha256 } from '../src/sha256.js';
import { hasMosquitto, Mosquitto } from './mqtt-node-helpers.js';
import { MqttSession } from '../src/mqtt-session.js';
import { Inbox } from '../src/inbox.js';
import { Outbox } from '../src/outbox.js';
import { Counters } from '../src/counters.js';
import { NodeClock } from '../sim/node-clock.js';
import { NodeSocket } from '../sim/node-socket.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { BOARD, makeImage, signManifest, UpdateToy, V010, V020 } from './update-rig.js';

const maybe = hasMosquitto() ? test.serial : test.serial.skip;

function accounts() {
  const hex = () => randomFillSync(Buffer.alloc(16)).toString('hex');
  const pw = () => randomFillSync(Buffer.alloc(18)).toString('base64url');
  const toy = { id: hex(), pw: pw() };
  const rel = { id: 'pp-release', pw: pw() };
  return {
    toy, rel,
    registry: { toys: { [toy.id]: { passwordHash: mosquittoHash(toy.pw) }, [rel.id]: { passwordHash: mosquittoHash(rel.pw) } }, phones: {} },
  };
}

function connect(port: number, user: string, pw: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: user, password: pw, clientId: user, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
}

/** The first retained message on `topic` for a fresh subscriber (or undefined after 1 s). */
async function retainedOn(port: number, user: string, pw: string, topic: string): Promise<Uint8Array | undefined> {
  const c = await connect(port, user, pw);
  try {
    return await new Promise<Uint8Array | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 1000);
      c.on('message', (t, p) => {
        if (t === topic) {
          clearTimeout(timer);
          resolve(new Uint8Array(p));
        }
      });
      void c.subscribeAsync(topic, { qos: 1 });
    });
  } finally {
    await c.endAsync();
  }
}

maybe('a toy takes a signed release from retained messages; no toy can overwrite it', async (t) => {
  const { toy, rel, registry } = accounts();
  const broker = await Mosquitto.start(registry);
  try {
    const image = makeImage(V020, 5 * UPDATE_CHUNK_BYTES + 77);
    const manifest = signManifest(image, { version: V020, securityVersion: 1 });
    const r = await publishRelease(image, manifest, { url: `mqtt://127.0.0.1:${broker.port}`, username: rel.id, password: rel.pw });
    t.is(r.chunks, 6);

    // the toy: fake flash, UpdateClient, UpdateDownloader over an mqtt client
    const device = new UpdateToy(makeImage(V010, 3000));
    const c = await connect(broker.port, toy.id, toy.pw);
    let ready!: () => void;
    const done = new Promise<void>((res) => (ready = res));
    const dl = new UpdateDownloader({
      board: BOARD, client: device.client, counters: device.client.counters, onReady: () => ready(),
      transport: { subscribe: (tp) => void c.subscribe(tp, { qos: 1 }), unsubscribe: (tp) => void c.unsubscribe(tp) },
    });
    c.on('message', (tp, p) => dl.onMessage(tp, new Uint8Array(p)));
    dl.start();
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`stuck at ${device.client.bytesWritten}: ${JSON.stringify(device.client.counters.snapshot())}`)), 10_000))]);
    await c.endAsync();
    t.is(device.client.phase, 'switched');
    t.is(await device.reboot(true), 'confirmed');
    t.deepEqual(device.flash.runningImage(), image);

    // a toy tries to replace the manifest and a chunk (retained): Mosquitto drops the forbidden PUBLISH
    const evil = await connect(broker.port, toy.id, toy.pw);
    const forged = signManifest(image, { version: { major: 9, minor: 0, patch: 0 }, securityVersion: 1 });
    await evil.publishAsync(manifestTopic(BOARD), Buffer.from(forged), { qos: 1, retain: true });
    await evil.publishAsync(chunkTopic(BOARD, sha256(image), 0), Buffer.from([0, 0, 0, 0, 1]), { qos: 1, retain: true });
    await evil.endAsync();
    t.deepEqual(await retainedOn(broker.port, toy.id, toy.pw, manifestTopic(BOARD)), manifest, 'manifest unchanged');
    const c0 = await retainedOn(broker.port, toy.id, toy.pw, chunkTopic(BOARD, sha256(image), 0));
    t.is(c0?.length, 4 + UPDATE_CHUNK_BYTES, 'chunk unchanged');
    // and the toy reads nothing of another tree
    t.is(await retainedOn(broker.port, toy.id, toy.pw, 'pp/t/other/in'), undefined);
  } finally {
    await broker.dispose();
  }
});

maybe('the toy\'s own MqttSession pulls the release (subscribe / unsubscribe per chunk) and survives a broker restart mid-download', async (t) => {
  const { toy, rel, registry } = accounts();
  const broker = await Mosquitto.start(registry);
  let session: MqttSession | undefined;
  try {
    const image = makeImage(V020, 40 * UPDATE_CHUNK_BYTES + 5);
    const manifest = signManifest(image, { version: V020, securityVersion: 1 });
    await publishRelease(image, manifest, { url: `mqtt://127.0.0.1:${broker.port}`, username: rel.id, password: rel.pw });
    const device = new UpdateToy(makeImage(V010, 3000), 0x180000);
    const counters = new Counters();
    const storage = new MemoryStorage();
    let dl!: UpdateDownloader;
    let ready!: () => void;
    const done = new Promise<void>((res) => (ready = res));
    const s = (session = new MqttSession({
      socket: new NodeSocket(), clock: new NodeClock(), random: { fill: (b) => void randomFillSync(b) },
      host: '127.0.0.1', port: broker.port, clientId: toy.id, username: toy.id, password: toy.pw,
      subscriptions: [`pp/t/${toy.id}/in`], outbox: new Outbox({ storage, counters }), inbox: new Inbox({ storage, counters }), counters,
      keepaliveSec: 30, initialBackoffMs: 100, maxBackoffMs: 500, connectTimeoutMs: 3000,
      onDirectMessage: (tp, p) => dl.onMessage(tp, p),
      onState: (st) => {
        if (st === 'online') {
          dl.start();
          dl.poll();
        } else dl?.connectionLost();
      },
    }));
    dl = new UpdateDownloader({
      board: BOARD, client: device.client, counters: device.client.counters, onReady: () => ready(),
      transport: { subscribe: (tp) => void s.subscribe(tp), unsubscribe: (tp) => s.unsubscribe(tp) },
    });
    s.start();
    // restart the broker once the download is under way
    const until = Date.now() + 10_000;
    while (device.client.bytesWritten < 10 * UPDATE_CHUNK_BYTES && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    t.true(device.client.bytesWritten >= 10 * UPDATE_CHUNK_BYTES, `download started: ${JSON.stringify({ ...device.client.counters.snapshot(), ...counters.snapshot(), st: s.state })}`);
    await broker.restart();
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`stuck at ${device.client.bytesWritten}: ${JSON.stringify({ ...device.client.counters.snapshot(), ...counters.snapshot() })}`)), 20_000))]);
    t.is(device.client.phase, 'switched');
    t.is(device.flash.begins, 1, 'resumed after the restart, not restarted');
    t.true(counters.get('mqtt.online') >= 2, 'reconnected');
    t.is(await device.reboot(true), 'confirmed');
    t.deepEqual(device.flash.runningImage(), image);
  } finally {
    session?.close();
    await broker.dispose();
  }
});
