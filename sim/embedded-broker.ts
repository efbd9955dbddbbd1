/**
 * The embedded MQTT broker of `npm start` (aedes, in process), so a new user needs
 * no Mosquitto. It applies the same rules as broker/mosquitto.conf + broker/acl:
 *
 * - no anonymous access; every account is in the registry with a Mosquitto
 *   password hash (`$7$` PBKDF2-SHA512 as written by mosquitto_passwd, or `$6$`
 *   salted SHA-512), so one registry serves both brokers;
 * - the client id must equal the username (Mosquitto: use_username_as_clientid);
      // retained: firmware releases (issue 14) and a toy's own status record (issue 15) only
      if ((packet.retain && !isFwTopic(packet.topic) && packet.topic !== familyTopics(user).status) || !aclAllows(registry, user, 'write', packet.topic)) {
 *
 * Differences from Mosquitto (documented in docs/BROKER.md): a refused PUBLISH closes
 * the client's connection (Mosquitto acknowledges and drops it); a wrong client id
 * is refused (Mosquitto replaces it); persistence is in memory (the queue survives
 * a client going offline, not a restart of the simulator).
 *
 * The registry is read on every check: adding or removing a pairing takes effect at
 * once (for subscriptions made after the change).
 */
import { pbkdf2Sync, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { toyTopics } from '../src/topics.js';
import { familyTopics } from '../src/family-note.js';

/** Accounts the broker knows. Passwords are never stored, only hashes. */
export interface BrokerRegistry {
  /** toyId (32 lowercase hex) → its password hash. */
  toys: Record<string, { passwordHash: string }>;
  /** phone username (`ph-` + 32 lowercase hex) → its password hash and paired toy ids. */
  phones: Record<string, { passwordHash: string; toys: string[] }>;
  /** Release operators (issue 14: `pp-release`) → their password hash; they alone write pp/fw/#. */
  operators?: Record<string, { passwordHash: string }>;
}

// ---- firmware updates (issue 14): pp/fw/# read by every toy, written (retained) by release operators only
export const FW_TOPIC_PREFIX = 'pp/fw/';
const isFwTopic = (topic: string) => topic.startsWith(FW_TOPIC_PREFIX) && topic.length > FW_TOPIC_PREFIX.length;
const isOperator = (registry: BrokerRegistry, username: string) =>
  !!registry.operators && Object.prototype.hasOwnProperty.call(registry.operators, username) && !TOY_ID_RE.test(username) && !PHONE_USER_RE.test(username);
/** The pp/fw rule: undefined when the topic is not a firmware topic (the other rules decide). */
function fwAllows(registry: BrokerRegistry, username: string, action: 'read' | 'write', topic: string): boolean | undefined {
  if (!isFwTopic(topic)) return undefined;
  if (action === 'write') return isOperator(registry, username);
  return TOY_ID_RE.test(username) && !!registry.toys[username];
}
// ---- end firmware updates

export const TOY_ID_RE = /^[0-9a-f]{32}$/;
export const PHONE_USER_RE = /^ph-[0-9a-f]{32}$/;

export { toyTopics };

/**
 * A Mosquitto `$7$` hash of `password` (PBKDF2-SHA512, 64-byte key, 12-byte salt),
 * the format `mosquitto_passwd` writes. Default 101 iterations like mosquitto_passwd 2.0;
 * pass more for production.
 */
export function mosquittoHash(password: string, iterations = 101, salt: Uint8Array = randomBytes(12)): string {
  const key = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${Buffer.from(salt).toString('base64')}$${key.toString('base64')}`;
}

/** Checks a password against a `$7$` or `$6$` Mosquitto hash, in constant time for a given hash. */
export function verifyMosquittoHash(password: Uint8Array, hash: string): boolean {
  const parts = hash.split('$');
  try {
    if (parts.length === 5 && parts[1] === '7') {
      const iterations = Number(parts[2]);
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
      const want = Buffer.from(parts[4]!, 'base64');
      const got = pbkdf2Sync(Buffer.from(password), Buffer.from(parts[3]!, 'base64'), iterations, want.length, 'sha512');
      return want.length > 0 && timingSafeEqual(got, want);
    }
    if (parts.length === 4 && parts[1] === '6') {
      const want = Buffer.from(parts[3]!, 'base64');
      const got = createHash('sha512').update(Buffer.from(password)).update(Buffer.from(parts[2]!, 'base64')).digest();
      return want.length === got.length && timingSafeEqual(got, want);
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * The one access rule (the same as broker/acl): may `username` do `action` on `topic`?
 * `topic` may be a subscription filter: filters with wildcards are never granted.
 */
export function aclAllows(registry: BrokerRegistry, username: string, action: 'read' | 'write', topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  const fw = fwAllows(registry, username, action, topic); // issue 14
  if (fw !== undefined) return fw;
  if (isOperator(registry, username)) return false; // issue 14: operators touch nothing else
  if (TOY_ID_RE.test(username) && registry.toys[username]) {
    const t = toyTopics(username);
    const f = familyTopics(username); // issue 15: notes to the family, its status; settings from the family
    return action === 'write' ? topic === t.out || topic === t.ctl || topic === f.fam || topic === f.status : topic === t.in || topic === f.set;
  }
  const phone = PHONE_USER_RE.test(username) ? registry.phones[username] : undefined;
  if (!phone) return false;
  for (const toyId of phone.toys) {
    const t = toyTopics(toyId);
    const f = familyTopics(toyId);
    if (action === 'read' ? topic === t.out || topic === f.fam || topic === f.status : topic === t.in || topic === f.set) return true;
  }
  return false;
}

/** Mosquitto password-file lines for every account in the registry. */
export function mosquittoPasswdLines(registry: BrokerRegistry): string {
  const lines: string[] = [];
  for (const [id, t] of Object.entries(registry.toys)) lines.push(`${id}:${t.passwordHash}`);
  for (const [u, p] of Object.entries(registry.phones)) lines.push(`${u}:${p.passwordHash}`);
  return lines.join('\n') + '\n';
}

/** Mosquitto ACL lines for the phones (appended after the patterns of broker/acl). */
export function mosquittoPhoneAcl(registry: BrokerRegistry): string {
  let s = '';
  for (const [u, p] of Object.entries(registry.phones)) {
    if (!PHONE_USER_RE.test(u)) continue;
    s += `\nuser ${u}\n`;
    for (const toyId of p.toys) {
      if (!TOY_ID_RE.test(toyId)) continue;
      const t = toyTopics(toyId);
      const f = familyTopics(toyId);
      s += `topic read ${t.out}\ntopic write ${t.in}\ntopic read ${f.fam}\ntopic read ${f.status}\ntopic write ${f.set}\n`;
    }
  }
  return s;
}

function passwordHashOf(registry: BrokerRegistry, username: string): string | undefined {
  if (TOY_ID_RE.test(username)) return registry.toys[username]?.passwordHash;
  if (PHONE_USER_RE.test(username)) return registry.phones[username]?.passwordHash;
  if (isOperator(registry, username)) return registry.operators![username]!.passwordHash; // issue 14
  return undefined;
}

export interface EmbeddedBrokerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  registry: BrokerRegistry;
  /** Broker events for the simulator's log (no secrets are passed). */
  onEvent?: (event: string, fields: Record<string, string | number>) => void;
}

export interface EmbeddedBroker {
  /** The port it listens on. */
  readonly port: number;
  readonly aedes: Aedes;
  /** Counts of refusals, for the simulator page and tests. */
  readonly refused: { auth: number; publish: number; subscribe: number; clientId: number };
  /**
   * The simulator's "toy offline" switch: while `clientId` is cut off, its connection is
   * closed and every new CONNECT is answered "server unavailable" (as if its network were
   * down; not counted as a refusal). Messages for it wait in its persistent session.
   */
  cutOff(clientId: string, cut: boolean): void;
  /** Whether `clientId` has a live, authenticated connection now. */
  isConnected(clientId: string): boolean;
  close(): Promise<void>;
}

function authError(code: 2 | 3 | 4 | 5, msg: string): AuthenticateError {
  return Object.assign(new Error(msg), { returnCode: code }) as AuthenticateError;
}

/** Starts aedes on a TCP port with the PawPost rules. */
export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { registry } = opts;
  const ev = (e: string, f: Record<string, string | number>) => {
    try {
      opts.onEvent?.(e, f);
    } catch {
      // a logging callback must not break the broker
    }
  };
  const refused = { auth: 0, publish: 0, subscribe: 0, clientId: 0 };
  const cut = new Set<string>();
  const aedes = await Aedes.createBroker({
    heartbeatInterval: 3_600_000,
    queueLimit: 1000,
    maxClientsIdLength: 64,
    authenticate: (client, username, password, done) => {
      if (cut.has(client.id)) return done(authError(3, 'server unavailable'), false);
      const hash = username === undefined ? undefined : passwordHashOf(registry, username);
      if (!hash || !password || !verifyMosquittoHash(password, hash)) {
        refused.auth++;
        ev('broker.auth_refused', { user: username ?? '' });
        return done(authError(4, 'bad username or password'), false);
      }
      if (client.id !== username) {
        refused.clientId++;
        return done(authError(2, 'client id must equal the username'), false);
      }
      done(null, true);
    },
    authorizePublish: (client, packet, done) => {
      const user = client?.id ?? '';
      // retained: firmware releases (issue 14) and a toy's own status record (issue 15) only
      if ((packet.retain && !isFwTopic(packet.topic) && packet.topic !== familyTopics(user).status) || !aclAllows(registry, user, 'write', packet.topic)) {
        refused.publish++;
        ev('broker.publish_refused', { user, topic: packet.topic });
        return done(new Error('publish not allowed'));
      }
      done(null);
    },
    authorizeSubscribe: (client, sub, done) => {
      if (!aclAllows(registry, client.id, 'read', sub.topic)) {
        refused.subscribe++;
        ev('broker.subscribe_refused', { user: client.id, topic: sub.topic });
        return done(null, null); // SUBACK 0x80 for this filter
      }
      done(null, sub);
    },
  });
  // live, authenticated clients by id (for the offline switch and the page)
  const live = new Map<string, { close(): void }>();
  aedes.on('client', (c) => live.set(c.id, c));
  aedes.on('clientDisconnect', (c) => {
    if (live.get(c.id) === c) live.delete(c.id);
  });
  const server = net.createServer((s) => aedes.handle(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  ev('broker.listening', { port });
  let closed: Promise<void> | undefined;
  return {
    port,
    aedes,
    refused,
    cutOff(clientId, on) {
      if (on) {
        cut.add(clientId);
        live.get(clientId)?.close();
      } else cut.delete(clientId);
    },
    isConnected(clientId) {
      return live.has(clientId);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => undefined);
      });
      return closed;
    },
  };
}
