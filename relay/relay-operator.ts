/**
 * What `npm run relay -- init | add-batch | status | reload` does on a Debian host
 * (docs/BROKER.md "## Operator"). Runs as root; mosquitto runs as its service user.
 *
 * Ownership and modes it sets (the service user is "mosquitto" unless --user):
 *   <conf>/                 root:root          0755
 *   <conf>/mosquitto.conf   root:root          0644
 *   <conf>/acl              root:mosquitto     0640
 *   <conf>/passwd           root:mosquitto     0640  (hash lines only)
 *   <conf>/registry.jsonl   root:root          0644  (public data: the toys' keys for enrollment)
 *   <conf>/tls/             root:mosquitto     0750
 *   <conf>/tls/server.key   root:mosquitto     0640
 *   <conf>/tls/server.crt, ca.crt              0644
 *   <conf>/ca/ca.key        root:root          0600  (dir 0700; only with the generated CA)
 *   <conf>/enroll/          root:root          0700  (relay key, dynsec admin secret, state)
 *   <data>/                 mosquitto:mosquitto 0700 (persistence, dynamic-security.json, pid)
 *
 * Errors are RelayError with `code`: USAGE, NOT_ROOT, NO_USER, NO_PLUGIN, OPENSSL,
 * CERT (operator's own cert/key unusable), EXISTS, REGISTRY, CONFLICT, NOT_RUNNING.
 * Nothing secret is printed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mosquittoPasswdLine, parseMosquittoPasswdLine } from '../factory/mosquitto-passwd.js';
import { parseRegistry, type RegistryEntry } from '../factory/registry.js';
import { x25519PublicKey } from '../factory/node-crypto.js';
import { ACL_TEXT, DEFAULT_CONF, DYNSEC_ADMIN_USER, DYNSEC_PLUGIN_CANDIDATES, relayFiles, renderMosquittoConf, type RelayConfOptions, type RelayPaths } from './relay-config.js';

export type RelayErrorCode = 'USAGE' | 'NOT_ROOT' | 'NO_USER' | 'NO_PLUGIN' | 'OPENSSL' | 'CERT' | 'EXISTS' | 'REGISTRY' | 'CONFLICT' | 'NOT_RUNNING';

export class RelayError extends Error {
  override readonly name = 'RelayError';
  readonly code: RelayErrorCode;
  constructor(code: RelayErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

/** Looks the service user up with getent. Throws RelayError('NO_USER'). */
export function serviceUser(name: string): ServiceUser {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    throw new RelayError('NO_USER', `no user "${name}": install mosquitto (apt-get install mosquitto), which creates it`);
  }
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

function findPlugin(given?: string): string {
  const list = given ? [given] : DYNSEC_PLUGIN_CANDIDATES;
  for (const p of list) if (fs.existsSync(p)) return p;
  throw new RelayError('NO_PLUGIN', `mosquitto_dynamic_security.so not found (${list.join(', ')}); give --dynsec-plugin`);
}

function setMode(p: string, mode: number, uid: number, gid: number): void {
  fs.chownSync(p, uid, gid);
  fs.chmodSync(p, mode);
}

/** Writes a file atomically (temp + rename) with owner and mode set before the rename. */
export function writeFileAtomic(p: string, data: string, mode: number, uid: number, gid: number): void {
  const tmp = `${p}.tmp-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
  try {
    setMode(tmp, mode, uid, gid);
    fs.renameSync(tmp, p);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function mkdirOwned(p: string, mode: number, uid: number, gid: number): void {
  fs.mkdirSync(p, { recursive: true });
  setMode(p, mode, uid, gid);
}

function openssl(args: string[]): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: string }).stderr ?? '';
    throw new RelayError('OPENSSL', `openssl ${args[0]} failed: ${err.split('\n')[0]}`);
  }
}

export interface InitOptions extends Partial<RelayPaths> {
  /** Names on the server certificate (DNS names or IP addresses); the first is the CN. Default: the host name. */
  hosts?: string[];
  port?: number;
  bind?: string;
  user?: string;
  dynsecPlugin?: string;
  /** Use the operator's own certificate (PEM chain) and key instead of a generated CA. */
  certFile?: string;
  keyFile?: string;
  /** The CA that signed certFile (copied to tls/ca.crt for the devices). */
  caFile?: string;
  /** Write /etc/systemd/system/pawpost-relay.service (default: when systemd runs and the paths are the defaults). */
  systemd?: boolean;
  plainLoopbackPort?: number;
  log?: (line: string) => void;
}

/** Days a generated server certificate is valid; the CA is valid 10 years. */
export const SERVER_CERT_DAYS = 825;

function makeCa(f: ReturnType<typeof relayFiles>, hosts: string[], u: ServiceUser): void {
  mkdirOwned(f.caDir, 0o700, 0, 0);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f.caKey]);
  fs.chmodSync(f.caKey, 0o600);
  openssl(['req', '-new', '-x509', '-key', f.caKey, '-sha256', '-days', '3650', '-subj', '/O=PawPost relay/CN=PawPost relay CA', '-out', f.caCrt,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const tmpKey = `${f.serverKey}.new`;
  const csr = path.join(f.caDir, 'server.csr');
  const ext = path.join(f.caDir, 'server.ext');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', tmpKey]);
  setMode(tmpKey, 0o640, 0, u.gid);
  openssl(['req', '-new', '-key', tmpKey, '-subj', `/O=PawPost relay/CN=${hosts[0]}`, '-out', csr]);
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  fs.writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', f.caCrt, '-CAkey', f.caKey, '-CAcreateserial', '-days', String(SERVER_CERT_DAYS), '-sha256', '-extfile', ext, '-out', f.serverCrt]);
  fs.renameSync(tmpKey, f.serverKey);
  fs.rmSync(csr);
  fs.rmSync(ext);
  for (const p of [f.caCrt, f.serverCrt]) setMode(p, 0o644, 0, 0);
}

function useOwnCert(f: ReturnType<typeof relayFiles>, o: InitOptions, u: ServiceUser): void {
  const crt = fs.readFileSync(o.certFile!, 'utf8');
  const key = fs.readFileSync(o.keyFile!, 'utf8');
  // the key must belong to the certificate
  const pubOfCert = openssl(['x509', '-in', o.certFile!, '-noout', '-pubkey']);
  const pubOfKey = openssl(['pkey', '-in', o.keyFile!, '-pubout']);
  if (pubOfCert.trim() !== pubOfKey.trim()) throw new RelayError('CERT', 'the key does not belong to the certificate');
  writeFileAtomic(f.serverCrt, crt, 0o644, 0, 0);
  writeFileAtomic(f.serverKey, key, 0o640, 0, u.gid);
  if (o.caFile) writeFileAtomic(f.caCrt, fs.readFileSync(o.caFile, 'utf8'), 0o644, 0, 0);
}

/**
 * The initial dynamic-security.json: the admin account (only $CONTROL/dynamic-security,
 * and reading the toys' notices on pp/t/+/ctl), everything else denied.
 */
export function initialDynsec(adminPassword: string): string {
  const e = parseMosquittoPasswdLine(mosquittoPasswdLine(DYNSEC_ADMIN_USER, adminPassword));
  const acl = (acltype: string) => ({ acltype, topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true });
  return JSON.stringify({
    defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true },
    clients: [{
      username: DYNSEC_ADMIN_USER, textName: 'PawPost enrollment service',
      password: Buffer.from(e.hash).toString('base64'), salt: Buffer.from(e.salt).toString('base64'), iterations: e.iterations,
      roles: [{ rolename: 'pp-admin' }],
    }],
    groups: [],
    roles: [{ rolename: 'pp-admin', acls: [acl('publishClientSend'), acl('publishClientReceive'), acl('subscribePattern'),
      // the toys' enrollment notices
      { acltype: 'subscribePattern', topic: 'pp/t/+/ctl', priority: 0, allow: true },
      { acltype: 'publishClientReceive', topic: 'pp/t/+/ctl', priority: 0, allow: true }] }],
  }, null, 2) + '\n';
}

function systemdUnit(confFile: string): string {
  return `[Unit]
Description=PawPost relay (Mosquitto)
After=network-online.target
Wants=network-online.target
Conflicts=mosquitto.service

[Service]
Type=simple
ExecStart=/usr/sbin/mosquitto -c ${confFile}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
`;
}

function systemdRunning(): boolean {
  return fs.existsSync('/run/systemd/system');
}

/**
 * `init`: service user check, directories and modes, CA + server certificate (or the
 * operator's own), config, ACL, empty password file (existing lines kept), relay
 * enrollment key, dynsec admin account, persistence directory, systemd unit.
 * Re-running keeps existing certificates, keys, passwd and dynsec state (idempotent).
 * Must run as root. Returns the rendered options.
 */
export function relayInit(o: InitOptions = {}): RelayConfOptions {
  const log = o.log ?? (() => {});
  if (process.getuid?.() !== 0) throw new RelayError('NOT_ROOT', 'init must run as root (it sets owners for the mosquitto service user)');
  if ((o.certFile === undefined) !== (o.keyFile === undefined)) throw new RelayError('USAGE', '--cert and --key go together');
  const u = serviceUser(o.user ?? DEFAULT_CONF.user);
  const conf: RelayConfOptions = {
    confDir: path.resolve(o.confDir ?? DEFAULT_CONF.confDir),
    dataDir: path.resolve(o.dataDir ?? DEFAULT_CONF.dataDir),
    port: o.port ?? DEFAULT_CONF.port,
    bind: o.bind,
    user: u.name,
    dynsecPlugin: findPlugin(o.dynsecPlugin),
    plainLoopbackPort: o.plainLoopbackPort,
  };
  const f = relayFiles(conf);
  const hosts = o.hosts?.length ? o.hosts : [os.hostname()];

  mkdirOwned(conf.confDir, 0o755, 0, 0);
  mkdirOwned(f.tlsDir, 0o750, 0, u.gid);
  mkdirOwned(f.enrollDir, 0o700, 0, 0);
  // the persistence directory: the service user writes it, nobody else reads it
  mkdirOwned(conf.dataDir, 0o700, u.uid, u.gid);
  log(`ok   persistence directory ${conf.dataDir} (${u.name}, 0700)`);

  if (o.certFile) {
    useOwnCert(f, o, u);
    log(`ok   TLS: your certificate ${o.certFile} installed as ${f.serverCrt}, key 0640 root:${u.name}`);
  } else if (fs.existsSync(f.serverCrt) && fs.existsSync(f.serverKey)) {
    setMode(f.serverKey, 0o640, 0, u.gid);
    log(`ok   TLS: kept the existing ${f.serverCrt}`);
  } else {
    makeCa(f, hosts, u);
    log(`ok   TLS: new CA ${f.caCrt} (give it to the toys and phones) and server certificate for ${hosts.join(', ')}`);
  }

  writeFileAtomic(f.conf, renderMosquittoConf(conf), 0o644, 0, 0);
  writeFileAtomic(f.acl, ACL_TEXT, 0o640, 0, u.gid);
  if (fs.existsSync(f.passwd)) setMode(f.passwd, 0o640, 0, u.gid);
  else writeFileAtomic(f.passwd, '', 0o640, 0, u.gid);
  if (!fs.existsSync(f.registry)) writeFileAtomic(f.registry, '', 0o644, 0, 0);
  log(`ok   config ${f.conf}, ACL and password file (0640 root:${u.name})`);

  if (!fs.existsSync(f.relayKey)) {
    const sk = randomBytes(32);
    writeFileAtomic(f.relayKey, `PAWPOST-RELAY-SECRET-V1 ${sk.toString('base64')}\n`, 0o600, 0, 0);
    writeFileAtomic(f.relayPub, `PAWPOST-RELAY-PUBLIC-V1 ${Buffer.from(x25519PublicKey(sk)).toString('hex')}\n`, 0o644, 0, 0);
    sk.fill(0);
  }
  log(`ok   enrollment key ${f.relayPub} (the toys need this public key)`);
  if (!fs.existsSync(f.dynsec)) {
    const pw = randomBytes(24).toString('base64url');
    writeFileAtomic(f.adminSecret, `${DYNSEC_ADMIN_USER} ${pw}\n`, 0o600, 0, 0);
    writeFileAtomic(f.dynsec, initialDynsec(pw), 0o600, u.uid, u.gid);
    log(`ok   dynamic security: admin account for the enrollment service (${f.adminSecret}, 0600)`);
  } else {
    log(`ok   dynamic security: kept ${f.dynsec}`);
  }

  const wantUnit = o.systemd ?? (systemdRunning() && conf.confDir === DEFAULT_CONF.confDir);
  if (wantUnit) {
    writeFileAtomic(f.unit, systemdUnit(f.conf), 0o644, 0, 0);
    execFileSync('systemctl', ['daemon-reload']);
    log(`ok   systemd unit ${f.unit}: systemctl disable --now mosquitto && systemctl enable --now pawpost-relay`);
  } else {
    log(`next start it: mosquitto -c ${f.conf}   (as root; it drops to ${u.name})`);
  }
  // a running broker picks up a changed ACL / passwd at once
  try {
    relayReload(conf);
    log('ok   reloaded the running broker');
  } catch (e) {
    if (!(e instanceof RelayError && e.code === 'NOT_RUNNING')) throw e;
  }
  return conf;
}

/** Reads the options back from an installed config (for add-batch, status, reload). */
export function readInstalledConf(p: Partial<RelayPaths> = {}): RelayConfOptions {
  const confDir = path.resolve(p.confDir ?? DEFAULT_CONF.confDir);
  const file = path.join(confDir, 'mosquitto.conf');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new RelayError('USAGE', `${file} not found: run init first`);
  }
  const get = (k: string) => text.match(new RegExp(`^${k} (.+)$`, 'm'))?.[1];
  const listener = text.match(/^listener (\d+)( \S+)?$/m);
  return {
    confDir,
    dataDir: (get('persistence_location') ?? DEFAULT_CONF.dataDir).replace(/\/$/, ''),
    port: Number(listener?.[1] ?? 8883),
    bind: listener?.[2]?.trim(),
    user: get('user') ?? 'mosquitto',
    dynsecPlugin: get('plugin') ?? DEFAULT_CONF.dynsecPlugin,
  };
}

/** The running broker's pid (from its pid file), or undefined. */
export function brokerPid(conf: RelayPaths): number | undefined {
  try {
    const pid = Number(fs.readFileSync(relayFiles(conf).pid, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Makes the running broker re-read the password file and ACL: `systemctl reload
 * pawpost-relay` when that unit runs, else SIGHUP to the pid in the pid file.
 * Throws RelayError('NOT_RUNNING').
 */
export function relayReload(conf: RelayPaths): 'systemd' | 'signal' {
  const f = relayFiles(conf);
  if (systemdRunning() && fs.existsSync(f.unit)) {
    try {
      execFileSync('systemctl', ['is-active', '--quiet', 'pawpost-relay']);
      execFileSync('systemctl', ['reload', 'pawpost-relay']);
      return 'systemd';
    } catch {
      /* not active: fall through to the pid file */
    }
  }
  const pid = brokerPid(conf);
  if (pid === undefined) throw new RelayError('NOT_RUNNING', 'the broker is not running (no live pid in its pid file)');
  process.kill(pid, 'SIGHUP');
  return 'signal';
}

export interface AddBatchResult {
  added: number;
  already: number;
}

/**
 * `add-batch <dir>`: adds a factory batch's toys (registry.jsonl + mosquitto.passwd)
 * to the relay: the password lines (kept 0640 root:<user>, written atomically) and
 * the registry the enrollment service reads. A toy already present with the same line
 * is skipped; a toy id present with a different hash is a CONFLICT and nothing is
 * written. Then reloads a running broker.
 */
export function relayAddBatch(conf: RelayConfOptions, batchDir: string, log: (l: string) => void = () => {}): AddBatchResult {
  if (process.getuid?.() !== 0) throw new RelayError('NOT_ROOT', 'add-batch must run as root');
  const u = serviceUser(conf.user);
  const f = relayFiles(conf);
  let entries: RegistryEntry[];
  try {
    entries = parseRegistry(fs.readFileSync(path.join(batchDir, 'registry.jsonl'), 'utf8'));
  } catch (e) {
    throw new RelayError('REGISTRY', `${path.join(batchDir, 'registry.jsonl')}: ${(e as Error).message}`);
  }
  // the batch's passwd file must agree with its registry
  const batchPw = fs.readFileSync(path.join(batchDir, 'mosquitto.passwd'), 'utf8').split('\n').filter(Boolean);
  const reg = new Set(entries.map((e) => e.mqttPasswd));
  if (batchPw.length !== entries.length || batchPw.some((l) => !reg.has(l))) throw new RelayError('REGISTRY', 'mosquitto.passwd and registry.jsonl of the batch disagree');

  const current = fs.existsSync(f.passwd) ? fs.readFileSync(f.passwd, 'utf8').split('\n').filter(Boolean) : [];
  const byUser = new Map(current.map((l) => [l.slice(0, l.indexOf(':')), l]));
  const regText = fs.existsSync(f.registry) ? fs.readFileSync(f.registry, 'utf8') : '';
  const known = new Set(parseRegistry(regText).map((e) => e.toyId));
  let added = 0;
  let already = 0;
  const newPw: string[] = [];
  const newReg: string[] = [];
  for (const e of entries) {
    const have = byUser.get(e.toyId);
    if (have !== undefined && have !== e.mqttPasswd) throw new RelayError('CONFLICT', `toy ${e.toyId} is already on the relay with another password`);
    if (have === undefined) {
      newPw.push(e.mqttPasswd);
      byUser.set(e.toyId, e.mqttPasswd);
      added++;
    } else already++;
    if (!known.has(e.toyId)) {
      newReg.push(JSON.stringify(e));
      known.add(e.toyId);
    }
  }
  writeFileAtomic(f.passwd, [...current, ...newPw].map((l) => l + '\n').join(''), 0o640, 0, u.gid);
  writeFileAtomic(f.registry, regText + newReg.map((l) => l + '\n').join(''), 0o644, 0, 0);
  log(`ok   ${added} toys added, ${already} already present; ${byUser.size} toys on the relay`);
  try {
    relayReload(conf);
    log('ok   reloaded the running broker');
  } catch (e) {
    if (!(e instanceof RelayError && e.code === 'NOT_RUNNING')) throw e;
    log('note the broker is not running: it reads the new accounts when it starts');
  }
  return { added, already };
}

export interface StatusLine {
  ok: boolean;
  what: string;
}

function modeOf(p: string): { mode: number; uid: number; gid: number } | undefined {
  try {
    const s = fs.statSync(p);
    return { mode: s.mode & 0o777, uid: s.uid, gid: s.gid };
  } catch {
    return undefined;
  }
}

/**
 * `status`: one line per check (files, owners and modes, certificate expiry, counts,
 * broker process). Probing the TLS port is done by the CLI (async).
 */
export function relayStatus(conf: RelayConfOptions): StatusLine[] {
  const out: StatusLine[] = [];
  const f = relayFiles(conf);
  let u: ServiceUser | undefined;
  try {
    u = serviceUser(conf.user);
    out.push({ ok: true, what: `service user ${u.name} (uid ${u.uid})` });
  } catch (e) {
    out.push({ ok: false, what: (e as Error).message });
  }
  const want: [string, number, 'root' | 'user', 'root' | 'user'][] = [
    [f.conf, 0o644, 'root', 'root'],
    [f.acl, 0o640, 'root', 'user'],
    [f.passwd, 0o640, 'root', 'user'],
    [f.serverKey, 0o640, 'root', 'user'],
    [f.serverCrt, 0o644, 'root', 'root'],
    [conf.dataDir, 0o700, 'user', 'user'],
    [f.dynsec, 0o600, 'user', 'user'],
    [f.relayKey, 0o600, 'root', 'root'],
  ];
  for (const [p, mode, ou, og] of want) {
    const m = modeOf(p);
    const uid = ou === 'root' ? 0 : u?.uid;
    const gid = og === 'root' ? 0 : u?.gid;
    if (!m) out.push({ ok: false, what: `${p} missing` });
    else if (m.mode !== mode || m.uid !== uid || m.gid !== gid) out.push({ ok: false, what: `${p} is ${m.mode.toString(8)} ${m.uid}:${m.gid}, want ${mode.toString(8)} ${uid}:${gid}` });
    else out.push({ ok: true, what: `${p} ${mode.toString(8)}` });
  }
  try {
    const end = openssl(['x509', '-in', f.serverCrt, '-noout', '-enddate']).trim().replace('notAfter=', '');
    const days = Math.floor((Date.parse(end) - Date.now()) / 86400000);
    out.push({ ok: days > 30, what: `server certificate valid until ${end} (${days} days)${days <= 30 ? ': renew it' : ''}` });
  } catch {
    out.push({ ok: false, what: 'server certificate unreadable' });
  }
  try {
    const toys = fs.readFileSync(f.passwd, 'utf8').split('\n').filter(Boolean).length;
    out.push({ ok: true, what: `${toys} toys in the password file` });
  } catch {
    /* reported above */
  }
  try {
    const d = JSON.parse(fs.readFileSync(f.dynsec, 'utf8')) as { clients?: { username: string }[] };
    out.push({ ok: true, what: `${(d.clients ?? []).filter((c) => c.username.startsWith('ph-')).length} phones enrolled` });
  } catch {
    out.push({ ok: false, what: `${f.dynsec} unreadable` });
  }
  const pid = brokerPid(conf);
  out.push(pid ? { ok: true, what: `broker running (pid ${pid})` } : { ok: false, what: 'broker not running' });
  return out;
}
