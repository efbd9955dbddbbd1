/**
 * Retention and quota on the relay's own configuration (docs/BROKER.md "## Retention
 * and quota"), measured on mosquitto 2.0.11: what an offline phone gets when more
 * chunks arrive than its queue quota allows, and that the broker says so in its log.
 * The quota is lowered to 10 here (1,000 in production) so the test is quick.
 * Skips with one line when not root or mosquitto / the dynsec plugin is missing.
 */
import test from 'ava';
import * as fs from 'node:fs';
import type { MqttClient } from 'mqtt';
import { DynsecClient } from '../relay/dynsec-client.js';
import { RelayRig, RIG_HOST, relayInProcess, relayRigUnavailable } from './relay-rig.js';

const why = relayRigUnavailable();
const rt = why ? test.skip : test.serial;
if (why) test('relay retention tests skipped: ' + why, (t) => t.pass());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isClient = (c: MqttClient | string): c is MqttClient => typeof c !== 'string';

rt('at the per-client quota the broker keeps the oldest chunks and drops the newer ones (and logs it); the sender still gets PUBACK', async (t) => {
  const rig = await RelayRig.init();
  const open: MqttClient[] = [];
  try {
    const conf = fs.readFileSync(rig.files.conf, 'utf8');
    t.regex(conf, /^persistent_client_expiration 7d$/m);
    t.regex(conf, /^max_queued_messages 1000$/m);
    fs.writeFileSync(rig.files.conf, conf.replace(/^max_queued_messages 1000$/m, 'max_queued_messages 10'));
    const batch = await rig.provision(1);
    t.is((await relayInProcess(['add-batch', batch.dir, '--conf-dir', rig.paths.confDir])).status, 0);
    await rig.start();
    const toy = batch.toys[0]!;
    const [admin, adminPw] = fs.readFileSync(rig.files.adminSecret, 'utf8').trim().split(' ') as [string, string];
    const d = await DynsecClient.connect({ host: '127.0.0.1', port: rig.port, servername: RIG_HOST, ca: rig.ca, username: admin, password: adminPw });
    const user = 'ph-' + '5'.repeat(32);
    const pw = 'quota-test-password-0123';
    await d.run({ command: 'createRole', rolename: 'r' });
    await d.run({ command: 'addRoleACL', rolename: 'r', acltype: 'subscribeLiteral', topic: `pp/t/${toy.toyId}/out`, allow: true });
    await d.run({ command: 'addRoleACL', rolename: 'r', acltype: 'publishClientReceive', topic: `pp/t/${toy.toyId}/out`, allow: true });
    await d.run({ command: 'createClient', username: user, password: pw, roles: [{ rolename: 'r' }] });
    await d.end();

    const ph = await rig.connect(user, pw, { clean: false });
    if (!isClient(ph)) return t.fail(String(ph));
    await ph.subscribeAsync(`pp/t/${toy.toyId}/out`, { qos: 1 });
    await ph.endAsync();
    const tc = await rig.connect(toy.mqttUser, toy.mqttPassword);
    if (!isClient(tc)) return t.fail(String(tc));
    open.push(tc);
    let acked = 0;
    for (let i = 1; i <= 30; i++) {
      await tc.publishAsync(`pp/t/${toy.toyId}/out`, `c${i}`, { qos: 1 });
      acked++;
    }
    t.is(acked, 30, 'every chunk acknowledged to the toy, quota or not');
    const got: string[] = [];
    const ph2 = await rig.connect(user, pw, { clean: false });
    if (!isClient(ph2)) return t.fail(String(ph2));
    open.push(ph2);
    ph2.on('message', (_t, p) => got.push(p.toString()));
    await sleep(1500);
    t.log(`delivered after reconnect: ${got.join(',')}`);
    t.deepEqual(got, Array.from({ length: 10 }, (_, i) => `c${i + 1}`), 'the oldest 10 (the quota) arrive, in order; the newer 20 are gone');
    t.regex(rig.log, /Outgoing messages are being dropped for client/);
  } finally {
    for (const c of open) c.end(true);
    await rig.dispose();
  }
});
