/**
 * The parent's phone in the simulator: pairs with the toy over (simulated) BLE
 * with the label's setup code, then talks to the toy through the MQTT broker
 * with its own phone account — sealed messages only, both ways. It uses the same
 * portable phone modules a real app would (phone/phone-pairing.ts,
 * phone/phone-envelope.ts), the host Opus codec, espeak-ng for "recording", and
 * the npm `mqtt` client.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { Counters } from '../src/counters.js';
import { EnvelopeError } from '../src/envelope.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import type { NetworkSettings } from '../src/network-settings.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { checkSetupCode, pairWithToy, type PhoneTransport } from '../phone/phone-pairing.js';
import { toyTopics } from '../src/topics.js';
import { DirStorage } from './dir-storage.js';
import { mosquittoHash, type BrokerRegistry } from './embedded-broker.js';
import { NodeClock } from './node-clock.js';
import { OpusCodecHost } from './opus-codec-host.js';
import { speakOrFixture } from './speech.js';
import { formatWav } from './wav-file.js';

const nodeRandom = { fill: (b: Uint8Array) => void b.set(randomBytes(b.length)) };

export interface ReceivedMessage {
  id: string;
  from: string;
  seconds: number;
  wav: Uint8Array;
}

export interface ParentAppOptions {
  /** Where the phone keeps its keys and counters (a directory). */
  dir: string;
  /** Opens a BLE connection to the toy. */
  connectBle: () => Promise<PhoneTransport>;
  /** The broker the phone and the toy use. */
  brokerUrl: string;
  brokerHost: string;
  brokerPort: number;
  /** The relay's account registry: pairing adds this phone's account and ACL (what the company's backend would do). */
  registry: BrokerRegistry;
  log: (line: string) => void;
}

export class ParentApp {
  readonly counters = new Counters();
  readonly messages: ReceivedMessage[] = [];
  status = 'not paired: put the toy in pairing mode, then press "Pair"';
  private readonly storage: DirStorage;
  private readonly clock = new NodeClock();
  private readonly codec = new OpusCodecHost();
  private env: PhoneEnvelope | undefined;
  private client: MqttClient | undefined;
  private toyId: string | undefined;
  private rx = new Map<string, { packets: Uint8Array[]; from: string }>();

  constructor(private readonly o: ParentAppOptions) {
    this.storage = new DirStorage(o.dir);
  }

  private secretKey(): Uint8Array {
    let sk = this.storage.read('phone.sk');
    if (!sk) {
      sk = new Uint8Array(randomBytes(32));
      this.storage.write('phone.sk', sk);
    }
    return sk;
  }

  /** Resumes a pairing saved by an earlier run (toy id, toy key, shared key, broker account). */
  resume(): boolean {
    const saved = this.storage.read('phone.toy');
    if (!saved) return false;
    const j = JSON.parse(new TextDecoder().decode(saved)) as { toyId: string; toyPublicKey: string; sharedKey: string; user: string; password: string };
    this.toyId = j.toyId;
    this.makeEnvelope(Buffer.from(j.toyPublicKey, 'hex'), Buffer.from(j.sharedKey, 'hex'));
    this.o.registry.phones[j.user] = { passwordHash: mosquittoHash(j.password), toys: [j.toyId] };
    this.connectMqtt(j.user, j.password);
    return true;
  }

  private makeEnvelope(toyPublicKey: Uint8Array, sharedKey: Uint8Array): void {
    this.env = new PhoneEnvelope({
      crypto: naclCrypto,
      random: nodeRandom,
      storage: this.storage,
      clock: this.clock,
      secretKey: this.secretKey(),
      toyPublicKey: new Uint8Array(toyPublicKey),
      sharedKey: new Uint8Array(sharedKey),
      packetsPerChunk: 25,
      counters: this.counters,
    });
  }

  /** Pairs with the toy (it must be in pairing mode) using the setup code from its label. */
  async pair(name: string, setupCode: string): Promise<void> {
    this.status = 'pairing… (the toy computes its keys)';
    const network: NetworkSettings = { ssid: 'PawPost simulator', passphrase: 'simulated wifi', brokerHost: this.o.brokerHost, brokerPort: this.o.brokerPort };
    const user = `ph-${randomBytes(16).toString('hex')}`;
    const password = randomBytes(24).toString('base64url');
    let r;
    try {
      checkSetupCode(setupCode); // a malformed or unauthenticatable code fails here, before any radio traffic
      r = await pairWithToy(await this.o.connectBle(), {
        crypto: naclCrypto,
        random: nodeRandom,
        setupCode,
        member: naclCrypto.boxKeyPairFromSecret(this.secretKey()),
        memberId: `p${randomBytes(6).toString('hex')}`,
        name,
        network,
      });
    } catch (e) {
      this.status = `pairing failed: ${e instanceof Error ? e.message : 'error'}`;
      throw e;
    }
    this.toyId = r.toyId;
    this.makeEnvelope(r.toyPublicKey, r.sharedKey);
    this.o.registry.phones[user] = { passwordHash: mosquittoHash(password), toys: [r.toyId] };
    const rec = { toyId: r.toyId, toyPublicKey: Buffer.from(r.toyPublicKey).toString('hex'), sharedKey: Buffer.from(r.sharedKey).toString('hex'), user, password };
    this.storage.write('phone.toy', new TextEncoder().encode(JSON.stringify(rec)));
    r.sharedKey.fill(0);
    this.o.log(`parent: paired with ${r.info.model} ${r.info.firmware} (${r.members} member(s))`);
    this.connectMqtt(user, password);
  }

  private connectMqtt(user: string, password: string): void {
    this.client?.end(true);
    const topics = toyTopics(this.toyId!);
    const client = mqtt.connect(this.o.brokerUrl, { clientId: user, username: user, password, clean: false, reconnectPeriod: 1000, protocolVersion: 4 });
    this.client = client;
    client.on('connect', () => {
      this.status = `paired with toy ${this.toyId!.slice(0, 8)}…, online`;
      client.subscribe(topics.out, { qos: 1 });
    });
    client.on('close', () => {
      if (this.status.endsWith('online')) this.status = `paired with toy ${this.toyId!.slice(0, 8)}…, offline`;
    });
    client.on('error', () => this.counters.inc('parent.mqtt_error'));
    client.on('message', (_topic, payload) => this.onChunk(new Uint8Array(payload)));
  }

  private onChunk(chunk: Uint8Array): void {
    if (!this.env) return;
    try {
      const r = this.env.opener.push(chunk);
      const m = this.rx.get(r.info.messageKey) ?? { packets: [], from: 'the toy' };
      for (const p of r.packets) m.packets.push(p.slice());
      this.rx.set(r.info.messageKey, m);
      if (r.final) {
        this.env.opener.finish(r.info.messageKey);
        this.rx.delete(r.info.messageKey);
        this.finishMessage(r.info.messageKey, m.packets);
      }
    } catch (e) {
      this.counters.inc(`parent.drop_${e instanceof EnvelopeError ? e.code : 'error'}`);
    }
  }

  private finishMessage(key: string, packets: Uint8Array[]): void {
    const pcm = new Int16Array(packets.length * FRAME_SAMPLES);
    const frame = new Int16Array(FRAME_SAMPLES);
    this.codec.reset();
    packets.forEach((p, i) => {
      this.codec.decode(p, p.length, frame);
      pcm.set(frame, i * FRAME_SAMPLES);
    });
    const seconds = pcm.length / SAMPLE_RATE_HZ;
    this.messages.push({ id: key.slice(0, 16), from: 'the toy', seconds, wav: formatWav(pcm, SAMPLE_RATE_HZ) });
    this.o.log(`parent: a message from the toy arrived (${seconds.toFixed(1)} s)`);
  }

  /** "Records" `text` with espeak-ng, encodes it, seals it for the toy, and publishes it chunk by chunk. */
  async send(text: string): Promise<{ chunks: number; seconds: number }> {
    if (!this.env || !this.client || !this.toyId) throw new Error('pair with the toy first');
    const pcm = speakOrFixture(text).samples;
    const msg = this.env.begin();
    const out = new Uint8Array(1275);
    const frame = new Int16Array(FRAME_SAMPLES);
    const chunks: Uint8Array[] = [];
    this.codec.reset();
    const frames = Math.min(Math.ceil(pcm.length / FRAME_SAMPLES), 3000);
    for (let i = 0; i < frames; i++) {
      frame.fill(0);
      frame.set(pcm.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
      const n = this.codec.encode(frame, out);
      const c = msg.addPacket(out, n);
      if (c) chunks.push(c);
    }
    chunks.push(msg.finish());
    const topic = toyTopics(this.toyId).in;
    for (const c of chunks) await this.client.publishAsync(topic, Buffer.from(c), { qos: 1 });
    const seconds = (frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ;
    this.o.log(`parent: sent a message (${seconds.toFixed(1)} s, ${chunks.length} sealed chunks)`);
    return { chunks: chunks.length, seconds };
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
    this.codec.close();
  }
}
