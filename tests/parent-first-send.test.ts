/**
 * The first message to a toy that has never connected to the relay (issue 15): on a
 * real Mosquitto (the shipped broker/mosquitto.conf and broker/acl) a publish to
 * pp/t/<toy>/in before the toy's first SUBSCRIBE has no queue to go to and is
 * dropped, although the broker acknowledges it. The phone therefore keeps a message
 * "waiting on this phone" until it has seen the toy's retained status record, which the
 * toy publishes only after its SUBACK (src/mqtt-session.ts); the next command that
 * talks to the relay sends it. Here the toy (src/app.ts on its real MQTT session over
 * TCP) is paired but cannot reach the relay until the phone has sent: the message must
 * still reach the toy. A settings change made meanwhile is kept the same way.
 */
import test from 'ava';
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

const maybe = hasMosquitto() ? test.serial : test.serial.skip;

/** The toy's socket: to the test's Mosquitto once `gate.open`, before that to a port where nothing listens (its Wi-Fi is not up yet). */
class GatedSocket extends NodeSocket {
  constructor(private readonly gate: { open: boolean; port: number; closedPort: number }) {
    super();
  }
  override connect(_host: string, _port: number) {
    return super.connect('127.0.0.1', this.gate.open ? this.gate.port : this.gate.closedPort);
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

maybe('the first message to a toy that never reached the relay is not lost: it waits on the phone until the toy is seen, then reaches the toy', async (t) => {
  t.timeout(120000);
  const f = provisioned(9);
  const registry: BrokerRegistry = { toys: { [f.toyId]: { passwordHash: mosquittoHash(f.password) } }, phones: {} };
  const broker = await Mosquitto.start(registry);
  const gate = { open: false, port: broker.port, closedPort: await freePort() };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-first-send-'));
  const clock = new NodeClock();
  const paw = new FakeButton('paw', () => clock.now());
  const heart = new FakeButton('heart', () => clock.now());
  const radio = new SimBlePeripheral();
  const log = new MemoryLog();
  let toy: PawPost | undefined;
  try {
    toy = startPawPost(
      {
        clock,
        random: { fill: (b) => void b.set(randomBytes(b.length)) },
        crypto: naclCrypto,
        log,
        paw,
        heart,
        led: new FakeLed(),
        mic: new FakeMic(clock, (_i, into) => (into.fill(0), true)),
        speaker: new FakeSpeaker(clock, () => undefined, 16),
        codec: new OpusCodecHost(),
        nvs: f.storage,
        data: new MemoryStorage(),
        ble: radio,
        socket: () => new GatedSocket(gate),
      },
      { deviceInfo: DEVICE_INFO },
    );
    const setupCode = formatSetupCode({ toyId: f.toyId, setupSecret: f.secrets[1]!, toyKeyHash: toyKeyHash(naclCrypto, naclCrypto.boxKeyPairFromSecret(f.secrets[0]!).publicKey) });
    paw.press();
    await sleep(3200);
    paw.release();
    await waitFor(() => toy!.toy.state === 'pairing', 3000, 'pairing mode');
    const data = path.join(work, 'mum');
    const phone = new ParentPhone({ storage: new DirStorage(data), files: new DirFiles(path.join(data, 'messages')), crypto: naclCrypto, random: { fill: (b) => void b.set(randomBytes(b.length)) }, clock });
    const central = new SimCentral(radio);
    const { record } = await phone.pair(async () => (central.connect(), central), {
      setupCode,
      name: 'Mum',
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: '127.0.0.1', brokerPort: broker.port },
    });
    central.disconnect();
    // the phone's account at the relay (what the enrollment service does), then the relay reloads
    registry.phones[record.brokerUser] = { passwordHash: mosquittoHash(record.brokerPassword), toys: [f.toyId] };
    fs.writeFileSync(path.join(broker.dir, 'passwd'), mosquittoPasswdLines(registry), { mode: 0o600 });
    fs.writeFileSync(path.join(broker.dir, 'acl'), fs.readFileSync('broker/acl', 'utf8') + mosquittoPhoneAcl(registry));
    await broker.restart();

    // the toy tries the relay and cannot reach it yet
    await waitFor(() => toy!.session()?.state === 'waiting', 15000, 'the toy trying the relay');
    t.not(toy.session()?.state, 'online');

    // Mum sends: the relay answers, the toy has never been there
    const wav = path.join(work, 'hello.wav');
    const s = new Int16Array(16000);
    for (let i = 0; i < s.length; i++) s[i] = Math.round(9000 * Math.sin((2 * Math.PI * 250 * i) / 16000));
    fs.writeFileSync(wav, formatWav(s, 16000));
    let r = await cli(['--data', data, '--wait', '300', 'send', wav]);
    t.is(r.code, 0, r.err.join('\n'));
    t.log(r.out.join('\n'));
    t.regex(r.out.at(-1)!, /^kept [0-9a-f]{8}: 1\.0 s .*, waiting on this phone: the toy has not connected to the relay yet/);
    const id = r.out.at(-1)!.slice(5, 13);
    r = await cli(['--data', data, '--wait', '300', 'settings', '--volume', '35', '--utc-offset', '0']);
    t.is(r.code, 0, r.err.join('\n'));
    t.log(r.out.join('\n'));
    t.regex(r.out.at(-1)!, /^settings kept on this phone: quiet hours off, volume limit 35 %/);
    r = await cli(['--data', data, '--wait', '300', 'status']);
    t.truthy(r.out.find((l) => l === 'relay reachable; the toy has not reported its state yet'), r.out.join('\n'));
    t.truthy(r.out.find((l) => l === 'messages: 0 from the toy (0 new), 1 sent (1 waiting on this phone)'), r.out.join('\n'));

    // the toy's Wi-Fi comes up: it connects, subscribes, says it is online
    gate.open = true;
    await waitFor(() => toy!.session()?.state === 'online', 30000, 'the toy online');
    await waitFor(() => log.lines.some((l) => l.event === 'mqtt.subscribed'), 10000, 'the toy subscribed');

    // the next command that talks to the relay sees the toy and sends what waited on the phone
    r = await cli(['--data', data, '--wait', '500', 'list']);
    t.is(r.code, 0, r.err.join('\n'));
    t.log(r.out.join('\n'));
    t.truthy(r.out.find((l) => l === `sent 1 message(s) that waited on this phone (${id}): queued at the relay for the toy`), r.out.join('\n'));
    t.truthy(r.out.find((l) => l === 'sent the settings that waited on this phone to the toy'), r.out.join('\n'));
    await waitFor(() => (toy!.player?.waiting() ?? 0) === 1, 15000, 'the first message at the toy');
    await waitFor(() => toy!.family?.settings.volumePercent === 35, 15000, 'the settings at the toy');
    // seen once, the phone sends at once from then on (the toy's session keeps its queue)
    r = await cli(['--data', data, '--wait', '300', 'send', wav]);
    t.regex(r.out.at(-1)!, /^sent [0-9a-f]{8}: 1\.0 s .*, queued at the relay for the toy$/);
    await waitFor(() => (toy!.player?.waiting() ?? 0) === 2, 15000, 'the second message at the toy');
    r = await cli(['--data', data, '--wait', '500', 'list']);
    t.regex(r.out.find((l) => l.startsWith(id))!, /  delivered$/, r.out.join('\n'));
  } finally {
    toy?.close();
    await broker.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
