/**
 * Node-side helpers for the MQTT integration tests: start Mosquitto with the shipped
 * configuration (broker/mosquitto.conf + broker/acl) on a free loopback port in a
 * temp dir, and build toys and phones on the real socket and clock adapters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Counters } from '../src/counters.js';
import { Inbox, type InboxMessage } from '../src/inbox.js';
import type { MqttError } from '../src/mqtt-codec.js';
import { MqttSession } from '../src/mqtt-session.js';
import { Outbox } from '../src/outbox.js';
import { NodeClock } from '../sim/node-clock.js';
import { NodeSocket } from '../sim/node-socket.js';
import { mosquittoHash, mosquittoPasswdLines, mosquittoPhoneAcl, type BrokerRegistry } from '../sim/embedded-broker.js';
import { MemoryStorage } from './fakes/memory-storage.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function hasMosquitto(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, 'mosquitto')));
}

/** Throwaway accounts for tests: 2 toys, a phone paired with toy A only. Passwords are random per run. */
export function makeAccounts() {
  const hex = () => randomFillSync(Buffer.alloc(16)).toString('hex');
  const pw = () => randomFillSync(Buffer.alloc(18)).toString('base64url');
  const a = { id: hex(), pw: pw() };
  const b = { id: hex(), pw: pw() };
  const phone = { id: `ph-${hex()}`, pw: pw() };
  const registry: BrokerRegistry = {
    toys: { [a.id]: { passwordHash: mosquittoHash(a.pw) }, [b.id]: { passwordHash: mosquittoHash(b.pw) } },
    phones: { [phone.id]: { passwordHash: mosquittoHash(phone.pw), toys: [a.id] } },
  };
  return { a, b, phone, registry };
}

/** Mosquitto with the shipped config, on a free loopback port, in a temp dir. stop() is safe twice. */
export class Mosquitto {
  proc: ChildProcess | undefined;
  private constructor(readonly dir: string, readonly port: number, readonly conf: string) {}

  static async start(registry: BrokerRegistry): Promise<Mosquitto> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-mosq-'));
    const port = await freePort();
    const shipped = fs.readFileSync(path.join(ROOT, 'broker/mosquitto.conf'), 'utf8');
    const general = shipped.slice(0, shipped.indexOf('# --- listener'));
    if (general.length === shipped.length || general.length < 100) throw new Error('broker/mosquitto.conf has no listener marker');
    fs.writeFileSync(path.join(dir, 'passwd'), mosquittoPasswdLines(registry), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'acl'), fs.readFileSync(path.join(ROOT, 'broker/acl'), 'utf8') + mosquittoPhoneAcl(registry));
    fs.mkdirSync(path.join(dir, 'data'));
    const conf = general
      .replace('/etc/mosquitto/pawpost/passwd', path.join(dir, 'passwd'))
      .replace('/etc/mosquitto/pawpost/acl', path.join(dir, 'acl'))
      .replaceAll('/var/lib/mosquitto/pawpost/', path.join(dir, 'data') + '/')
      + `user ${os.userInfo().username}\nlog_dest file ${path.join(dir, 'log')}\n`
      + `listener ${port} 127.0.0.1\nuse_username_as_clientid true\n`;
    fs.writeFileSync(path.join(dir, 'mosquitto.conf'), conf);
    const m = new Mosquitto(dir, port, path.join(dir, 'mosquitto.conf'));
    await m.run();
    return m;
  }

  async run(): Promise<void> {
    this.proc = spawn('mosquitto', ['-c', this.conf], { stdio: 'ignore' });
    const end = Date.now() + 10000;
    for (;;) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(this.port, '127.0.0.1', () => { s.destroy(); r(true); });
        s.on('error', () => r(false));
      });
      if (ok) return;
      if (Date.now() > end || this.proc.exitCode !== null) throw new Error(`mosquitto did not start: ${this.log()}`);
      await sleep(20);
    }
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Graceful stop (SIGTERM: Mosquitto saves its persistence file). */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A device (toy or phone) on the real adapters: session + outbox + inbox on its own MemoryStorage. */
export class Device {
  readonly storage = new MemoryStorage();
  /** Called on every counter change (tests hook events with it). */
  onCount: ((name: string, value: number) => void) | undefined;
  readonly counters: Counters = (() => {
    const c = new Counters();
    const inc = c.inc.bind(c);
    c.inc = (name: string, n = 1) => {
      inc(name, n);
      this.onCount?.(name, c.get(name));
    };
    return c;
  })();
  readonly errors: MqttError[] = [];
  readonly received: Uint8Array[] = [];
  readonly socket = new NodeSocket();
  readonly clock = new NodeClock();
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly session: MqttSession;

  constructor(opts: { user: string; password: string; port: number; subscriptions: string[]; host?: string }) {
    this.outbox = new Outbox({ storage: this.storage, counters: this.counters });
    this.inbox = new Inbox({ storage: this.storage, counters: this.counters });
    this.session = new MqttSession({
      socket: this.socket, clock: this.clock, random: { fill: (b) => { randomFillSync(b); } },
      host: opts.host ?? '127.0.0.1', port: opts.port, clientId: opts.user, username: opts.user, password: opts.password,
      subscriptions: opts.subscriptions, outbox: this.outbox, inbox: this.inbox, counters: this.counters,
      keepaliveSec: 30, initialBackoffMs: 100, maxBackoffMs: 1000, ackTimeoutMs: 5000, connectTimeoutMs: 3000,
      onError: (e) => this.errors.push(e),
    });
    this.inbox.setConsumer((m: InboxMessage) => {
      this.received.push(m.payload);
      this.inbox.confirm(m.id);
    });
  }
}
