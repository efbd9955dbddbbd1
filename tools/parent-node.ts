/**
 * Node adapters for the parent command line (tools/parent-cli.ts) around the
 * portable phone library (phone/parent-phone.ts): the history's files in a
 * directory, Bluetooth through the simulator's radio endpoint (sim/radio-endpoint.ts)
 * over loopback HTTP, and the relay over MQTT (npm `mqtt`, QoS 1, a persistent
 * session per phone so that the toy's messages wait at the relay between runs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import * as https from 'node:https';
import mqtt, { type MqttClient } from 'mqtt';
import { PairingError } from '../src/pairing-protocol.js';
import type { HistoryFilesPort } from '../phone/message-history.js';
import type { PhoneTransport } from '../phone/phone-pairing.js';
import type { ParentLink, ParentPhone } from '../phone/parent-phone.js';
import type { ToyNote } from '../phone/phone-family.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

/** HistoryFilesPort over a directory: one file per name, written atomically (temp file, fsync, rename), mode 0600. */
export class DirFiles implements HistoryFilesPort {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  private file(name: string): string {
    if (!NAME_RE.test(name)) throw new Error('bad file name');
    return path.join(this.dir, name);
  }
  read(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(fs.readFileSync(this.file(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
  write(name: string, bytes: Uint8Array): void {
    const f = this.file(name);
    const tmp = `${f}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, f);
  }
  remove(name: string): void {
    fs.rmSync(this.file(name), { force: true });
  }
  list(): string[] {
    return fs
      .readdirSync(this.dir)
      .filter((n) => NAME_RE.test(n) && !n.endsWith('.tmp'))
      .sort();
  }
}

/** Thrown for what the relay or the radio endpoint answered (a one-line message). */
export class LinkError extends Error {
  override readonly name = 'LinkError';
}

async function post(base: string, route: string, body: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(new URL(route, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(45_000) });
  } catch {
    throw new LinkError(`cannot reach the toy's radio at ${base} (is the simulator running? npm start)`);
  }
  let j: Record<string, unknown>;
  try {
    j = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new LinkError(`the radio at ${base} answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const code = typeof j.code === 'string' ? j.code : 'ERROR';
    const msg = typeof j.error === 'string' ? j.error : `HTTP ${res.status}`;
    if (code === 'NOT_FOUND' || code === 'NOT_ADVERTISING') throw new PairingError('NOT_PAIRING', 'the toy is not in pairing mode: hold its paw 3 s (or paw and heart, if a phone is paired) until the heart blinks blue');
    if (code === 'LOCKED') throw Object.assign(new PairingError('LOCKED', msg), { lockedMinutes: typeof j.lockedMinutes === 'number' ? j.lockedMinutes : undefined });
    if (['TIMEOUT', 'CLOSED', 'BUSY'].includes(code)) throw new PairingError(code as 'TIMEOUT', msg);
    throw new LinkError(msg);
  }
  return j;
}

/** A BLE link to the simulated toy through the simulator's radio endpoint. */
export class HttpRadio implements PhoneTransport {
  private constructor(private readonly base: string, private readonly link: number) {}

  /** Connects to the toy (it must be advertising: pairing mode). Throws PairingError NOT_PAIRING, LinkError. */
  static async connect(base: string): Promise<HttpRadio> {
    const r = await post(base, '/ble/connect', {});
    if (typeof r.link !== 'number') throw new LinkError('the radio answered without a link');
    return new HttpRadio(base, r.link);
  }
  async write(characteristic: string, value: Uint8Array): Promise<void> {
    await post(this.base, '/ble/write', { link: this.link, characteristic, value: Buffer.from(value).toString('base64') });
  }
  async read(characteristic: string): Promise<Uint8Array> {
    const r = await post(this.base, '/ble/read', { link: this.link, characteristic });
    return new Uint8Array(Buffer.from(String(r.value ?? ''), 'base64'));
  }
  async nextNotification(characteristic: string): Promise<Uint8Array> {
    const r = await post(this.base, '/ble/next', { link: this.link, characteristic });
    return new Uint8Array(Buffer.from(String(r.value ?? ''), 'base64'));
  }
  disconnect(): void {
    void post(this.base, '/ble/disconnect', { link: this.link }).catch(() => undefined);
  }
  /** Disconnects and waits for the answer. */
  async close(): Promise<void> {
    await post(this.base, '/ble/disconnect', { link: this.link }).catch(() => undefined);
  }
}

/** Asks the simulator's relay stand-in to create (or update) this phone's broker account for `toyId`. */
export async function simRelayAccount(base: string, user: string, password: string, toyId: string): Promise<void> {
  await post(base, '/relay/account', { user, password, toyId });
}

/** The relay over MQTT: a persistent session (client id = the phone's broker user), QoS 1 both ways. */
export class MqttRelay implements ParentLink {
  private last = Date.now();
  /** Chunks handed to the phone. */
  seen = 0;
  /** Member notices from the toy that arrived on this connection ("Dad's phone was added"). */
  readonly notices: Extract<ToyNote, { kind: 'member' }>[] = [];
  /** The toy's retained status record, once the relay handed it over. */
  status: { online: boolean; sinceMs: number } | undefined;
  /** The relay let this phone read the toy's status topic (false: a relay role made before the family topics). */
  statusReadable = false;
  private constructor(
    private readonly client: MqttClient,
    private readonly phone: ParentPhone,
  ) {}

  /**
   * Connects with the phone's persistent session. Chunks on `topic` go to `phone` from
   * the first packet on (the relay sends what waited right after CONNACK), each stored
   * before the client acknowledges it. Throws LinkError with a one-line reason.
   */
  static async connect(url: string, user: string, password: string, phone: ParentPhone, topic: string): Promise<MqttRelay> {
    const client = mqtt.connect(url, { clientId: user, username: user, password, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    const relay = new MqttRelay(client, phone);
    const fam = phone.topics();
    client.on('message', (t, payload) => {
      if (t === fam.fam) {
        relay.last = Date.now();
        const n = phone.receiveNote(new Uint8Array(payload));
        if (n?.kind === 'member') relay.notices.push(n);
        return;
      }
      if (t === fam.status) {
        relay.status = phone.readStatus(new Uint8Array(payload));
        return;
      }
      if (t !== topic) return;
      relay.seen++;
      relay.last = Date.now();
      phone.receive(new Uint8Array(payload));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed')));
      });
    } catch (e) {
      client.end(true);
      const code = (e as { code?: unknown }).code;
      if (code === 4 || code === 5) throw new LinkError(`the relay at ${url} refused this phone's account (not enrolled yet, or removed from the toy)`);
      throw new LinkError(`cannot reach the relay at ${url}: ${e instanceof Error ? e.message.split('\n')[0] : 'error'}`);
    }
    client.on('error', () => undefined);
    return relay;
  }

  async publish(topic: string, payload: Uint8Array): Promise<void> {
    await this.client.publishAsync(topic, Buffer.from(payload), { qos: 1 });
  }

  /** Subscribes (QoS 1) to the toy's topic and waits until nothing has come for `idleMs` (at most `maxMs`). */
  async sync(topic: string, idleMs: number, maxMs = 60_000): Promise<number> {
    const fam = this.phone.topics();
    const granted = await this.client.subscribeAsync([topic, fam.fam, fam.status], { qos: 1 });
    // the family topics are optional: a relay role made before them still carries the messages
    if (granted.some((g) => g.topic === topic && g.qos === 128)) throw new LinkError(`the relay refused the subscription to ${topic}`);
    this.statusReadable = granted.some((g) => g.topic === fam.status && g.qos !== 128);
    const start = Date.now();
    this.last = Math.max(this.last, start);
    while (Date.now() - this.last < idleMs && Date.now() - start < maxMs) await new Promise((r) => setTimeout(r, 50));
    return this.seen;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** Reads a relay public key file (`PAWPOST-RELAY-PUBLIC-V1 <64 hex>`, as `npm run relay -- init` writes it). Throws LinkError. */
export function readRelayPublicKey(file: string): Uint8Array {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new LinkError(`cannot read the relay key ${file}`);
  }
  const m = /^PAWPOST-RELAY-PUBLIC-V1 ([0-9a-f]{64})\s*$/.exec(text);
  if (!m) throw new LinkError(`${file} is not a relay public key (PAWPOST-RELAY-PUBLIC-V1 <hex>)`);
  return new Uint8Array(Buffer.from(m[1]!, 'hex'));
}

/**
 * Enrolls the phone at the relay's enrollment service: POST <relay>/v1/enroll with the
 * sealed request (phone/parent-phone.ts enrollRequest). `ca`: a PEM file for an HTTPS
 * relay with its own CA. Resolves with the broker user the relay created. Throws LinkError
 * with the service's refusal (NO_GRANT, REPLAY, RATE_LIMITED, ...).
 */
export async function enrollAtRelay(phone: ParentPhone, relay: string, relayPublicKey: Uint8Array, ca?: string): Promise<string> {
  const body = phone.enrollRequest(relayPublicKey);
  const url = new URL('/v1/enroll', relay);
  const lib = url.protocol === 'https:' ? https : http;
  let caPem: Buffer | undefined;
  if (ca) {
    try {
      caPem = fs.readFileSync(ca);
    } catch {
      throw new LinkError(`cannot read the relay CA ${ca}`);
    }
  }
  const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = lib.request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length }, ca: caPem, timeout: 15000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 4096) text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new LinkError(`cannot reach the relay's enrollment service at ${relay}: ${e.message}`)));
    req.end(Buffer.from(body));
  });
  let j: { ok?: boolean; user?: string; error?: string; code?: string } = {};
  try {
    j = JSON.parse(r.text) as typeof j;
  } catch {
    /* not JSON */
  }
  if (r.status !== 200 || !j.ok || typeof j.user !== 'string') throw new LinkError(`the relay refused the enrollment (HTTP ${r.status}${j.error ? `: ${j.error}` : ''})`);
  return j.user;
}
