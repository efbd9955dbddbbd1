/**
 * Firmware delivery through a real Mosquitto with the shipped broker/mosquitto.conf
 * and broker/acl (issue 14): `pp-release` publishes a signed release as retained
 * messages; a toy account reads the manifest and pulls the chunks (UpdateDownloader
 * over the `mqtt` npm client: the toy's own MqttSession has no dynamic subscribe yet);
 * a toy cannot replace the manifest or a chunk.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { randomFillSync } from 'node:crypto';
import { mosquittoHash } from '../sim/embedded-broker.js';
import { publishRelease } from '../release/update-publisher.js';
import { manifestTopic, chunkTopic, UpdateDownloader, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { sha256 } from '../src/sha256.js';
import { hasMosquitto, Mosquitto } from './mqtt-node-helpers.js';
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
