/**
 * A client for Mosquitto's dynamic security plugin (mosquitto 2.0): JSON commands
 * on `$CONTROL/dynamic-security/v1`, answers on `.../v1/response`, matched by
 * correlationData. Used by the enrollment service with the admin account that
 * `relay init` writes (role pp-admin: $CONTROL/dynamic-security/# only).
 *
 * Errors: DynsecError with the plugin's error text ('Client not found', ...) or
 * 'TIMEOUT' / 'DISCONNECTED'. The password given to createClient never appears
 * in an error or log.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';

const TOPIC = '$CONTROL/dynamic-security/v1';

export class DynsecError extends Error {
  override readonly name = 'DynsecError';
  readonly command: string;
  readonly detail: string;
  constructor(command: string, detail: string) {
    super(`dynsec ${command}: ${detail}`);
    this.command = command;
    this.detail = detail;
  }
}

export interface DynsecConnectOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** PEM CA for mqtts; plain TCP when absent (loopback tests only). */
  ca?: string | Buffer;
  servername?: string;
  timeoutMs?: number;
  /** A persistent session (clean = false): notices published while the service is down wait for it. */
  persistent?: boolean;
}

/** Topic filter of the toys' enrollment notices. */
export const NOTICE_FILTER = 'pp/t/+/ctl';

type Cmd = Record<string, unknown> & { command: string };

export class DynsecClient {
  private readonly pending = new Map<string, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; command: string }>();
  private noticeHandler: ((toyId: string, payload: Uint8Array) => void) | undefined;
  private constructor(private readonly client: MqttClient, private readonly timeoutMs: number) {
    client.on('message', (topic, payload) => {
      const m = /^pp\/t\/([0-9a-f]{32})\/ctl$/.exec(topic);
      if (m) {
        try {
          this.noticeHandler?.(m[1]!, new Uint8Array(payload));
        } catch {
          /* the handler counts its own errors; a network callback never throws */
        }
        return;
      }
      if (topic !== `${TOPIC}/response`) return;
      let msg: { responses?: Record<string, unknown>[] };
      try {
        msg = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      for (const r of msg.responses ?? []) {
        const id = typeof r.correlationData === 'string' ? r.correlationData : '';
        const p = this.pending.get(id);
        if (!p) continue;
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (typeof r.error === 'string') p.reject(new DynsecError(p.command, r.error));
        else p.resolve(r);
      }
    });
    client.on('close', () => {
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new DynsecError(p.command, 'DISCONNECTED'));
        this.pending.delete(id);
      }
    });
  }

  static connect(o: DynsecConnectOptions): Promise<DynsecClient> {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect({
        protocol: o.ca ? 'mqtts' : 'mqtt', host: o.host, port: o.port, username: o.username, password: o.password,
        clientId: o.username, protocolVersion: 4, clean: !o.persistent, reconnectPeriod: 1000, connectTimeout: 10000,
        ca: o.ca, servername: o.servername, rejectUnauthorized: true,
      });
      const fail = (e: Error) => {
        c.end(true);
        reject(e);
      };
      c.once('error', fail);
      c.once('connect', () => {
        c.off('error', fail);
        c.on('error', () => {});
        c.subscribe(`${TOPIC}/response`, { qos: 1 }, (err) => {
          if (err) return fail(err);
          resolve(new DynsecClient(c, o.timeoutMs ?? 10000));
        });
      });
    });
  }

  /**
   * Receives the toys' notices (pp/t/<toyId>/ctl, QoS 1). Only a toy can publish on its
   * own ctl topic (broker/acl); the handler still checks the sealed toy id against it.
   */
  onNotices(handler: (toyId: string, payload: Uint8Array) => void): Promise<void> {
    this.noticeHandler = handler;
    return new Promise((resolve, reject) => this.client.subscribe(NOTICE_FILTER, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  }

  /** Runs one command; resolves with its response object. */
  run(cmd: Cmd): Promise<Record<string, unknown>> {
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DynsecError(cmd.command, 'TIMEOUT'));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, command: cmd.command });
      this.client.publish(TOPIC, JSON.stringify({ commands: [{ ...cmd, correlationData: id }] }), { qos: 1 });
    });
  }

  /** Runs a command and treats the given plugin errors as success (idempotent create/remove). */
  async runTolerant(cmd: Cmd, ok: string[]): Promise<void> {
    try {
      await this.run(cmd);
    } catch (e) {
      if (!(e instanceof DynsecError) || !ok.includes(e.detail)) throw e;
    }
  }

  async getClient(username: string): Promise<{ username: string; roles: string[] } | undefined> {
    try {
      const r = await this.run({ command: 'getClient', username });
      const c = (r.data as { client?: { username: string; roles?: { rolename: string }[] } })?.client;
      return c ? { username: c.username, roles: (c.roles ?? []).map((x) => x.rolename) } : undefined;
    } catch (e) {
      if (e instanceof DynsecError && /not found/i.test(e.detail)) return undefined;
      throw e;
    }
  }

  end(): Promise<void> {
    return new Promise((r) => this.client.end(false, {}, () => r()));
  }
}
