/**
 * The relay's enrollment service (docs/BROKER.md "## Phone enrollment"): turns a
 * toy-made grant, carried by the phone it names, into that phone's broker account
 * and per-toy role in Mosquitto's dynamic security plugin; turns a toy-made revoke
 * notice into the removal of that role (dynsec disconnects the phone at once).
 * Two carriers for the toy's notices: the phone (HTTP POST /v1/enroll with the grant
 * inside, /v1/revoke), or the toy itself over MQTT on pp/t/<toyId>/ctl (notice());
 * a phone whose toy delivered the grant enrolls with an empty grant.
 *
 * Checks, in order (each refusal is a typed EnrollError code and a counter
 * `enroll.err.<CODE>`; the HTTP layer maps it to a status):
 *   RATE_LIMITED  global, per source address and per phone key (before any crypto),
 *                 then per toy
 *   TOO_LARGE / FORMAT / WEAK_KEY / PASSWORD   bounds of src/enrollment-grant.ts
 *   FORGED        the phone's request or the toy's notice does not authenticate
 *   UNKNOWN_TOY   the toy id is not in the relay's registry
 *   TOY           the sealed toy id differs from the clear one
 *   WRONG_PHONE   the grant names another phone's key than the sender's
 *   NO_GRANT      a request without a grant, and no toy delivered one for this phone
 *   REPLAY        the notice's seq is not above the last one accepted for this
 *                 toy and phone (every grant works once; a grant made before a
 *                 revoke never works again)
 *   BROKER        the dynamic security plugin refused or did not answer
 * State (the last accepted seq per toy and phone) is written atomically to a
 * JSON file before the broker is changed, so a crash never re-opens a used grant.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { naclCrypto } from '../src/nacl-crypto.js';
import { Counters } from '../src/counters.js';
import {
  ENROLL_MAX_BYTES,
  GrantError,
  NOTICE_BYTES,
  openEnrollRequest,
  openNotice,
  peekEnrollRequest,
  peekNotice,
  phoneBrokerUser,
  toHex,
  type Notice,
} from '../src/enrollment-grant.js';
import { DynsecError, type DynsecClient } from './dynsec-client.js';

export type EnrollErrorCode =
  | 'RATE_LIMITED' | 'TOO_LARGE' | 'FORMAT' | 'WEAK_KEY' | 'PASSWORD' | 'FORGED' | 'UNKNOWN_TOY' | 'TOY' | 'WRONG_PHONE' | 'REPLAY' | 'BROKER' | 'KIND'
  | 'NO_GRANT';

export class EnrollError extends Error {
  override readonly name = 'EnrollError';
  readonly code: EnrollErrorCode;
  constructor(code: EnrollErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(readonly burst: number, readonly perSecond: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Buckets keyed by a string, at most `max` keys (the oldest is dropped). */
class BucketMap {
  private readonly m = new Map<string, TokenBucket>();
  constructor(private readonly burst: number, private readonly perSecond: number, private readonly max = 10000) {}
  take(key: string, now: number): boolean {
    let b = this.m.get(key);
    if (!b) {
      if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
      b = new TokenBucket(this.burst, this.perSecond, now);
      this.m.set(key, b);
    }
    return b.take(now);
  }
}

export interface RateLimits {
  global: [burst: number, perSecond: number];
  perSource: [number, number];
  perPhone: [number, number];
  perToy: [number, number];
}

export const DEFAULT_LIMITS: RateLimits = { global: [20, 10], perSource: [10, 0.2], perPhone: [5, 0.1], perToy: [10, 1 / 60] };

export interface EnrollmentServiceOptions {
  /** The relay's X25519 secret key (enroll/relay.key). Secret. */
  relaySecretKey: Uint8Array;
  /** Toy id → X25519 public key (the registry). Called per request. */
  toyPublicKey: (toyId: string) => Uint8Array | undefined;
  dynsec: DynsecClient;
  /** JSON state file (written atomically, 0600). */
  statePath: string;
  limits?: RateLimits;
  now?: () => number;
  counters?: Counters;
  log?: (event: string, fields: Record<string, string | number>) => void;
}

interface State {
  v: 1;
  /** toyId → phone public key hex → last accepted notice seq (grant or revoke) and whether the phone is enrolled. */
  toys: Record<string, Record<string, { seq: number; enrolled: boolean }>>;
  /** toyId → phone public key hex → a grant the toy delivered on its ctl topic, not yet used. */
  pending?: Record<string, Record<string, { seq: number; at: number }>>;
}

/** A grant delivered by the toy waits this long for its phone (ms). */
export const PENDING_MS = 24 * 3600 * 1000;
export const MAX_PENDING_PER_TOY = 16;

/** The dynsec role that lets a phone read a toy's /out and write its /in. */
export const toyRole = (toyId: string) => `pp-toy-${toyId}`;

/**
 * The ACLs of a toy's role: its family reads /out (messages), /fam (sealed receipts and
 * member notices) and /status (retained online/offline), and writes /in (messages) and
 * /set (sealed family settings). Nothing else (issue 15, docs/BROKER.md "Family topics").
 */
export function toyRoleAcls(toyId: string): ['subscribeLiteral' | 'publishClientReceive' | 'publishClientSend', string][] {
  const t = (s: string) => `pp/t/${toyId}/${s}`;
  return [
    ['subscribeLiteral', t('out')], ['publishClientReceive', t('out')],
    ['subscribeLiteral', t('fam')], ['publishClientReceive', t('fam')],
    ['subscribeLiteral', t('status')], ['publishClientReceive', t('status')],
    ['publishClientSend', t('in')], ['publishClientSend', t('set')],
  ];
}

export class EnrollmentService {
  readonly counters: Counters;
  private readonly now: () => number;
  private readonly limits: RateLimits;
  private readonly global: TokenBucket;
  private readonly perSource: BucketMap;
  private readonly perPhone: BucketMap;
  private readonly perToy: BucketMap;
  private state: State;
  private readonly keyCache = new Map<string, Uint8Array>();
  /** Serialises broker changes (a toy's role, a phone's account) so concurrent requests cannot interleave. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: EnrollmentServiceOptions) {
    this.counters = o.counters ?? new Counters();
    this.now = o.now ?? Date.now;
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.global = new TokenBucket(...this.limits.global, this.now());
    this.perSource = new BucketMap(...this.limits.perSource);
    this.perPhone = new BucketMap(...this.limits.perPhone);
    this.perToy = new BucketMap(...this.limits.perToy);
    this.state = { v: 1, toys: {} };
    try {
      const s = JSON.parse(fs.readFileSync(o.statePath, 'utf8')) as State;
      if (s && s.v === 1 && typeof s.toys === 'object') this.state = s;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  private fail(code: EnrollErrorCode, message: string): never {
    this.counters.inc(`enroll.err.${code}`);
    throw new EnrollError(code, message);
  }

  private mapGrant(e: unknown): never {
    if (e instanceof GrantError) this.fail(e.code, e.message);
    throw e;
  }

  private relayKeyFor(pub: Uint8Array): Uint8Array {
    const h = toHex(pub);
    let k = this.keyCache.get(h);
    if (!k) {
      if (this.keyCache.size > 5000) this.keyCache.clear();
      k = naclCrypto.boxBefore(pub, this.o.relaySecretKey);
      this.keyCache.set(h, k);
    }
    return k;
  }

  private openToyNotice(notice: Uint8Array): Notice {
    let toyId: string;
    try {
      toyId = peekNotice(notice).toyId;
    } catch (e) {
      this.mapGrant(e);
    }
    const pub = this.o.toyPublicKey(toyId);
    if (!pub) this.fail('UNKNOWN_TOY', 'toy not on this relay');
    if (!this.perToy.take(toyId, this.now())) this.fail('RATE_LIMITED', 'too many notices for this toy');
    try {
      return openNotice(naclCrypto, notice, this.relayKeyFor(pub));
    } catch (e) {
      this.mapGrant(e);
    }
  }

  private admit(source: string): void {
    const now = this.now();
    if (!this.global.take(now) || !this.perSource.take(source, now)) this.fail('RATE_LIMITED', 'too many requests');
  }

  private entry(toyId: string, phoneHex: string): { seq: number; enrolled: boolean } | undefined {
    return this.state.toys[toyId]?.[phoneHex];
  }

  private record(toyId: string, phoneHex: string, seq: number, enrolled: boolean): void {
    (this.state.toys[toyId] ??= {})[phoneHex] = { seq, enrolled };
    this.save();
  }

  private save(): void {
    const tmp = `${this.o.statePath}.tmp-${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    fs.renameSync(tmp, this.o.statePath);
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => {});
    return p;
  }

  /**
   * Handles an enroll request from `source` (an address). With a grant inside, enrolls
   * the phone for that grant's toy; with none (grant length 0), for every toy that
   * delivered a grant for this phone on its ctl topic (NO_GRANT when there is none).
   * Resolves with the phone's broker user name and the toys it was enrolled for.
   */
  async enroll(req: Uint8Array, source: string): Promise<{ user: string; toyId: string; toys: string[] }> {
    this.counters.inc('enroll.request');
    this.admit(source);
    if (req.length > ENROLL_MAX_BYTES) this.fail('TOO_LARGE', 'request too large');
    let phonePublicKey: Uint8Array;
    try {
      phonePublicKey = peekEnrollRequest(req).phonePublicKey;
    } catch (e) {
      this.mapGrant(e);
    }
    const phoneHex = toHex(phonePublicKey);
    if (!this.perPhone.take(phoneHex, this.now())) this.fail('RATE_LIMITED', 'too many requests from this phone');
    let grant: Uint8Array;
    let password: string;
    try {
      ({ grant, password } = openEnrollRequest(naclCrypto, req, this.relayKeyFor(phonePublicKey)));
    } catch (e) {
      this.mapGrant(e);
    }
    const user = phoneBrokerUser(naclCrypto, phonePublicKey);
    if (grant.length === 0) {
      return this.serial(async () => {
        const now = this.now();
        const toys = Object.entries(this.state.pending ?? {})
          .filter(([, m]) => m[phoneHex] !== undefined && now - m[phoneHex]!.at <= PENDING_MS)
          .map(([toyId, m]) => ({ toyId, seq: m[phoneHex]!.seq }));
        if (toys.length === 0) this.fail('NO_GRANT', 'no toy has delivered a grant for this phone');
        for (const g of toys) {
          delete this.state.pending![g.toyId]![phoneHex];
          await this.applyGrant({ kind: 'grant', toyId: g.toyId, phonePublicKey, seq: g.seq }, phoneHex, user, password);
        }
        return { user, toyId: toys[0]!.toyId, toys: toys.map((g) => g.toyId) };
      });
    }
    const n = this.openToyNotice(grant);
    if (n.kind !== 'grant') this.fail('KIND', 'not a grant');
    if (toHex(n.phonePublicKey) !== phoneHex) this.fail('WRONG_PHONE', 'the grant names another phone');
    return this.serial(async () => {
      await this.applyGrant(n, phoneHex, user, password);
      return { user, toyId: n.toyId, toys: [n.toyId] };
    });
  }

  /**
   * Brings the role of every toy with an enrolled phone up to toyRoleAcls(): a role made
   * by an older relay lacks the topics added since (issue 15's /fam, /status, /set), and
   * its family would otherwise miss them until the toy's next enrollment. `relay
   * enroll-serve` runs it at start. Idempotent: ACLs already there are left as they are.
   * Returns the roles checked and the ACLs added. Throws EnrollError BROKER when the
   * plugin refuses (the service then does not start: the operator sees why).
   */
  upgradeRoles(): Promise<{ roles: number; added: number }> {
    return this.serial(async () => {
      const d = this.o.dynsec;
      let roles = 0;
      let added = 0;
      for (const [toyId, phones] of Object.entries(this.state.toys)) {
        if (!Object.values(phones).some((p) => p.enrolled)) continue;
        const role = toyRole(toyId);
        roles++;
        try {
          await d.runTolerant({ command: 'createRole', rolename: role }, ['Role already exists']);
          for (const [acltype, topic] of toyRoleAcls(toyId)) {
            try {
              await d.run({ command: 'addRoleACL', rolename: role, acltype, topic, allow: true, priority: 0 });
              added++;
            } catch (e) {
              if (!(e instanceof DynsecError) || e.detail !== 'ACL with this topic already exists') throw e;
            }
          }
        } catch (e) {
          if (e instanceof DynsecError) this.fail('BROKER', `broker refused ${e.command}: ${e.detail}`);
          throw e;
        }
      }
      if (added > 0) this.counters.inc('enroll.acls_added', added);
      this.o.log?.('enroll.roles', { roles, added });
      return { roles, added };
    });
  }

  /** Inside serial(): checks seq, records it, then creates the role, the client and the link. */
  private async applyGrant(n: Notice, phoneHex: string, user: string, password: string): Promise<void> {
    const last = this.entry(n.toyId, phoneHex);
    if (last && n.seq <= last.seq) this.fail('REPLAY', 'grant already used or made before a revoke');
    this.record(n.toyId, phoneHex, n.seq, true);
    const d = this.o.dynsec;
    const role = toyRole(n.toyId);
    try {
      await d.runTolerant({ command: 'createRole', rolename: role }, ['Role already exists']);
      for (const [acltype, topic] of toyRoleAcls(n.toyId)) {
        await d.runTolerant({ command: 'addRoleACL', rolename: role, acltype, topic, allow: true, priority: 0 }, ['ACL with this topic already exists']);
      }
      const existing = await d.getClient(user);
      if (existing) await d.run({ command: 'setClientPassword', username: user, password });
      else await d.run({ command: 'createClient', username: user, password, textname: 'PawPost phone' });
      if (!existing?.roles.includes(role)) await d.run({ command: 'addClientRole', username: user, rolename: role, priority: 0 });
    } catch (e) {
      if (e instanceof DynsecError) this.fail('BROKER', `broker refused ${e.command}: ${e.detail}`);
      throw e;
    }
    this.counters.inc('enroll.ok');
    this.o.log?.('enroll.ok', { toy: n.toyId.slice(0, 8), user: user.slice(0, 11), seq: n.seq });
  }

  /**
   * Handles a toy's revoke notice (any carrier may deliver it: it is sealed by the toy).
   * Removes the toy's role from the phone at once (the plugin disconnects it) and the
   * phone's account when it has no toy left. Resolves with what was removed.
   */
  async revoke(notice: Uint8Array, source: string): Promise<{ user: string; toyId: string; deleted: boolean }> {
    this.counters.inc('revoke.request');
    this.admit(source);
    if (notice.length !== NOTICE_BYTES) this.fail('FORMAT', 'notice has the wrong length');
    const n = this.openToyNotice(notice);
    if (n.kind !== 'revoke') this.fail('KIND', 'not a revoke notice');
    return this.serial(() => this.applyRevoke(n));
  }

  private async applyRevoke(n: Notice): Promise<{ user: string; toyId: string; deleted: boolean }> {
    const phoneHex = toHex(n.phonePublicKey);
    const user = phoneBrokerUser(naclCrypto, n.phonePublicKey);
    const last = this.entry(n.toyId, phoneHex);
    if (last && n.seq <= last.seq) this.fail('REPLAY', 'revoke notice older than the last notice');
    if (this.state.pending?.[n.toyId]) delete this.state.pending[n.toyId]![phoneHex];
    this.record(n.toyId, phoneHex, n.seq, false);
    const d = this.o.dynsec;
    let deleted = false;
    try {
      const c = await d.getClient(user);
      if (c) {
        const rest = c.roles.filter((r) => r !== toyRole(n.toyId));
        if (rest.length === 0) {
          await d.run({ command: 'deleteClient', username: user });
          deleted = true;
        } else if (rest.length !== c.roles.length) {
          await d.run({ command: 'removeClientRole', username: user, rolename: toyRole(n.toyId) });
        }
      }
    } catch (e) {
      if (e instanceof DynsecError) this.fail('BROKER', `broker refused ${e.command}: ${e.detail}`);
      throw e;
    }
    this.counters.inc('revoke.ok');
    this.o.log?.('revoke.ok', { toy: n.toyId.slice(0, 8), user: user.slice(0, 11), seq: n.seq });
    return { user, toyId: n.toyId, deleted };
  }

  /**
   * A notice the toy published on its own pp/t/<topicToyId>/ctl (the broker lets only
   * that toy publish there). A grant is kept as pending for PENDING_MS (at most
   * MAX_PENDING_PER_TOY per toy, oldest dropped) until the phone enrolls without a grant;
   * a revoke is applied at once. Never rejects: refusals are counted (`notice.err.<CODE>`
   * and `enroll.err.<CODE>`) and returned.
   */
  async notice(topicToyId: string, payload: Uint8Array): Promise<'pending' | 'revoked' | EnrollErrorCode> {
    this.counters.inc('notice.request');
    try {
      const n = this.openToyNotice(payload);
      if (n.toyId !== topicToyId) this.fail('TOY', 'notice for another toy than its topic');
      if (n.kind === 'revoke') {
        await this.serial(() => this.applyRevoke(n));
        return 'revoked';
      }
      return await this.serial(async () => {
        const phoneHex = toHex(n.phonePublicKey);
        const last = this.entry(n.toyId, phoneHex);
        if (last && n.seq <= last.seq) this.fail('REPLAY', 'grant older than the last notice');
        const m = ((this.state.pending ??= {})[n.toyId] ??= {});
        const keys = Object.keys(m);
        if (keys.length >= MAX_PENDING_PER_TOY && !(phoneHex in m)) delete m[keys.sort((a, b) => m[a]!.at - m[b]!.at)[0]!];
        m[phoneHex] = { seq: n.seq, at: this.now() };
        this.save();
        this.counters.inc('notice.pending');
        return 'pending' as const;
      });
    } catch (e) {
      if (e instanceof EnrollError) {
        this.counters.inc(`notice.err.${e.code}`);
        return e.code;
      }
      this.counters.inc('notice.internal');
      return 'BROKER';
    }
  }
}

const STATUS: Record<EnrollErrorCode, number> = {
  RATE_LIMITED: 429, TOO_LARGE: 413, FORMAT: 400, WEAK_KEY: 400, PASSWORD: 400, KIND: 400,
  FORGED: 403, UNKNOWN_TOY: 403, TOY: 403, WRONG_PHONE: 403, NO_GRANT: 403, REPLAY: 409, BROKER: 503,
};

export interface EnrollmentServerOptions {
  service: EnrollmentService;
  port: number;
  host?: string;
  /** HTTPS with the relay's server certificate; plain HTTP when absent (behind a TLS proxy or in tests). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * HTTP(S) front: POST /v1/enroll and POST /v1/revoke, body application/octet-stream
 * (at most ENROLL_MAX_BYTES; larger bodies are cut off with 413 before buffering).
 * Answers JSON: {"ok":true,"user":...} or {"error":"<CODE>"}. Never throws.
 */
export function startEnrollmentServer(o: EnrollmentServerOptions): Promise<http.Server> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(body));
    };
    const route = req.url === '/v1/enroll' ? 'enroll' : req.url === '/v1/revoke' ? 'revoke' : undefined;
    if (req.method !== 'POST' || !route) return send(404, { error: 'NOT_FOUND' });
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > ENROLL_MAX_BYTES) {
        if (!over) {
          over = true;
          o.service.counters.inc('enroll.err.TOO_LARGE');
          send(413, { error: 'TOO_LARGE' });
          req.destroy();
        }
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (over) return;
      const body = new Uint8Array(Buffer.concat(chunks));
      const source = req.socket.remoteAddress ?? '?';
      const p = route === 'enroll' ? o.service.enroll(body, source) : o.service.revoke(body, source);
      p.then(
        (r) => send(200, { ok: true, user: r.user, toyId: r.toyId }),
        (e) => {
          if (e instanceof EnrollError) return send(STATUS[e.code], { error: e.code });
          o.service.counters.inc('enroll.internal');
          send(500, { error: 'INTERNAL' });
        },
      );
    });
  };
  const server = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, handler) : http.createServer(handler);
  server.headersTimeout = 10000;
  server.requestTimeout = 10000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve(server));
  });
}
