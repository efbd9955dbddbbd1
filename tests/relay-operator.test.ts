/**
 * The operator path as written in docs/BROKER.md, run the way an operator runs it:
 * as root, `npm run relay -- init` then `add-batch`, mosquitto started as root so it
 * drops to the `mosquitto` user, TLS on. Each of the four faults of issue 16 is a
 * check here: the password file is readable by the service user (a toy connects),
 * the TLS key is usable by it (the TLS handshake verifies against the generated CA),
 * the persistence directory exists and is written (mosquitto.db after a stop, and a
 * queued chunk survives the restart), and add-batch reloads a running broker.
 * Skips with one line when not root or mosquitto / the dynsec plugin is missing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import { renderMosquittoConf, DEFAULT_CONF, ACL_TEXT } from '../relay/relay-config.js';
import { RelayRig, relayCommand, relayInProcess, relayRigUnavailable } from './relay-rig.js';

const why = relayRigUnavailable();
const rt = why ? test.skip : test.serial;
if (why) test('relay operator tests skipped: ' + why, (t) => t.pass());

const isClient = (c: MqttClient | string): c is MqttClient => typeof c !== 'string';

test('broker/mosquitto.conf and broker/acl are what init writes with the default paths', (t) => {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  t.is(fs.readFileSync(path.join(root, 'broker/mosquitto.conf'), 'utf8'), renderMosquittoConf(DEFAULT_CONF));
  t.is(fs.readFileSync(path.join(root, 'broker/acl'), 'utf8'), ACL_TEXT);
});

rt('init + add-batch as root: mosquitto runs as its own user with TLS, a provisioned toy connects, add-batch reloads, the session survives a restart', async (t) => {
  const rig = await RelayRig.init([], 'spawn');
  const clients: MqttClient[] = [];
  try {
    const f = rig.files;
    const mosq = Number(execFileSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' }));
    const st = (p: string) => fs.statSync(p);
    t.is(st(f.passwd).mode & 0o777, 0o640);
    t.is(st(f.serverKey).mode & 0o777, 0o640);
    t.is(st(rig.paths.dataDir).uid, mosq);
    t.is(st(f.caKey).mode & 0o777, 0o600);
    t.false(rig.initOut.includes(fs.readFileSync(f.adminSecret, 'utf8').split(' ')[1]!.trim()), 'no secret printed');

    const a = await rig.provision(2);
    const r1 = relayCommand(['add-batch', a.dir, '--conf-dir', rig.paths.confDir]);
    t.is(r1.status, 0, r1.stderr);
    t.regex(r1.stdout, /2 toys added/);
    t.is(st(f.passwd).mode & 0o777, 0o640);

    await rig.start();
    t.is(rig.brokerUid(), mosq, 'mosquitto dropped to its service user');
    t.false(/Error|Unable/i.test(rig.log), rig.log);

    const [toy, toy2] = a.toys as [typeof a.toys[0], typeof a.toys[0]];
    const c = await rig.connect(toy.mqttUser, toy.mqttPassword, { clean: false });
    t.true(isClient(c), `provisioned toy connects over TLS: ${String(c)}`);
    if (isClient(c)) clients.push(c);
    t.is(await rig.connect(toy2.mqttUser, 'wrong-password-000000000'), 'refused:5');
    // the toy subscribes to its own /in (its persistent session keeps the subscription)
    if (isClient(c)) {
      await c.subscribeAsync(`pp/t/${toy.toyId}/in`, { qos: 1 });
      await c.endAsync();
    }

    // a second batch while the broker runs: add-batch reloads it, no restart
    const b = await rig.provision(1);
    const r2 = relayCommand(['add-batch', b.dir, '--conf-dir', rig.paths.confDir]);
    t.is(r2.status, 0, r2.stderr);
    t.regex(r2.stdout, /reloaded the running broker/);
    await new Promise((r) => setTimeout(r, 300));
    const c2 = await rig.connect(b.toys[0]!.mqttUser, b.toys[0]!.mqttPassword);
    t.true(isClient(c2), `toy of the new batch connects after the reload: ${String(c2)}`);
    if (isClient(c2)) await c2.endAsync();
    // the same batch again: nothing added, nothing broken
    const r3 = await relayInProcess(['add-batch', b.dir, '--conf-dir', rig.paths.confDir]);
    t.regex(r3.stdout, /0 toys added, 1 already present/);

    const s = relayCommand(['status', '--conf-dir', rig.paths.confDir, '--host', 'relay.test']);
    t.is(s.status, 0, s.stdout + s.stderr);
    t.regex(s.stdout, /3 toys in the password file/);
    t.regex(s.stdout, /TLS listener on port \d+: certificate verified/);

    // persistence: stop, the database is written in the data dir by the service user
    await rig.stop();
    const db = path.join(rig.paths.dataDir, 'mosquitto.db');
    t.true(fs.existsSync(db), 'mosquitto.db written at shutdown');
    t.is(st(db).uid, mosq);
    t.false(/Error saving|Unable/i.test(rig.log), rig.log);
    // and the toy's persistent session came back: its subscription is still there after a restart
    await rig.start();
    const back = await rig.connect(toy.mqttUser, toy.mqttPassword, { clean: false });
    t.true(isClient(back));
    if (isClient(back)) {
      t.true(back.options.clean === false);
      clients.push(back);
    }
    const status2 = await relayInProcess(['status', '--conf-dir', rig.paths.confDir, '--host', 'relay.test']);
    t.is(status2.status, 0, status2.stdout);
  } finally {
    for (const c of clients) c.end(true);
    await rig.dispose();
  }
});

rt('init refuses an operator key that does not belong to the certificate, and status reports a bad mode', async (t) => {
  const rig = await RelayRig.init();
  try {
    // the operator's own certificate with a foreign key: a typed error, exit 2
    const other = path.join(rig.dir, 'other.key');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
    const r = await relayInProcess(['init', '--conf-dir', path.join(rig.dir, 'etc2'), '--data-dir', path.join(rig.dir, 'var2'), '--no-systemd',
      '--cert', rig.files.serverCrt, '--key', other]);
    t.is(r.status, 2);
    t.regex(r.stderr, /relay: error CERT: the key does not belong to the certificate/);
    // the broken mode of issue 16 (a 0600 root key) is reported by status
    fs.chmodSync(rig.files.serverKey, 0o600);
    const s = await relayInProcess(['status', '--conf-dir', rig.paths.confDir]);
    t.is(s.status, 1);
    t.regex(s.stdout, /problem .*server\.key is 600/);
    // and init repairs it
    const again = await relayInProcess(['init', '--conf-dir', rig.paths.confDir, '--data-dir', rig.paths.dataDir, '--port', String(rig.port), '--bind', '127.0.0.1', '--no-systemd']);
    t.is(again.status, 0, again.stderr);
    t.regex(again.stdout, /kept the existing/);
    t.is(fs.statSync(rig.files.serverKey).mode & 0o777, 0o640);
  } finally {
    await rig.dispose();
  }
});
