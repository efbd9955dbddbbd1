/**
 * The parent command line (tools/parent-cli.ts) through a real Mosquitto (the
 * shipped broker/mosquitto.conf and broker/acl, tests/mqtt-node-helpers.ts) with a
 * whole toy (src/app.ts) on its real MQTT session over TCP, in real time, with the
 * host Opus codec: the phone pairs over the in-process radio (the phone library,
 * phone/parent-phone.ts, on the command line's own data directory), the operator
 * adds its account, then `send`, `list`, `get --ogg` and `status` run against the
 * broker. The exported .opus of the toy's recording plays in opusdec. The phone's
 * account comes from the relay's enrollment service (relay/enrollment-service.ts) via
 * `enroll --relay ... --relay-pub ...`, the service's broker admin faked by hand.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FRAME_SAMPLES } from '../hal/ports.js';
import { startPawPost, type PawPost } from '../src/app.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { SimBlePeripheral, SimCentral } from '../sim/ble-sim.js';
import { DirStorage } from '../sim/dir-storage.js';
import { mosquittoHash, mosquittoPasswdLines, mosquittoPhoneAcl, type BrokerRegistry } from '../sim/embedded-broker.js';
import { NodeClock } from '../sim/node-clock.js';
import { NodeSocket } from '../sim/node-socket.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { formatWav } from '../sim/wav-file.js';
import { formatSetupCode } from '../src/setup-code.js';
import { toyKeyHash } from '../src/pairing-protocol.js';
import { ParentPhone } from '../phone/parent-phone.js';
import { readOggOpus } from '../phone/ogg-opus.js';
import { DirFiles } from '../tools/parent-node.js';
import { main } from '../tools/parent-cli.js';
import { DEVICE_INFO } from './app-rig.js';
import { FakeButton } from './fakes/fake-button.js';
import { FakeLed } from './fakes/fake-led.js';
import { FakeMic } from './fakes/fake-mic.js';
import { FakeSpeaker } from './fakes/fake-speaker.js';
import { MemoryLog } from './fakes/memory-log.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { provisioned } from './identity.cases.js';
import { freePort, hasMosquitto, Mosquitto, sleep, waitFor } from './mqtt-node-helpers.js';
import nacl from 'tweetnacl';
import { makeNotice } from '../src/enrollment-grant.js';
import type { DynsecClient } from '../relay/dynsec-client.js';
import { EnrollmentService, startEnrollmentServer } from '../relay/enrollment-service.js';

/** The broker admin the enrollment service drives (dynsec), by hand: records commands, applies accounts through `apply`. */
class FakeDynsec {
  readonly commands: string[] = [];
  private readonly clients = new Map<string, { password: string; roles: string[] }>();
  constructor(private readonly apply: (user: string, password: string, toyId: string) => Promise<void>) {}
  async run(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.commands.push(String(cmd.command));
    const u = String(cmd.username ?? '');
    if (cmd.command === 'createClient') this.clients.set(u, { password: String(cmd.password), roles: [] });
    if (cmd.command === 'setClientPassword') this.clients.get(u)!.password = String(cmd.password);
    if (cmd.command === 'addClientRole') {
      const c = this.clients.get(u)!;
      c.roles.push(String(cmd.rolename));
      await this.apply(u, c.password, String(cmd.rolename).replace(/^pp-toy-/, ''));
    }
    return {};
  }
  async runTolerant(cmd: Record<string, unknown>): Promise<void> {
    await this.run(cmd);
  }
  async getClient(username: string): Promise<{ username: string; roles: string[] } | undefined> {
    this.commands.push('getClient');
    const c = this.clients.get(username);
    return c ? { username, roles: c.roles } : undefined;
  }
}

const maybe = hasMosquitto() && spawnSync('opusdec', ['--version']).status === 0 ? test.serial : test.serial.skip;

/** The toy's socket: whatever host its factory data names, it reaches the test's Mosquitto on loopback. */
class LoopbackSocket extends NodeSocket {
  constructor(private readonly port: number) {
    super();
  }
  override connect(_host: string, _port: number) {
    return super.connect('127.0.0.1', this.port);
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

maybe('the command line through Mosquitto with a real toy: enroll at the enrollment service, send, list, get --ogg (opusdec plays it), status', async (t) => {
  const f = provisioned(7);
  const registry: BrokerRegistry = { toys: { [f.toyId]: { passwordHash: mosquittoHash(f.password) } }, phones: {} };
  const broker = await Mosquitto.start(registry);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-cli-mosq-'));
  const clock = new NodeClock();
  const paw = new FakeButton('paw', () => clock.now());
  const heart = new FakeButton('heart', () => clock.now());
  const radio = new SimBlePeripheral();
  const played: number[] = [];
  // the child's voice: a 300 Hz tone, one 20 ms frame per call
  const mic = new FakeMic(clock, (index, into) => {
    for (let i = 0; i < into.length; i++) into[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * (index * FRAME_SAMPLES + i)) / 16000));
    return true;
  });
  let toy: PawPost | undefined;
  try {
    toy = startPawPost(
      {
        clock,
        random: { fill: (b) => void b.set(randomBytes(b.length)) },
        crypto: naclCrypto,
        log: new MemoryLog(),
        paw,
        heart,
        led: new FakeLed(),
        mic,
        speaker: new FakeSpeaker(clock, (fr: Int16Array) => played.push(fr[0]!), 16),
        codec: new OpusCodecHost(),
        nvs: f.storage,
        data: new MemoryStorage(),
        ble: radio,
        socket: () => new LoopbackSocket(broker.port),
      },
      { deviceInfo: DEVICE_INFO },
    );
    const setupCode = formatSetupCode({ toyId: f.toyId, setupSecret: f.secrets[1]!, toyKeyHash: toyKeyHash(naclCrypto, naclCrypto.boxKeyPairFromSecret(f.secrets[0]!).publicKey) });

    // pair: the phone library on the command line's data directory, over the in-process radio
    paw.press();
    await sleep(3200);
    paw.release();
    await waitFor(() => toy!.toy.state === 'pairing', 3000, 'pairing mode');
    const data = path.join(work, 'mum');
    const phone = new ParentPhone({ storage: new DirStorage(data), files: new DirFiles(path.join(data, 'messages')), crypto: naclCrypto, random: { fill: (b) => void b.set(randomBytes(b.length)) }, clock });
    const central = new SimCentral(radio);
    const brokerUrl = `mqtt://127.0.0.1:${broker.port}`;
    const { record } = await phone.pair(async () => (central.connect(), central), {
      setupCode,
      name: 'Mum',
      toyName: 'Teddy',
      brokerUrl,
      network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: '127.0.0.1', brokerPort: broker.port },
    });
    central.disconnect();
    // enrollment: the toy's grant reaches the relay's enrollment service (the toy publishes it on its
    // ctl topic when it knows the relay's key; here the test hands the service that notice), then the
    // command line enrolls with its sealed request. The service is the relay's own code; its broker
    // admin (Mosquitto's dynamic security plugin in production) is a fake that writes the account
    // into this Mosquitto's password file and ACL and restarts it.
    const relayKeys = nacl.box.keyPair();
    const relayPub = path.join(work, 'relay.pub');
    fs.writeFileSync(relayPub, `PAWPOST-RELAY-PUBLIC-V1 ${Buffer.from(relayKeys.publicKey).toString('hex')}\n`);
    const dynsec = new FakeDynsec(async (user, password, toyId) => {
      registry.phones[user] = { passwordHash: mosquittoHash(password), toys: [toyId] };
      fs.writeFileSync(path.join(broker.dir, 'passwd'), mosquittoPasswdLines(registry), { mode: 0o600 });
      fs.writeFileSync(path.join(broker.dir, 'acl'), fs.readFileSync('broker/acl', 'utf8') + mosquittoPhoneAcl(registry));
      await broker.restart();
    });
    const toyPk = naclCrypto.boxKeyPairFromSecret(f.secrets[0]!).publicKey;
    const service = new EnrollmentService({
      relaySecretKey: relayKeys.secretKey,
      toyPublicKey: (id) => (id === f.toyId ? toyPk : undefined),
      dynsec: dynsec as unknown as DynsecClient,
      statePath: path.join(work, 'enroll-state.json'),
    });
    const enrollPort = await freePort();
    const server = await startEnrollmentServer({ service, port: enrollPort, host: '127.0.0.1' });
    try {
      const grant = makeNotice({ crypto: naclCrypto, kind: 'grant', toyId: f.toyId, toyRelayKey: naclCrypto.boxBefore(relayKeys.publicKey, f.secrets[0]!), phonePublicKey: phone.publicKey, seq: 1, nonce: randomBytes(24) });
      t.is(await service.notice(f.toyId, grant), 'pending');
      const e = await cli(['--data', data, 'enroll', '--relay', `http://127.0.0.1:${enrollPort}`, '--relay-pub', relayPub]);
      t.is(e.code, 0, e.err.join('\n'));
      t.is(e.out[0], `enrolled at the relay ${brokerUrl} as ${record.brokerUser}`);
      t.deepEqual(dynsec.commands.filter((c) => c.endsWith('Client') || c === 'addClientRole'), ['getClient', 'createClient', 'addClientRole']);
      // the same grant never works twice
      const again = await cli(['--data', data, 'enroll', '--relay', `http://127.0.0.1:${enrollPort}`, '--relay-pub', relayPub]);
      t.is(again.code, 1);
      t.regex(again.err[0]!, /^parent: the relay refused the enrollment \(HTTP 403: NO_GRANT\)$/);
    } finally {
      await new Promise((r) => server.close(r));
    }
    await waitFor(() => toy!.session()?.state === 'online', 15000, 'the toy online');

    // status before anything: reachable, no messages; the first contact subscribes the phone's persistent session
    let r = await cli(['--data', data, 'status']);
    t.is(r.code, 0, r.err.join('\n'));
    t.truthy(r.out.find((l) => /^relay reachable; the toy is online since \d{4}-/.test(l)), r.out.join('\n'));

    // send a 22.05 kHz WAV
    const wav = path.join(work, 'night.wav');
    const s = new Int16Array(22050);
    for (let i = 0; i < s.length; i++) s[i] = Math.round(9000 * Math.sin((2 * Math.PI * 250 * i) / 22050));
    fs.writeFileSync(wav, formatWav(s, 22050));
    r = await cli(['--data', data, 'send', wav]);
    t.is(r.code, 0, r.err.join('\n'));
    await waitFor(() => (toy!.player?.waiting() ?? 0) === 1, 10000, 'the message at the toy');

    // the child records 1.5 s while the command line is away; list collects it from Mosquitto
    paw.press();
    await sleep(1500);
    paw.release();
    await waitFor(() => toy!.toy.state === 'idle' && (toy!.outbox?.count() ?? 1) === 0, 10000, 'the recording at the broker');
    r = await cli(['--data', data, 'list']);
    t.is(r.code, 0, r.err.join('\n'));
    t.is(r.out[0], '1 new message(s) from Teddy');
    const rx = r.out.find((l) => l.includes('from Teddy') && l.endsWith('new'))!;
    t.truthy(rx, r.out.join('\n'));
    t.truthy(r.out.find((l) => l.includes('to the toy (Mum)') && /  delivered$/.test(l)), r.out.join('\n'));

    // export and play it
    const opus = path.join(work, 'teddy.opus');
    r = await cli(['--data', data, 'get', rx.slice(0, 8), '--ogg', opus]);
    t.is(r.code, 0, r.err.join('\n'));
    const info = execFileSync('opusinfo', [opus], { encoding: 'utf8' });
    t.regex(info, /Pre-skip: 312/);
    const dec = path.join(work, 'teddy.wav');
    execFileSync('opusdec', ['--rate', '16000', '--quiet', opus, dec]);
    const pcm = new Int16Array(fs.readFileSync(dec).buffer.slice(44));
    const ogg = readOggOpus(new Uint8Array(fs.readFileSync(opus)));
    t.true(Math.abs(pcm.length - (ogg.packets.length * 320 - 104)) <= 1, `${pcm.length} samples for ${ogg.packets.length} packets`);
    let e = 0;
    for (const v of pcm.subarray(1600)) e += v * v;
    const rms = Math.sqrt(e / (pcm.length - 1600));
    t.true(rms > 3000, `the 300 Hz tone is there (rms ${rms.toFixed(0)})`);

    // send the exported Ogg Opus file back: its packets go as they are (no re-encoding)
    r = await cli(['--data', data, 'send', opus]);
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out.at(-1)!, /^sent [0-9a-f]{8}: \d\.\d s \(Ogg Opus, packets kept as they are\)/);
    await waitFor(() => (toy!.player?.waiting() ?? 0) === 2, 10000, 'the Ogg message at the toy');
    const sentBack = r.out.at(-1)!.slice(5, 13);
    const back = path.join(work, 'back.opus');
    t.is((await cli(['--data', data, 'get', sentBack, '--ogg', back])).code, 0);
    t.deepEqual(readOggOpus(new Uint8Array(fs.readFileSync(back))).packets, ogg.packets, 'the same packets, byte for byte');

    r = await cli(['--data', data, 'status']);
    t.truthy(r.out.find((l) => l === 'messages: 1 from the toy (0 new), 2 sent (0 waiting on this phone)'), r.out.join('\n'));
    t.false(broker.log().includes(record.brokerPassword));
  } finally {
    toy?.close();
    await broker.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
