/**
 * hal/moddable-socket.ts (the device's socket adapter) running unchanged on the Node
 * implementation of the Moddable `socket`/`securesocket` modules (sim/moddable/*):
 * connect, bytes both ways (including a write larger than the send buffer, which the
 * adapter holds and drains on `writable`), peer close, refused connection; and an
 * MqttSession over it that goes online at the embedded aedes broker and publishes.
 *
 * The adapter is bundled by esbuild with the Moddable specifiers left external and
 * pointed at sim/moddable/*.ts. `timer` is sim/moddable/timer.ts when it exists
 * (helper-6's module), else a setTimeout-based stand-in generated here.
 */
import test from 'ava';
import * as esbuild from 'esbuild';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SocketEvent, SocketPort } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { Inbox } from '../src/inbox.js';
import { MqttSession } from '../src/mqtt-session.js';
import { Outbox } from '../src/outbox.js';
import { toyTopics } from '../src/topics.js';
import { startEmbeddedBroker } from '../sim/embedded-broker.js';
import { NodeClock } from '../sim/node-clock.js';
import { Socket } from '../sim/moddable/socket.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { makeAccounts, waitFor } from './mqtt-node-helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIMER = path.join(ROOT, 'sim/moddable/timer.ts');
const TIMER_STANDIN = `export default class Timer {
  static set(cb, ms = 0, interval) { return interval === undefined ? setTimeout(() => cb(), ms) : setInterval(() => cb(), interval); }
  static clear(id) { clearTimeout(id); clearInterval(id); }
}`;

interface ModdableSocketLike extends SocketPort {
  handlerThrew: number;
}
type Ctor = new (o?: { tls?: boolean; secure?: Record<string, unknown>; maxPendingBytes?: number }) => ModdableSocketLike;

async function loadAdapter(): Promise<Ctor> {
  const files: Record<string, string> = { socket: 'sim/moddable/socket.ts', securesocket: 'sim/moddable/securesocket.ts' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-msock-'));
  const outfile = path.join(dir, 'moddable-socket.mjs');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'hal/moddable-socket.ts')],
    bundle: true, format: 'esm', platform: 'node', target: 'es2022', outfile, logLevel: 'silent',
    plugins: [{
      name: 'moddable-sim',
      setup(b) {
        b.onResolve({ filter: /^(socket|securesocket|timer)$/ }, (a) => {
          if (a.path === 'timer' && !fs.existsSync(TIMER)) return { path: 'timer', namespace: 'standin' };
          const f = a.path === 'timer' ? TIMER : path.join(ROOT, files[a.path]!);
          return { path: pathToFileURL(f).href, external: true };
        });
        b.onLoad({ filter: /.*/, namespace: 'standin' }, () => ({ contents: TIMER_STANDIN, loader: 'js' }));
      },
    }],
  });
  const mod = (await import(pathToFileURL(outfile).href)) as { ModdableSocket: Ctor };
  fs.rmSync(dir, { recursive: true, force: true });
  return mod.ModdableSocket;
}

const ModdableSocket = await loadAdapter();

/** A loopback TCP server recording what it receives; `peer()` is the accepted socket. */
async function echoServer() {
  const received: Buffer[] = [];
  let peer: net.Socket | undefined;
  const server = net.createServer((s) => {
    peer = s;
    s.on('data', (b) => received.push(b));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, received,
    bytes: () => Buffer.concat(received),
    peer: () => peer,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function collect(s: SocketPort) {
  const events: SocketEvent[] = [];
  s.onEvent((e) => events.push(e));
  const data = () => Buffer.concat(events.filter((e) => e.kind === 'data').map((e) => (e as { data: Uint8Array }).data));
  return { events, data };
}

const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);

for (const tls of [false, true]) {
  const via = tls ? 'securesocket (plain TCP in the sim)' : 'socket';
  test(`ModdableSocket over the sim ${via}: connect, bytes both ways, a write bigger than the send buffer, peer close`, async (t) => {
    const srv = await echoServer();
    const sock = new ModdableSocket({ tls, maxPendingBytes: 16384 });
    const { events, data } = collect(sock);
    try {
      t.is(sock.write(Uint8Array.of(1)), 'OFF', 'not connected yet');
      t.is(sock.connect('127.0.0.1', srv.port), 'OK');
      t.is(sock.connect('127.0.0.1', srv.port), 'BUSY');
      await waitFor(() => events.some((e) => e.kind === 'connect'), 5000, 'connect');
      // toy → server: 12 000 bytes do not fit the 5744-byte send buffer: the adapter holds the rest
      const big = pattern(12000, 1);
      t.is(sock.write(big), 'OK');
      t.is(sock.write(Uint8Array.of(9)), 'FULL', 'while bytes are held');
      await waitFor(() => events.some((e) => e.kind === 'writable'), 5000, 'writable');
      t.is(sock.write(Uint8Array.of(7, 7)), 'OK');
      await waitFor(() => srv.bytes().length === 12002, 5000, 'all bytes at the server');
      t.deepEqual(new Uint8Array(srv.bytes()), Uint8Array.from([...big, 7, 7]), 'in order, nothing lost or duplicated');
      // server → toy: 9000 bytes arrive as several readable callbacks, whole and in order
      const back = pattern(9000, 5);
      srv.peer()!.write(back);
      await waitFor(() => data().length === 9000, 5000, 'data at the toy');
      t.deepEqual(new Uint8Array(data()), back);
      t.true(events.filter((e) => e.kind === 'data').length >= 2, 'segmented like lwip pbufs');
      // the server closes: 'close' without error, after the data
      srv.peer()!.end();
      await waitFor(() => events.some((e) => e.kind === 'close'), 5000, 'close');
      const close = events.find((e) => e.kind === 'close') as { kind: 'close'; error?: string };
      t.is(close.error, undefined);
      t.is(events.at(-1)!.kind, 'close');
      t.is(sock.write(Uint8Array.of(1)), 'OFF');
      t.is(sock.handlerThrew, 0);
    } finally {
      sock.close();
      await srv.close();
    }
  });
}

test('a refused connection is a close event with an error; connect() works again afterwards', async (t) => {
  const srv = await echoServer();
  const port = srv.port;
  await srv.close(); // nothing listens there now
  const sock = new ModdableSocket({ tls: false });
  const { events } = collect(sock);
  t.is(sock.connect('127.0.0.1', port), 'OK');
  await waitFor(() => events.some((e) => e.kind === 'close'), 5000, 'close');
  t.is((events[0] as { error?: string }).error, 'socket error');
  t.is(events.length, 1, 'no connect before it');
  const srv2 = await echoServer();
  try {
    t.is(sock.connect('127.0.0.1', srv2.port), 'OK');
    await waitFor(() => events.some((e) => e.kind === 'connect'), 5000, 'connect');
    sock.close();
    t.is(events.at(-1)!.kind, 'close', 'close() reports close once');
    sock.close();
    t.is(events.filter((e) => e.kind === 'close').length, 2);
  } finally {
    await srv2.close();
  }
});

test('sim Socket semantics: write() answers free space, over-full writes throw, read() limits and "nothing to read"', async (t) => {
  const srv = await echoServer();
  const msgs: [number, number | undefined][] = [];
  const s = new Socket({ host: '127.0.0.1', port: srv.port, sndbuf: 100 });
  const reads: unknown[] = [];
  s.callback = (m, v) => {
    msgs.push([m, v]);
    if (m === Socket.readable) {
      reads.push(s.read(Number), s.read(ArrayBuffer, 2), s.read(String), s.read());
      t.throws(() => s.read(ArrayBuffer), { message: 'nothing to read' });
    }
  };
  try {
    await waitFor(() => msgs.some(([m]) => m === Socket.connected), 5000, 'connected');
    t.is(s.write(), 100);
    t.throws(() => s.write(new Uint8Array(101)), { message: "can't write all data" });
    s.write('ab', 0x63, new Uint8Array([0x64]).buffer);
    await waitFor(() => msgs.some(([m]) => m === Socket.writable), 5000, 'writable');
    t.deepEqual(msgs.find(([m]) => m === Socket.writable), [Socket.writable, 100]);
    await waitFor(() => srv.bytes().length === 4, 5000, 'bytes');
    t.is(srv.bytes().toString(), 'abcd');
    srv.peer()!.write('wxyz!');
    await waitFor(() => reads.length === 4, 5000, 'read');
    t.is(reads[0], 0x77);
    t.deepEqual(new Uint8Array(reads[1] as ArrayBuffer), Uint8Array.of(0x78, 0x79));
    t.is(reads[2], 'z!');
    t.is(reads[3], 0);
    srv.peer()!.destroy();
    await waitFor(() => msgs.some(([m]) => m < 0), 5000, 'disconnect');
    t.true(msgs.some(([m]) => m === Socket.disconnected || m === Socket.error));
    s.close();
    t.throws(() => s.read(), { message: 'closed socket' });
  } finally {
    s.close();
    await srv.close();
  }
});

test.serial('an MqttSession over ModdableSocket goes online at the embedded aedes broker and publishes', async (t) => {
  const { a, phone, registry } = makeAccounts();
  const broker = await startEmbeddedBroker({ port: 0, registry });
  const A = toyTopics(a.id);
  const counters = new Counters();
  const storage = new MemoryStorage();
  const outbox = new Outbox({ storage, counters });
  const inbox = new Inbox({ storage, counters });
  const socket = new ModdableSocket({ tls: true }); // securesocket: plain TCP to the local broker in the sim
  const errors: unknown[] = [];
  const session = new MqttSession({
    socket, clock: new NodeClock(), random: { fill: (b) => { randomFillSync(b); } },
    host: '127.0.0.1', port: broker.port, clientId: a.id, username: a.id, password: a.pw,
    subscriptions: [A.in], outbox, inbox, counters, keepaliveSec: 30,
    initialBackoffMs: 100, maxBackoffMs: 1000, ackTimeoutMs: 5000, connectTimeoutMs: 3000,
    onError: (e) => errors.push(e),
  });
  // a phone (mqtt.js) paired with toy A listens on A.out
  const mqtt = await import('mqtt');
  const ph = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: phone.id, username: phone.id, password: phone.pw, reconnectPeriod: 0 });
  const got: Buffer[] = [];
  ph.on('message', (_topic, payload) => got.push(payload));
  await ph.subscribeAsync(A.out, { qos: 1 });
  try {
    session.start();
    await waitFor(() => session.state === 'online', 10000, 'online');
    const payload = pattern(3000, 3); // bigger than the securesocket's free space at once
    session.send(A.out, payload);
    await waitFor(() => got.length === 1, 10000, 'delivery to the phone');
    t.deepEqual(new Uint8Array(got[0]!), payload);
    await waitFor(() => outbox.count() === 0, 10000, 'PUBACK clears the outbox');
    // and the other way: the phone publishes to A.in, the toy's inbox gets it
    const received: Uint8Array[] = [];
    inbox.setConsumer((m) => {
      received.push(m.payload);
      inbox.confirm(m.id);
    });
    await ph.publishAsync(A.in, Buffer.from(pattern(1500, 4)), { qos: 1 });
    await waitFor(() => received.length === 1, 10000, 'delivery to the toy');
    t.deepEqual(received[0], pattern(1500, 4));
    t.is((socket as ModdableSocketLike).handlerThrew, 0);
  } finally {
    session.close();
    await ph.endAsync();
    await broker.close();
  }
});
