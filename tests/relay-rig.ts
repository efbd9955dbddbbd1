/**
 * A relay set up the way an operator does it (tests/relay-*.test.ts): as root,
 * `npm run relay -- init` into a temp directory (conf and data dirs instead of
 * /etc and /var/lib), a factory batch added with `add-batch`, and mosquitto started
 * as root so that it drops to its own service user, TLS on, on a free port.
 * Everything lives under one temp directory that dispose() removes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { provisionBatch } from '../factory/provision-batch.js';
import { NvsItemsStorage } from '../factory/verify-batch.js';
import { mountNvsPartition } from '../factory/nvs-mount.js';
import { loadIdentity, type Identity } from '../src/identity.js';
import { DYNSEC_PLUGIN_CANDIDATES, relayFiles, type RelayPaths } from '../relay/relay-config.js';
import { freePort } from './mqtt-node-helpers.js';
import { runRelayCli } from '../relay/relay-cli.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Why the relay tests cannot run here, or undefined when they can. */
export function relayRigUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('sh', ['-c', 'command -v mosquitto && command -v openssl'], { stdio: 'ignore' }).status !== 0) return 'mosquitto or openssl missing';
  if (!DYNSEC_PLUGIN_CANDIDATES.some((p) => fs.existsSync(p))) return 'mosquitto_dynamic_security.so missing';
  if (spawnSync('getent', ['passwd', 'mosquitto'], { stdio: 'ignore' }).status !== 0) return 'no mosquitto user';
  return undefined;
}

/** Runs the relay command in this process (runRelayCli), output captured: quick, for set-up. */
export async function relayInProcess(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = { status: -1, stdout: '', stderr: '' };
  r.status = await runRelayCli(args, { out: (s) => void (r.stdout += s), err: (s) => void (r.stderr += s) });
  return r;
}

/** Runs `npm run relay -- <args>` the way an operator would (node with tsx, a separate process). */
export function relayCommand(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'relay/relay-cli.ts'), ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function toysOf(dir: string): Identity[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^[0-9a-f]{32}$/.test(n))
    .map((n) => {
      // encrypted batches (the factory's default) are mounted with their nvs_keys partition, as ESP-IDF does
      const keysFile = path.join(dir, n, 'nvs_keys.bin');
      const keysPartition = fs.existsSync(keysFile) ? new Uint8Array(fs.readFileSync(keysFile)) : undefined;
      const mounted = mountNvsPartition(new Uint8Array(fs.readFileSync(path.join(dir, n, 'nvs.bin'))), { keysPartition });
      if (mounted.status !== 'MOUNTED') throw new Error(`nvs.bin of ${n} does not mount: ${mounted.status}`);
      return loadIdentity(new NvsItemsStorage(mounted.items));
    });
}

export const RIG_HOST = 'relay.test';

/** Child processes a test started; killed if the test process exits without disposing them. */
export const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of liveChildren) if (p.exitCode === null) p.kill('SIGKILL');
});
/** Tracks a child until it exits. */
export function track(p: ChildProcess): ChildProcess {
  liveChildren.add(p);
  p.once('exit', () => liveChildren.delete(p));
  return p;
}

export class RelayRig {
  proc: ChildProcess | undefined;
  log = '';
  private constructor(readonly dir: string, readonly paths: RelayPaths, readonly port: number, readonly ca: Buffer, readonly initOut: string) {}

  get files() {
    return relayFiles(this.paths);
  }

  /** init into a fresh temp dir, in this process or as a separate `relay` process (the operator's way). */
  static async init(extra: string[] = [], how: 'spawn' | 'in-process' = 'in-process'): Promise<RelayRig> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-relay-'));
    fs.chmodSync(dir, 0o755); // like /etc and /var/lib: the service user may traverse
    const paths = { confDir: path.join(dir, 'etc'), dataDir: path.join(dir, 'var') };
    const port = await freePort();
    const run = how === 'spawn' ? async (a: string[]) => relayCommand(a) : relayInProcess;
    const r = await run(['init', '--conf-dir', paths.confDir, '--data-dir', paths.dataDir, '--port', String(port), '--bind', '127.0.0.1',
      '--host', RIG_HOST, '--host', '127.0.0.1', '--no-systemd', ...extra]);
    if (r.status !== 0) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`relay init failed (${r.status}): ${r.stderr}${r.stdout}`);
    }
    return new RelayRig(dir, paths, port, fs.readFileSync(relayFiles(paths).caCrt), r.stdout);
  }

  /** Provisions `count` toys with the factory code and returns the batch dir and identities (with secrets). */
  async provision(count: number): Promise<{ dir: string; toys: Identity[] }> {
    const out = path.join(this.dir, `batch-${randomBytes(3).toString('hex')}`);
    const seed = new Uint8Array(randomBytes(32));
    await provisionBatch({ outDir: out, count, maker: { seed, publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey }, mqttHost: RIG_HOST, mqttPort: this.port });
    return { dir: out, toys: toysOf(out) };
  }

  /** Starts mosquitto as root with the installed config (it drops to the mosquitto user). */
  async start(): Promise<void> {
    this.log = '';
    const proc = track(spawn('mosquitto', ['-c', this.files.conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    for (let i = 0; i < 200; i++) {
      if (this.log.includes(' running')) return;
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not start: ${this.log.slice(0, 800)}`);
  }

  /** SIGTERM (mosquitto saves its persistence file) and wait for the exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** The user the running broker process runs as (from /proc). */
  brokerUid(): number {
    const s = fs.readFileSync(`/proc/${this.proc!.pid}/status`, 'utf8');
    return Number(/^Uid:\s+(\d+)/m.exec(s)![1]);
  }

  mqttOptions(username: string, password: string, extra: IClientOptions = {}): IClientOptions {
    return {
      protocol: 'mqtts', host: '127.0.0.1', port: this.port, servername: RIG_HOST, ca: this.ca, rejectUnauthorized: true,
      username, password, clientId: username, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 8000, ...extra,
    };
  }

  /** Connects over TLS; resolves with the client or 'refused:<code>' / 'error:<message>'. */
  connect(username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient | string> {
    return new Promise((resolve) => {
      const c = mqtt.connect(this.mqttOptions(username, password, extra));
      c.once('connect', () => resolve(c));
      c.once('error', (e) => {
        c.end(true);
        const code = (e as Error & { code?: number | string }).code;
        resolve(typeof code === 'number' ? `refused:${code}` : `error:${e.message}`);
      });
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
