/**
 * The simulator's radio and relay, reachable from another process on this machine:
 * a phone that is not inside the simulator (the parent command line,
 * tools/parent-cli.ts) uses it as its Bluetooth (the simulated air of
 * sim/moddable/ble-air.ts, through a SimAirCentral per link) and as the relay's
 * account service (it adds the phone's broker account to the embedded broker's
 * registry, which the company's enrollment service does for a real relay:
 * docs/BROKER.md "Phone enrollment"). Loopback only; simulator only.
 *
 * HTTP POST, JSON bodies of at most 8 KiB, bytes as base64, answers JSON:
 *   /ble/connect     {}                               → {link}         (409 {code: NOT_FOUND | NOT_ADVERTISING | BUSY | DROPPED | LOCKED, lockedMinutes})
 *   /ble/read        {link, characteristic}           → {value}
 *   /ble/write       {link, characteristic, value}    → {}
 *   /ble/next        {link, characteristic}           → {value}        (409 {code: TIMEOUT | CLOSED} after notifyTimeoutMs)
 *   /ble/disconnect  {link}                           → {}
 *   /relay/account   {user, password, toyId}          → {}             (400 for an unknown toy or a bad user/password)
 * Errors are {error, code}: 400 for a bad request, 404 unknown route or link, 409 a
 * radio or pairing error (its PairingError/AttError code). At most 4 links at once;
 * links idle for 60 s are dropped. Nothing here logs a value or a password.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PairingError } from '../src/pairing-protocol.js';
import { mosquittoHash, PHONE_USER_RE, type BrokerRegistry } from './embedded-broker.js';
import { SimAirCentral, type BleAir } from './moddable/ble-air.js';

export interface RadioEndpointOptions {
  air: BleAir;
  /** Loopback port (0: any free port). */
  port: number;
  /** The embedded broker's registry (for /relay/account). */
  registry: BrokerRegistry;
  /** How long /ble/next waits for a notification (default 30 s: the toy computes keys). */
  notifyTimeoutMs?: number;
  /**
   * How long the toy's pairing lock still runs (ms, 0: not locked). What the simulator knows
   * and the air does not show (a locked toy just does not advertise): a connect that finds no
   * toy then answers LOCKED with lockedMinutes, as the page's phones are told.
   */
  lockedMs?: () => number;
}

export interface RadioEndpoint {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 8192;
const MAX_LINKS = 4;
const IDLE_MS = 60_000;

class BadRequest extends Error {}

function b64(v: unknown, max = 4096): Uint8Array {
  if (typeof v !== 'string' || v.length > max || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new BadRequest('value must be base64');
  return new Uint8Array(Buffer.from(v, 'base64'));
}
function name(v: unknown): string {
  if (typeof v !== 'string' || !/^[a-z]{1,16}$/.test(v)) throw new BadRequest('characteristic must be a name such as pair');
  return v;
}

export async function startRadioEndpoint(o: RadioEndpointOptions): Promise<RadioEndpoint> {
  const links = new Map<number, { c: SimAirCentral; used: number }>();
  let next = 1;
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, l] of links)
      if (now - l.used > IDLE_MS) {
        l.c.disconnect();
        links.delete(id);
      }
  }, 5000);
  sweep.unref();

  const link = (v: unknown) => {
    const l = typeof v === 'number' ? links.get(v) : undefined;
    if (!l) throw Object.assign(new Error('no such link'), { status: 404, code: 'CLOSED' });
    l.used = Date.now();
    return l.c;
  };

  const route = async (url: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    switch (url) {
      case '/ble/connect': {
        if (links.size >= MAX_LINKS) throw Object.assign(new Error('too many links'), { status: 409, code: 'BUSY' });
        const c = new SimAirCentral(o.air, { notifyTimeoutMs: o.notifyTimeoutMs ?? 30000 });
        const r = await c.connect();
        const lockedMs = r === 'NOT_FOUND' || r === 'NOT_ADVERTISING' ? (o.lockedMs?.() ?? 0) : 0;
        if (lockedMs > 0) throw Object.assign(new Error('pairing is locked after too many wrong codes'), { status: 409, code: 'LOCKED', lockedMinutes: Math.ceil(lockedMs / 60000) });
        if (r !== 'OK') throw Object.assign(new Error(`connect: ${r}`), { status: 409, code: r });
        const id = next++;
        links.set(id, { c, used: Date.now() });
        return { link: id };
      }
      case '/ble/read':
        return { value: Buffer.from(await link(body.link).read(name(body.characteristic))).toString('base64') };
      case '/ble/write':
        await link(body.link).write(name(body.characteristic), b64(body.value));
        return {};
      case '/ble/next':
        return { value: Buffer.from(await link(body.link).nextNotification(name(body.characteristic))).toString('base64') };
      case '/ble/disconnect': {
        const id = body.link;
        const l = typeof id === 'number' ? links.get(id) : undefined;
        l?.c.disconnect();
        if (typeof id === 'number') links.delete(id);
        return {};
      }
      case '/relay/account': {
        const { user, password, toyId } = body;
        if (typeof user !== 'string' || !PHONE_USER_RE.test(user)) throw new BadRequest('user must be ph- and 32 hex digits');
        if (typeof password !== 'string' || !/^[\x21-\x7e]{16,128}$/.test(password)) throw new BadRequest('password must be 16..128 printable characters');
        if (typeof toyId !== 'string' || !o.registry.toys[toyId]) throw new BadRequest('unknown toy');
        const old = o.registry.phones[user];
        o.registry.phones[user] = { passwordHash: mosquittoHash(password), toys: [...new Set([...(old?.toys ?? []), toyId])] };
        return {};
      }
      default:
        throw Object.assign(new Error('not found'), { status: 404, code: 'NOT_FOUND' });
    }
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.method !== 'POST') return send(404, { error: 'not found', code: 'NOT_FOUND' });
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else parts.push(c);
    });
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        const v = JSON.parse(Buffer.concat(parts).toString() || '{}') as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('object');
        body = v as Record<string, unknown>;
      } catch {
        return send(400, { error: 'expected a JSON object', code: 'BAD_REQUEST' });
      }
      route(req.url ?? '/', body).then(
        (r) => send(200, r),
        (e: unknown) => {
          if (e instanceof BadRequest) return send(400, { error: e.message, code: 'BAD_REQUEST' });
          if (e instanceof PairingError) return send(409, { error: e.message, code: e.code });
          const x = e as { status?: number; code?: string; message?: string; lockedMinutes?: number };
          send(x.status ?? 409, { error: x.message ?? 'radio error', code: typeof x.code === 'string' ? x.code : 'ERROR', ...(x.lockedMinutes ? { lockedMinutes: x.lockedMinutes } : {}) });
        },
      );
    });
    req.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closed = false;
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      for (const l of links.values()) l.c.disconnect();
      links.clear();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
