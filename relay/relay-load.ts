/**
 * `npm run relay -- load`: a fleet on loopback against a real Mosquitto set up by
 * relayInit (as root; mosquitto runs as its service user, with the relay's config,
 * persistence and the dynamic security plugin). Bounded: it sends for `seconds`,
 * drains for at most `drainSeconds`, stops the broker and removes its temp dir.
 *
 * Fleet: `toys` toys (password file, acl patterns) and `phonesPerToy` phones per toy
 * (dynamic-security clients with the per-toy role the enrollment service gives).
 * Every client is an mqtt.js client with a persistent session (clean = false),
 * QoS 1, client id = user name. Traffic:
 *   steady  `steadyRate` messages/s over the fleet (half from toys to their phones,
 *           half from phones to their toy), each `chunksPerMessage` sealed-size chunks;
 *   burst   at 1/4 of the run, `burstToys` toys each send a 40-chunk (60 s) message at once;
 *   restart at 1/2 of the run the broker is stopped (SIGTERM: it saves) and started again.
 * Each chunk carries [sentAt f64][sender u32][seq u32]; receivers keep the first copy of
 * each (sender, seq) (the application's dedupe key, like the envelope's chunkKey) and
 * count the broker's redeliveries. Lost = expected deliveries never received.
 *
 * Chunks travel over a plain TCP listener on 127.0.0.1 that only this command adds:
 * the TLS cost is in the connect figures of `npm run bench -- relay`, not here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { mosquittoPasswdLine, parseMosquittoPasswdLine } from '../factory/mosquitto-passwd.js';
import { relayFiles } from './relay-config.js';
import { RelayError, relayInit, serviceUser, writeFileAtomic } from './relay-operator.js';
import type { CliIo } from './relay-cli.js';

export interface LoadOptions {
  toys: number;
  phonesPerToy: number;
  seconds: number;
  steadyRate: number;
  chunksPerMessage: number;
  chunkBytes: number;
  burstToys: number;
  restart: boolean;
  drainSeconds: number;
  connectConcurrency: number;
  log?: (line: string) => void;
}

export const DEFAULT_LOAD: LoadOptions = {
  toys: 1000, phonesPerToy: 2, seconds: 60, steadyRate: 5, chunksPerMessage: 10, chunkBytes: 2500, burstToys: 200,
  restart: true, drainSeconds: 60, connectConcurrency: 100,
};

export interface LoadResult {
  clients: number;
  connectSeconds: number;
  published: number;
  acked: number;
  expected: number;
  delivered: number;
  /** Copies the broker delivered more than once (QoS 1 redelivery), dropped by the dedupe key. */
  redelivered: number;
  lost: number;
  /** Deliveries to a client that should not get them (isolation): must be 0. */
  misdelivered: number;
  msgPerSecond: number;
  burstMsgPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Latency of steady chunks sent outside the burst and away from the restart (sent > 5 s before it or > 5 s after the broker is back). */
  steadyP50Ms: number;
  steadyP99Ms: number;
  /** Latency of the burst's chunks (publish to first delivery). */
  burstP50Ms: number;
  burstP99Ms: number;
  brokerRssMb: number;
  /**
   * Upper bound of broker memory per connected client (KiB): the whole broker RSS after
   * connecting / clients (the delta is not usable: the freed parse of the dynsec file is reused).
   */
  rssPerClientKb: number;
  brokerCpuSeconds: number;
  restartSeconds: number;
}

class Broker {
  proc: ChildProcess | undefined;
  log = '';
  constructor(readonly conf: string) {}
  async start(): Promise<void> {
    this.log = '';
    const p = spawn('mosquitto', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    // never leave a broker behind when this process ends early
    const kill = () => p.exitCode === null && p.kill('SIGKILL');
    process.once('exit', kill);
    p.once('exit', () => process.off('exit', kill));
    p.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString();
      if (this.log.length > 100000) this.log = this.log.slice(-50000);
    });
    this.proc = p;
    for (let i = 0; i < 400; i++) {
      if (this.log.includes(' running')) return;
      if (p.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`mosquitto did not start: ${this.log.slice(0, 500)}`);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
  /** Resident memory (MiB) and CPU seconds (user + system) of the broker process. */
  usage(): { rssMb: number; cpu: number } {
    try {
      const pid = this.proc!.pid!;
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return { rssMb: rss, cpu: (Number(f[11]) + Number(f[12])) / 100 };
    } catch {
      return { rssMb: NaN, cpu: NaN };
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : NaN);

/** Runs the load test. Must run as root (it sets up a relay like `relay init`). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const log = o.log ?? (() => {});
  if (process.getuid?.() !== 0) throw new RelayError('NOT_ROOT', 'load runs the broker as its service user: run it as root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-load-'));
  fs.chmodSync(dir, 0o755);
  const clients: MqttClient[] = [];
  let broker: Broker | undefined;
  try {
    const paths = { confDir: path.join(dir, 'etc'), dataDir: path.join(dir, 'var') };
    const plain = await freePort();
    const conf = relayInit({ ...paths, port: await freePort(), bind: '127.0.0.1', hosts: ['127.0.0.1'], systemd: false, plainLoopbackPort: plain });
    const f = relayFiles(conf);
    const u = serviceUser(conf.user);

    // accounts: toys in the password file, phones as dynsec clients with their toy's role
    const pw = () => randomBytes(18).toString('base64url');
    const toys = Array.from({ length: o.toys }, () => ({ user: randomBytes(16).toString('hex'), password: pw() }));
    const phones = toys.flatMap((t, i) => Array.from({ length: o.phonesPerToy }, () => ({ user: `ph-${randomBytes(16).toString('hex')}`, password: pw(), toy: i })));
    writeFileAtomic(f.passwd, toys.map((t) => mosquittoPasswdLine(t.user, t.password) + '\n').join(''), 0o640, 0, u.gid);
    const dyn = JSON.parse(fs.readFileSync(f.dynsec, 'utf8')) as { clients: object[]; roles: object[] };
    for (const t of toys) {
      dyn.roles.push({ rolename: `pp-toy-${t.user}`, acls: [
        { acltype: 'subscribeLiteral', topic: `pp/t/${t.user}/out`, priority: 0, allow: true },
        { acltype: 'publishClientReceive', topic: `pp/t/${t.user}/out`, priority: 0, allow: true },
        { acltype: 'publishClientSend', topic: `pp/t/${t.user}/in`, priority: 0, allow: true },
      ] });
    }
    for (const p of phones) {
      const e = parseMosquittoPasswdLine(mosquittoPasswdLine(p.user, p.password));
      dyn.clients.push({ username: p.user, password: Buffer.from(e.hash).toString('base64'), salt: Buffer.from(e.salt).toString('base64'), iterations: e.iterations, roles: [{ rolename: `pp-toy-${toys[p.toy]!.user}` }] });
    }
    writeFileAtomic(f.dynsec, JSON.stringify(dyn), 0o600, u.uid, u.gid);

    broker = new Broker(f.conf);
    await broker.start();
    log(`broker up (mosquitto as ${u.name}); connecting ${toys.length} toys and ${phones.length} phones`);

    // receivers: index -> client; toys 0..T-1, phones T..
    const all = [...toys.map((t) => ({ ...t, kind: 'toy' as const, toy: -1 })), ...phones.map((p) => ({ ...p, kind: 'phone' as const }))];
    const phonesOf: number[][] = toys.map(() => []);
    phones.forEach((p, j) => phonesOf[p.toy]!.push(toys.length + j));
    const seen = new Set<string>();
    const firstLatency: number[] = [];
    const latencyOf = new Map<string, { sentAt: number; burst: boolean; ms: number }>();
    const res: LoadResult = {
      clients: all.length, connectSeconds: 0, published: 0, acked: 0, expected: 0, delivered: 0, redelivered: 0, lost: 0,
      misdelivered: 0, msgPerSecond: 0, burstMsgPerSecond: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN, steadyP50Ms: NaN, steadyP99Ms: NaN, burstP50Ms: NaN, burstP99Ms: NaN, brokerRssMb: NaN, rssPerClientKb: NaN, brokerCpuSeconds: NaN, restartSeconds: NaN,
    };
    const expectedFor = new Map<string, number>(); // "receiver:sender:seq" expected
    let burstStart = 0;
    let burstKeys = 0;
    let burstDone = 0;
    const burstSet = new Set<string>();

    const rss0 = broker.usage().rssMb;
    const t0 = Date.now();
    let i = 0;
    const connectOne = (k: number) => new Promise<void>((resolve, reject) => {
      const a = all[k]!;
      const c = mqtt.connect({ host: '127.0.0.1', port: plain, username: a.user, password: a.password, clientId: a.user, clean: false,
        protocolVersion: 4, reconnectPeriod: 500 + (k % 10) * 100, connectTimeout: 20000, keepalive: 60, resubscribe: true });
      clients[k] = c;
      c.on('error', () => {});
      c.on('message', (_topic, payload) => {
        if (payload.length < 16) return;
        const sentAt = payload.readDoubleBE(0);
        const sender = payload.readUInt32BE(8);
        const seq = payload.readUInt32BE(12);
        const key = `${k}:${sender}:${seq}`;
        res.delivered++;
        if (!expectedFor.has(key)) {
          res.misdelivered++;
          return;
        }
        if (seen.has(key)) {
          res.redelivered++;
          return;
        }
        seen.add(key);
        firstLatency.push(Date.now() - sentAt);
        latencyOf.set(key, { sentAt, burst: burstSet.has(key), ms: Date.now() - sentAt });
        if (burstSet.has(key) && ++burstDone === burstKeys) res.burstMsgPerSecond = burstKeys / ((Date.now() - burstStart) / 1000);
      });
      c.once('connect', () => {
        const topic = a.kind === 'toy' ? `pp/t/${a.user}/in` : `pp/t/${toys[a.toy]!.user}/out`;
        c.subscribe(topic, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
      });
    });
    await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, all.length) }, async () => {
      while (i < all.length) await connectOne(i++);
    }));
    res.connectSeconds = (Date.now() - t0) / 1000;
    const rss1 = broker.usage().rssMb;
    res.rssPerClientKb = (rss1 * 1024) / all.length;
    log(`connected ${all.length} clients in ${res.connectSeconds.toFixed(1)} s; broker ${rss0.toFixed(1)} -> ${rss1.toFixed(1)} MiB`);

    const seqs = new Array<number>(all.length).fill(0);
    const filler = randomBytes(Math.max(0, o.chunkBytes - 16));
    const sendMessage = (k: number, chunks: number, burst = false) => {
      const a = all[k]!;
      const topic = a.kind === 'toy' ? `pp/t/${a.user}/out` : `pp/t/${toys[a.toy]!.user}/in`;
      const receivers = a.kind === 'toy' ? phonesOf[k]! : [a.toy];
      for (let n = 0; n < chunks; n++) {
        const seq = ++seqs[k]!;
        const p = Buffer.alloc(16 + filler.length);
        p.writeDoubleBE(Date.now(), 0);
        p.writeUInt32BE(k, 8);
        p.writeUInt32BE(seq, 12);
        filler.copy(p, 16);
        for (const r of receivers) {
          const key = `${r}:${k}:${seq}`;
          expectedFor.set(key, 1);
          res.expected++;
          if (burst) {
            burstSet.add(key);
            burstKeys++;
          }
        }
        res.published++;
        clients[k]!.publish(topic, p, { qos: 1 }, (err) => {
          if (!err) res.acked++;
        });
      }
    };

    const cpu0 = broker.usage().cpu;
    let cpuBeforeRestart = 0;
    const runStart = Date.now();
    let burstFired = false;
    let restartFired = false;
    let restartPromise: Promise<void> | undefined;
    let restartAt = Infinity;
    let restartBack = Infinity;
    let carry = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const el = (Date.now() - runStart) / 1000;
        if (el >= o.seconds) {
          clearInterval(tick);
          resolve();
          return;
        }
        carry += o.steadyRate / 10;
        while (carry >= 1) {
          carry -= 1;
          const fromToy = Math.random() < 0.5;
          const k = fromToy ? Math.floor(Math.random() * toys.length) : toys.length + Math.floor(Math.random() * phones.length);
          sendMessage(k, o.chunksPerMessage);
        }
        if (!burstFired && el >= o.seconds / 4) {
          burstFired = true;
          burstStart = Date.now();
          log(`burst: ${o.burstToys} toys send a 40-chunk message each`);
          for (let b = 0; b < Math.min(o.burstToys, toys.length); b++) sendMessage(Math.floor((b * toys.length) / o.burstToys), 40, true);
        }
        if (o.restart && !restartFired && el >= o.seconds / 2) {
          restartFired = true;
          const before = Date.now();
          restartAt = before;
          log('restart: SIGTERM to the broker, then start it again');
          restartPromise = (async () => {
            cpuBeforeRestart = broker!.usage().cpu - cpu0;
            await broker!.stop();
            await broker!.start();
            res.restartSeconds = (Date.now() - before) / 1000;
            restartBack = Date.now();
            log(`broker back after ${res.restartSeconds.toFixed(1)} s`);
          })();
        }
      }, 100);
    });
    await restartPromise;
    const sendEnd = Date.now();
    log(`sending stopped: ${res.published} chunks published; draining (at most ${o.drainSeconds} s)`);
    const drainEnd = Date.now() + o.drainSeconds * 1000;
    while ((seen.size < expectedFor.size || res.acked < res.published) && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 100));
    const lastDelivery = Date.now();
    const u2 = broker.usage();
    res.brokerRssMb = u2.rssMb;
    res.brokerCpuSeconds = restartFired ? cpuBeforeRestart + u2.cpu : u2.cpu - cpu0;
    res.lost = expectedFor.size - seen.size;
    res.msgPerSecond = seen.size / ((Math.max(sendEnd, lastDelivery) - runStart) / 1000);
    const sorted = firstLatency.sort((a, b) => a - b);
    res.p50Ms = pct(sorted, 50);
    res.p99Ms = pct(sorted, 99);
    res.maxMs = sorted[sorted.length - 1] ?? NaN;
    const lat = [...latencyOf.values()];
    const steady = lat.filter((x) => !x.burst && (x.sentAt < restartAt - 5000 || x.sentAt > restartBack + 5000)).map((x) => x.ms).sort((a, b) => a - b);
    const burst = lat.filter((x) => x.burst).map((x) => x.ms).sort((a, b) => a - b);
    res.steadyP50Ms = pct(steady, 50);
    res.steadyP99Ms = pct(steady, 99);
    res.burstP50Ms = pct(burst, 50);
    res.burstP99Ms = pct(burst, 99);
    return res;
  } finally {
    await Promise.all(clients.filter(Boolean).map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run relay -- load [...]`: prints the figures; exit 1 when anything was lost, duplicated or misdelivered. */
export async function runLoadCli(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      toys: { type: 'string' }, 'phones-per-toy': { type: 'string' }, seconds: { type: 'string' }, 'steady-rate': { type: 'string' },
      'chunks-per-message': { type: 'string' }, 'chunk-bytes': { type: 'string' }, 'burst-toys': { type: 'string' }, 'no-restart': { type: 'boolean' },
      'drain-seconds': { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, max: number) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new RelayError('USAGE', `a load option is out of range (0..${max})`);
    return n;
  };
  const o: LoadOptions = {
    ...DEFAULT_LOAD,
    toys: Math.floor(num(values.toys, DEFAULT_LOAD.toys, 5000)),
    phonesPerToy: Math.floor(num(values['phones-per-toy'], DEFAULT_LOAD.phonesPerToy, 4)),
    seconds: num(values.seconds, DEFAULT_LOAD.seconds, 600),
    steadyRate: num(values['steady-rate'], DEFAULT_LOAD.steadyRate, 1000),
    chunksPerMessage: Math.floor(num(values['chunks-per-message'], DEFAULT_LOAD.chunksPerMessage, 40)),
    chunkBytes: Math.floor(num(values['chunk-bytes'], DEFAULT_LOAD.chunkBytes, 7000)),
    burstToys: Math.floor(num(values['burst-toys'], DEFAULT_LOAD.burstToys, 5000)),
    restart: !values['no-restart'],
    drainSeconds: num(values['drain-seconds'], DEFAULT_LOAD.drainSeconds, 600),
    log: (l) => io.err(`load: ${l}\n`),
  };
  const r = await runLoad(o);
  const lines = [
    `clients            ${r.clients} (${o.toys} toys, ${o.toys * o.phonesPerToy} phones), connected in ${r.connectSeconds.toFixed(1)} s`,
    `chunks published   ${r.published} (${r.acked} acknowledged), deliveries expected ${r.expected}`,
    `delivered          ${r.expected - r.lost} unique; broker redeliveries dropped by the dedupe key: ${r.redelivered}`,
    `lost               ${r.lost}`,
    `duplicated         0 to the application: a second copy of a (sender, seq) is dropped by the dedupe key (${r.redelivered} such copies)`,
    `misdelivered       ${r.misdelivered}`,
    `throughput         ${r.msgPerSecond.toFixed(1)} deliveries/s over the run; burst ${r.burstMsgPerSecond.toFixed(1)} deliveries/s`,
    `latency            all: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms (publish to first delivery, restart included)`,
    `                   steady (away from burst and restart): p50 ${r.steadyP50Ms} ms, p99 ${r.steadyP99Ms} ms; burst: p50 ${r.burstP50Ms} ms, p99 ${r.burstP99Ms} ms`,
    `broker             at most ${r.rssPerClientKb.toFixed(1)} KiB per connected client (RSS / clients); ${r.brokerRssMb.toFixed(1)} MiB resident at the end, ${r.brokerCpuSeconds.toFixed(1)} CPU s while sending and draining; restart took ${r.restartSeconds.toFixed(1)} s`,
  ];
  io.out(lines.join('\n') + '\n');
  return r.lost === 0 && r.misdelivered === 0 && r.acked === r.published ? 0 : 1;
}
