/**
 * A whole PawPost toy (src/app.ts) on fakes, for end-to-end tests in both tiers:
 * manual clock, in-memory storage that survives a "restart", fake mic / speaker /
 * codec, the simulated BLE radio, and an in-process MQTT broker (tests/mqtt-fakes.ts).
 * A simulated parent phone pairs over the radio and exchanges sealed messages
 * through the broker. Portable. Keys here are throwaway test keys.
 */
import { naclCrypto } from '../src/nacl-crypto.js';
import { startPawPost, toyTopics, type PawPost, type PawPostPorts } from '../src/app.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { pairWithToy, type PairWithToyResult } from '../phone/phone-pairing.js';
import { formatSetupCode } from '../src/setup-code.js';
import { toyKeyHash } from '../src/pairing-protocol.js';
import { FakeCodec } from '../audio/fake-codec.js';
import { SimBlePeripheral, SimCentral } from '../sim/ble-sim.js';
import { FakeButton } from './fakes/fake-button.js';
import { FakeLed } from './fakes/fake-led.js';
import { FakeMic, countingSource } from './fakes/fake-mic.js';
import { FakeSpeaker } from './fakes/fake-speaker.js';
import { FakeRandom } from './fakes/fake-random.js';
import { ManualClock } from './fakes/manual-clock.js';
import { MemoryLog } from './fakes/memory-log.js';
import { MemoryStorage } from './fakes/memory-storage.js';
import { FakeBroker } from './mqtt-fakes.js';
import { provisioned } from './identity.cases.js';

export const DEVICE_INFO = {
  model: 'PawPost PP-1',
  firmware: '0.1.0',
  securityContact: 'https://pawpost.example/security',
  securityUpdatesUntil: '2031-12-31',
};

export class Phone {
  readonly storage = new MemoryStorage();
  env!: PhoneEnvelope;
  pairing!: PairWithToyResult;
  readonly secretKey: Uint8Array;
  constructor(readonly rig: AppRig, readonly n: number) {
    this.secretKey = new Uint8Array(32).fill(0x51 + n);
  }
  /** Pairs over the simulated radio (the toy must be in pairing mode). */
  async pair(name = `Parent ${this.n}`): Promise<void> {
    const central = new SimCentral(this.rig.radio);
    const c = central.connect();
    if (c !== 'OK') throw new Error(`connect: ${c}`);
    this.pairing = await pairWithToy(central, {
      crypto: naclCrypto,
      random: this.rig.random,
      setupCode: this.rig.setupCode,
      member: naclCrypto.boxKeyPairFromSecret(this.secretKey),
      memberId: `phone${this.n}`,
      name,
      network: { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'relay.test', brokerPort: 8883 },
    });
    central.disconnect();
    this.env = new PhoneEnvelope({
      crypto: naclCrypto,
      random: this.rig.random,
      storage: this.storage,
      clock: this.rig.clock,
      secretKey: this.secretKey,
      toyPublicKey: this.pairing.toyPublicKey,
      sharedKey: this.pairing.sharedKey,
      packetsPerChunk: 25,
    });
  }
  /** Seals `packets` fake Opus packets (first two bytes = frame value k+1) as one message to the toy. */
  sealMessage(packets: number, firstValue = 1000): Uint8Array[] {
    const msg = this.env.begin();
    const out: Uint8Array[] = [];
    const pkt = new Uint8Array(40).fill(0xa5);
    for (let k = 0; k < packets; k++) {
      const v = firstValue + k;
      pkt[0] = v >> 8;
      pkt[1] = v & 0xff;
      pkt[2] = k & 0xff;
      const c = msg.addPacket(pkt, pkt.length);
      if (c) out.push(c);
    }
    out.push(msg.finish());
    return out;
  }
  /** Opens chunks the toy published; returns the packet count per message (throws on a bad chunk). */
  open(chunks: Uint8Array[]): { packets: number; messages: number } {
    let packets = 0;
    let messages = 0;
    for (const c of chunks) {
      const r = this.env.opener.push(c);
      packets += r.packets.length;
      if (r.final) {
        messages++;
        this.env.opener.finish(r.info.messageKey);
      }
    }
    return { packets, messages };
  }
}

export class AppRig {
  readonly clock = new ManualClock();
  readonly random = new FakeRandom(99);
  readonly nvs: MemoryStorage;
  readonly data = new MemoryStorage();
  readonly broker: FakeBroker;
  readonly setupCode: string;
  readonly toyId: string;
  readonly topics: { out: string; in: string };
  readonly log = new MemoryLog();
  readonly secrets: Uint8Array[];
  readonly password: string;
  readonly played: number[] = [];
  paw!: FakeButton;
  heart!: FakeButton;
  led!: FakeLed;
  mic!: FakeMic;
  speaker!: FakeSpeaker;
  codec!: FakeCodec;
  radio!: SimBlePeripheral;
  app!: PawPost;
  resets = 0;

  /** `boot: false` builds everything but the toy (call boot() yourself). */
  /** Firmware update ports for the toy (issue 14); none by default. */
  update: PawPostPorts['update'];

  constructor(opts: { nvs?: MemoryStorage; boot?: boolean; update?: PawPostPorts['update'] } = {}) {
    this.update = opts.update;
    const f = provisioned(7);
    this.nvs = opts.nvs ?? f.storage;
    this.toyId = f.toyId;
    this.secrets = f.secrets;
    this.password = f.password;
    // PP2: the label carries the toy key hash (issue 11), which the phone checks.
    this.setupCode = formatSetupCode({ toyId: f.toyId, setupSecret: f.secrets[1]!, toyKeyHash: toyKeyHash(naclCrypto, naclCrypto.boxKeyPairFromSecret(f.secrets[0]!).publicKey) });
    this.topics = toyTopics(f.toyId);
    this.broker = new FakeBroker(this.clock);
    if (opts.boot !== false) this.boot();
  }

  /** (Re)starts the toy from its storage: a power cycle. Everything in RAM is rebuilt. */
  boot(): void {
    this.app?.close();
    this.paw = new FakeButton('paw', () => this.clock.now());
    this.heart = new FakeButton('heart', () => this.clock.now());
    this.led = new FakeLed();
    this.mic = new FakeMic(this.clock, countingSource());
    this.speaker = new FakeSpeaker(this.clock, (f: Int16Array) => this.played.push(f[0]!), 8); // the device's speakerSlots
    this.codec = new FakeCodec();
    this.radio = new SimBlePeripheral();
    this.app = startPawPost(
      {
        clock: this.clock,
        random: this.random,
        crypto: naclCrypto,
        log: this.log,
        paw: this.paw,
        heart: this.heart,
        led: this.led,
        mic: this.mic,
        speaker: this.speaker,
        codec: this.codec,
        nvs: this.nvs,
        data: this.data,
        ble: this.radio,
        socket: () => this.broker.socket(),
        update: this.update,
      },
      { deviceInfo: DEVICE_INFO, onFactoryReset: () => this.resets++ },
    );
  }

  /** Holds the paw for ms, then releases it. */
  holdPaw(ms: number): void {
    this.paw.press();
    this.clock.advance(ms);
    this.paw.release();
  }

  /** Chunks the toy published on its outgoing topic so far. */
  published(): Uint8Array[] {
    return this.broker.published.filter((p) => p.topic === this.topics.out).map((p) => p.payload);
  }

  /** The broker delivers chunks to the toy (QoS 1, persistent session). */
  deliver(chunks: Uint8Array[]): void {
    for (const c of chunks) this.broker.deliver(this.toyId, this.topics.in, c);
  }
}

/**
 * A new toy paired with phone 1 ("Mum") and online: the paw held 3 s opens pairing, the
 * phone pairs, then 2 s for the MQTT session to connect and subscribe. Pass a rig to set
 * it up first (a broker that refuses subscriptions, for example).
 */
export async function pairedRig(rig: AppRig = new AppRig()): Promise<{ rig: AppRig; phone: Phone }> {
  rig.paw.press();
  rig.clock.advance(3000);
  rig.paw.release();
  const phone = new Phone(rig, 1);
  await phone.pair('Mum');
  rig.clock.advance(2000); // the MQTT session connects and subscribes
  return { rig, phone };
}
