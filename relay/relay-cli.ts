/**
 * `npm run relay -- <command> [options]`: the relay operator's command (docs/BROKER.md "## Operator").
 *
 *   init       [--conf-dir D] [--data-dir D] [--host NAME]... [--port 8883] [--bind ADDR] [--user mosquitto]
 *              [--cert F --key F [--ca F]] [--dynsec-plugin F] [--systemd | --no-systemd]
 *   add-batch  <factory batch dir> [--conf-dir D]
 *   status     [--conf-dir D] [--host NAME on the certificate]
 *   reload     [--conf-dir D]
 *   enroll-serve [--conf-dir D] [--listen-port 8884] [--listen-host 0.0.0.0] [--broker-host localhost]
 *   load       [--toys 1000] [--phones-per-toy 2] [--seconds 60] ... (relay/relay-load.ts)
 *
 * Exit status: 0 done, 1 status found a problem, 2 bad arguments or a typed error
 * (`relay: error <CODE>: <message>`). Nothing secret is printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tls from 'node:tls';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { parseRegistry } from '../factory/registry.js';
import { DynsecClient } from './dynsec-client.js';
import { EnrollmentService, startEnrollmentServer } from './enrollment-service.js';
import { relayFiles, DYNSEC_ADMIN_USER } from './relay-config.js';
import { RelayError, readInstalledConf, relayAddBatch, relayInit, relayReload, relayStatus } from './relay-operator.js';

export const USAGE = `PawPost relay (Mosquitto) operator command

usage:
  npm run relay -- init [--conf-dir /etc/mosquitto/pawpost] [--data-dir /var/lib/mosquitto/pawpost]
                        [--host mqtt.example.com]... [--port 8883] [--bind ADDR] [--user mosquitto]
                        [--cert server.crt --key server.key [--ca ca.crt]] [--dynsec-plugin PATH]
                        [--systemd | --no-systemd]
  npm run relay -- add-batch <factory batch dir> [--conf-dir D]
  npm run relay -- status [--conf-dir D] [--host NAME]
  npm run relay -- reload [--conf-dir D]
  npm run relay -- enroll-serve [--conf-dir D] [--listen-port 8884] [--listen-host 0.0.0.0] [--broker-host HOST]
  npm run relay -- load [--toys 1000] [--phones-per-toy 2] [--seconds 60] [--burst-toys 200] [--restart-at 30]
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

class UsageError extends Error {
  readonly code = 'USAGE';
}

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) > 65535 * 1000) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

/** Reads `<tag> <base64 32 bytes>` (the relay key file). */
export function readRelayKey(file: string): Uint8Array {
  const m = fs.readFileSync(file, 'utf8').match(/^PAWPOST-RELAY-SECRET-V1 ([A-Za-z0-9+/=]{44})\s*$/);
  if (!m) throw new RelayError('USAGE', `${file} is not a relay key file`);
  return new Uint8Array(Buffer.from(m[1]!, 'base64'));
}

/** Toy id → X25519 public key from registry.jsonl, re-read when the file changes. */
export function registryLookup(file: string): (toyId: string) => Uint8Array | undefined {
  let mtime = -1;
  let map = new Map<string, Uint8Array>();
  return (toyId) => {
    const m = fs.statSync(file).mtimeMs;
    if (m !== mtime) {
      map = new Map(parseRegistry(fs.readFileSync(file, 'utf8')).map((e) => [e.toyId, new Uint8Array(Buffer.from(e.publicKey, 'hex'))]));
      mtime = m;
    }
    return map.get(toyId);
  };
}

/** Checks that the TLS listener answers with a certificate the relay's CA accepts. */
function probeTls(port: number, caFile: string, servername: string): Promise<string> {
  return new Promise((resolve) => {
    let ca: Buffer | undefined;
    try {
      ca = fs.readFileSync(caFile);
    } catch {
      /* operator's own cert without --ca: system store */
    }
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername, timeout: 5000 }, () => {
      resolve(s.authorized ? 'ok' : String(s.authorizationError));
      s.destroy();
    });
    s.on('error', (e) => resolve(e.message));
    s.on('timeout', () => {
      resolve('timeout');
      s.destroy();
    });
  });
}

/** Runs the CLI with `argv` (without node and script). Returns the exit status. */
export async function runRelayCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const say = (l: string) => io.out(l + '\n');
  try {
    if (!command || command === 'help' || command === '--help') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    if (command === 'init') {
      const { values } = parseArgs({
        args: rest, strict: true,
        options: {
          'conf-dir': { type: 'string' }, 'data-dir': { type: 'string' }, host: { type: 'string', multiple: true }, port: { type: 'string' },
          bind: { type: 'string' }, user: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
          'dynsec-plugin': { type: 'string' }, systemd: { type: 'boolean' }, 'no-systemd': { type: 'boolean' },
        },
      });
      relayInit({
        confDir: values['conf-dir'], dataDir: values['data-dir'], hosts: values.host, port: int(values.port, 'port', 8883), bind: values.bind,
        user: values.user, certFile: values.cert, keyFile: values.key, caFile: values.ca, dynsecPlugin: values['dynsec-plugin'],
        systemd: values['no-systemd'] ? false : values.systemd ? true : undefined, log: say,
      });
      return 0;
    }
    if (command === 'add-batch') {
      const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { 'conf-dir': { type: 'string' } } });
      if (positionals.length !== 1) throw new UsageError('add-batch takes one batch directory');
      relayAddBatch(readInstalledConf({ confDir: values['conf-dir'] }), positionals[0]!, say);
      return 0;
    }
    if (command === 'reload') {
      const { values } = parseArgs({ args: rest, strict: true, options: { 'conf-dir': { type: 'string' } } });
      say(`ok   reloaded (${relayReload(readInstalledConf({ confDir: values['conf-dir'] }))})`);
      return 0;
    }
    if (command === 'status') {
      const { values } = parseArgs({ args: rest, strict: true, options: { 'conf-dir': { type: 'string' }, host: { type: 'string' } } });
      const conf = readInstalledConf({ confDir: values['conf-dir'] });
      const lines = relayStatus(conf);
      const f = relayFiles(conf);
      const probe = await probeTls(conf.port, f.caCrt, values.host ?? os.hostname());
      lines.push({ ok: probe === 'ok', what: `TLS listener on port ${conf.port}: ${probe === 'ok' ? 'certificate verified' : probe}` });
      for (const l of lines) say(`${l.ok ? 'ok     ' : 'problem'} ${l.what}`);
      return lines.every((l) => l.ok) ? 0 : 1;
    }
    if (command === 'enroll-serve') {
      const { values } = parseArgs({
        args: rest, strict: true,
        options: { 'conf-dir': { type: 'string' }, 'listen-port': { type: 'string' }, 'listen-host': { type: 'string' }, 'broker-host': { type: 'string' } },
      });
      const conf = readInstalledConf({ confDir: values['conf-dir'] });
      const f = relayFiles(conf);
      const [user, password] = fs.readFileSync(f.adminSecret, 'utf8').trim().split(' ');
      if (user !== DYNSEC_ADMIN_USER || !password) throw new RelayError('USAGE', `${f.adminSecret} is malformed`);
      const host = values['broker-host'] ?? 'localhost';
      const dynsec = await DynsecClient.connect({ host: '127.0.0.1', servername: host, port: conf.port, username: user, password, ca: fs.readFileSync(f.caCrt), persistent: true });
      const service = new EnrollmentService({
        relaySecretKey: readRelayKey(f.relayKey), toyPublicKey: registryLookup(f.registry), dynsec, statePath: f.enrollState,
        log: (ev, fields) => say(`${new Date().toISOString()} ${ev} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`),
      });
      // roles made by an older relay get the topics added since (a family would miss them until its next enrollment)
      const up = await service.upgradeRoles();
      say(`ok   ${up.roles} toy role(s) checked, ${up.added} topic permission(s) added`);
      // the toys' own notices (grant / revoke) on pp/t/<toyId>/ctl
      await dynsec.onNotices((toyId, payload) => {
        void service.notice(toyId, payload).then((r) => say(`${new Date().toISOString()} notice toy=${toyId.slice(0, 8)} ${r}`));
      });
      const port = int(values['listen-port'], 'listen-port', 8884);
      await startEnrollmentServer({ service, port, host: values['listen-host'] ?? '0.0.0.0', tls: { cert: fs.readFileSync(f.serverCrt), key: fs.readFileSync(f.serverKey) } });
      say(`ok   enrollment service on https://0.0.0.0:${port}/v1/enroll (and /v1/revoke)`);
      await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
      await dynsec.end();
      return 0;
    }
    if (command === 'load') {
      const { runLoadCli } = await import('./relay-load.js');
      return await runLoadCli(rest, io);
    }
    throw new UsageError(`unknown command "${command.slice(0, 32)}"`);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (e instanceof RelayError || e instanceof UsageError || (e as Error).name === 'TypeError' && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`relay: error ${e instanceof RelayError ? e.code : 'USAGE'}: ${(e as Error).message}\n`);
      if (!(e instanceof RelayError)) io.err(USAGE);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runRelayCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }).then(
    (c) => process.exit(c),
    (e) => {
      process.stderr.write(`relay: internal error: ${(e as Error).message}\n`);
      process.exit(2);
    },
  );
}
