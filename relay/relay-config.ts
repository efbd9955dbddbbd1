/**
 * The relay's Mosquitto configuration, rendered from one place so that the shipped
 * broker/mosquitto.conf, `npm run relay -- init` and the tests cannot drift apart
 * (tests/relay-operator.test.ts checks broker/mosquitto.conf === renderMosquittoConf(defaults)).
 *
 * Paths are absolute. Retention (docs/BROKER.md "## Retention and quota"):
 * a client offline for more than 7 days loses its session and queue
 * (persistent_client_expiration 7d, the envelope's expiry); while offline, at most
 * 1,000 QoS 1 messages or 4 MiB are queued per client, and newer ones are dropped.
 */
import * as path from 'node:path';

export interface RelayPaths {
  /** Configuration directory, root-owned (default /etc/mosquitto/pawpost). */
  confDir: string;
  /** Persistence directory, owned by the service user, 0700 (default /var/lib/mosquitto/pawpost). */
  dataDir: string;
}

export interface RelayConfOptions extends RelayPaths {
  /** TLS listener port (default 8883). */
  port: number;
  /** Address to bind (default: all). */
  bind?: string;
  /** Service user mosquitto drops to (default "mosquitto"). */
  user: string;
  /** The dynamic security plugin (.so). */
  dynsecPlugin: string;
  /** Plain TCP listener on 127.0.0.1 for load tests only (never in production). */
  plainLoopbackPort?: number;
  /** Override for tests of the quota. */
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
}

export const DEFAULT_PATHS: RelayPaths = { confDir: '/etc/mosquitto/pawpost', dataDir: '/var/lib/mosquitto/pawpost' };
export const DYNSEC_PLUGIN_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];
export const DEFAULT_CONF: RelayConfOptions = {
  ...DEFAULT_PATHS,
  port: 8883,
  user: 'mosquitto',
  dynsecPlugin: DYNSEC_PLUGIN_CANDIDATES[0]!,
};

/** Every file the relay uses, from the two directories. */
export function relayFiles(p: RelayPaths) {
  return {
    conf: path.join(p.confDir, 'mosquitto.conf'),
    passwd: path.join(p.confDir, 'passwd'),
    acl: path.join(p.confDir, 'acl'),
    registry: path.join(p.confDir, 'registry.jsonl'),
    tlsDir: path.join(p.confDir, 'tls'),
    serverCrt: path.join(p.confDir, 'tls', 'server.crt'),
    serverKey: path.join(p.confDir, 'tls', 'server.key'),
    caCrt: path.join(p.confDir, 'tls', 'ca.crt'),
    caDir: path.join(p.confDir, 'ca'),
    caKey: path.join(p.confDir, 'ca', 'ca.key'),
    enrollDir: path.join(p.confDir, 'enroll'),
    adminSecret: path.join(p.confDir, 'enroll', 'admin.secret'),
    relayKey: path.join(p.confDir, 'enroll', 'relay.key'),
    relayPub: path.join(p.confDir, 'enroll', 'relay.pub'),
    enrollState: path.join(p.confDir, 'enroll', 'state.json'),
    dynsec: path.join(p.dataDir, 'dynamic-security.json'),
    pid: path.join(p.dataDir, 'mosquitto.pid'),
    unit: '/etc/systemd/system/pawpost-relay.service',
  };
}

/** The dynsec admin account the enrollment service uses (only $CONTROL/dynamic-security). */
export const DYNSEC_ADMIN_USER = 'pp-relay-admin';

export function renderMosquittoConf(o: RelayConfOptions): string {
  const f = relayFiles(o);
  const L = [
    '# PawPost relay on Mosquitto 2.x (Debian: apt-get install mosquitto). Written by',
    '# `npm run relay -- init` (relay/relay-config.ts); see docs/BROKER.md. The broker stores',
    '# and forwards sealed chunks; it never sees audio or keys.',
    '',
    'per_listener_settings false',
    // mosquitto started as root drops to "mosquitto" by default; another user is named
    ...(o.user === 'mosquitto' ? ['# started as root, mosquitto drops to its service user "mosquitto"'] : [`user ${o.user}`]),
    `pid_file ${f.pid}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    '',
    '# --- who may connect: per-device accounts only, no anonymous access, no shared password',
    'allow_anonymous false',
    '# toys: from the factory (add-batch); read by the service user (root:mosquitto 0640)',
    `password_file ${f.passwd}`,
    `acl_file ${f.acl}`,
    '# phones: created by the enrollment service through the dynamic security plugin',
    `plugin ${o.dynsecPlugin}`,
    `plugin_opt_config_file ${f.dynsec}`,
    '',
    '# --- store and forward: each toy\'s and phone\'s queue survives a restart',
    'persistence true',
    `persistence_location ${o.dataDir}/`,
    'autosave_interval 30',
    '# retention: a client offline for more than 7 days (the envelope\'s expiry) loses its queue',
    'persistent_client_expiration 7d',
    '# quota per offline client: 1,000 QoS 1 chunks or 4 MiB (about 25 one-minute messages);',
    '# beyond it the broker drops new chunks for that client (the sender still gets PUBACK)',
    `max_queued_messages ${o.maxQueuedMessages ?? 1000}`,
    `max_queued_bytes ${o.maxQueuedBytes ?? 4194304}`,
    'max_inflight_messages 20',
    '# chunks are <= ~3 KB; anything far larger disconnects the client',
    'max_packet_size 8192',
    '# retained messages only for firmware updates (pp/fw/#, written by pp-release alone; docs/BROKER.md',
    '# "Firmware updates"); a device may also retain on a topic it may write, which gives it nothing new',
    'retain_available true',
    '',
    '# --- listener (TLS; integration tests replace everything below this line)',
    o.bind ? `listener ${o.port} ${o.bind}` : `listener ${o.port}`,
    '# the client id is forced to the username: nobody can take over another device\'s session',
    'use_username_as_clientid true',
    `certfile ${f.serverCrt}`,
    `keyfile ${f.serverKey}`,
    'tls_version tlsv1.2',
  ];
  if (o.plainLoopbackPort !== undefined) {
    L.push('', '# --- load test only: plain TCP on loopback', `listener ${o.plainLoopbackPort} 127.0.0.1`, 'use_username_as_clientid true');
  }
  return L.join('\n') + '\n';
}

export const ACL_TEXT = `# PawPost topic access for toys (Mosquitto acl_file). See docs/BROKER.md.
#
# Topics: pp/t/<toyId>/out  toy -> its family's phones (the toy publishes, phones read)
#         pp/t/<toyId>/in   phones -> the toy (phones publish, the toy reads)
# <toyId> is 32 lowercase hex characters and is the toy's username.
#
# Patterns apply to every user of the password file; %u is the username. A toy may
# publish only to its own /out and /ctl and read only its own /in. Phones are not in this
# file: the enrollment service gives each one a dynamic-security role per paired toy
# (read pp/t/<toyId>/out, /fam, /status; write pp/t/<toyId>/in, /set). Everything not granted is denied.
pattern write pp/t/%u/out
pattern read pp/t/%u/in
# the toy's enrollment notices (grant / revoke, sealed for the relay) to the enrollment service
pattern write pp/t/%u/ctl
# family features (issue 15, docs/BROKER.md "Family topics"): sealed receipts and member notices
# to the family on /fam, its retained online/offline record (and last will) on /status, sealed
# family settings from the phones on /set. Phones get the other side through their dynsec role.
pattern write pp/t/%u/fam
pattern write pp/t/%u/status
pattern read pp/t/%u/set
# firmware updates (issue 14, docs/BROKER.md "Firmware updates"): every account of this file
# reads the retained signed manifest and image chunks; only the release publisher writes them
pattern read pp/fw/#
user pp-release
topic write pp/fw/#
`;
