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
import { DEFAULT_SETTINGS, PhoneFamily, checkSettings, familyTopics, parseToyStatus, type FamilySettings } from '../phone/phone-family.js';
import { applySettingsInput, settingsInWords, type SettingsInput } from '../phone/settings-input.js';
import { peekChunk } from '../src/envelope-format.js';
import { writeOggOpus } from '../phone/ogg-opus.js';
import { checkSetupCode, pairWithToy, type PhoneTransport } from '../phone/phone-pairing.js';
import { toyTopics } from '../src/topics.js';
import { DirStorage } from './dir-storage.js';
import { mosquittoHash, type BrokerRegistry } from './embedded-broker.js';
import { NodeClock } from './node-clock.js';
import { OpusCodecHost } from './opus-codec-host.js';
import { pairingErrorInWords } from './sim-words.js';
import { speakOrFixture } from './speech.js';
import { packetsFromAudioBytes } from './audio-file-packets.js';
import { formatWav } from './wav-file.js';

const nodeRandom = { fill: (b: Uint8Array) => void b.set(randomBytes(b.length)) };

export interface ReceivedMessage {
  id: string;
  from: string;
  seconds: number;
  wav: Uint8Array;
  /** The message as an Ogg Opus file, from the received packets as they are (phone/ogg-opus.ts, as `npm run parent -- get --ogg`). */
  ogg: Uint8Array;
  /** Date.now() when it arrived. */
  at: number;
}

/**
 * A message this phone sent: 'waiting' on the phone (the toy has never been seen at the
 * relay, which would drop it: sent once the toy's status record arrives), 'queued' (the
 * relay holds it: the toy was not connected when it was sent), 'sent' (the relay took it
 * while the toy was connected), 'delivered' (the toy acknowledged its last chunk at the
 * relay, or its sealed receipt said so), 'heard' (the toy's sealed receipt: the child
 * played it to the end). States only move forward.
 */
export interface SentMessage {
  id: string;
  /** The envelope's message id (32 hex chars): what the toy's receipts name. */
  key: string;
  seconds: number;
  /** Date.now() when it was sent. */
  at: number;
  state: 'waiting' | 'queued' | 'sent' | 'delivered' | 'heard';
}

const RANK: Record<SentMessage['state'], number> = { waiting: 0, queued: 1, sent: 1, delivered: 2, heard: 3 };
/** Storage keys, as phone/parent-phone.ts names them. */
const NOTE_SEQ_KEY = 'family.seq';
const SETTINGS_KEY = 'family.settings';

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
  /** How the log names this phone (default "parent"). */
  label?: string;
  /** Whether the toy is connected to the relay now (the relay's view): a message sent meanwhile is 'queued'. Default: always. */
  toyConnected?: () => boolean;
}

export class ParentApp {
  readonly counters = new Counters();
  readonly messages: ReceivedMessage[] = [];
  readonly sent: SentMessage[] = [];
  status = 'not paired: put the toy in pairing mode, then press "Pair"';
  /** The name this phone gave the toy when it paired ('' before). */
  name = '';
  /** What the toy told the family (sealed member notices), in words, oldest first (at most 10). */
  readonly notices: string[] = [];
  /** The toy's retained status record, once seen. */
  toyStatus: { online: boolean; sinceMs: number; neverSubscribed?: true } | undefined;
  private readonly storage: DirStorage;
  private readonly clock = new NodeClock();
  private readonly codec = new OpusCodecHost();
  private env: PhoneEnvelope | undefined;
  private client: MqttClient | undefined;
  private toyId: string | undefined;
  private rx = new Map<string, { packets: Uint8Array[]; from: string }>();
  private user: string | undefined;
  private relayUp = false;
  /** The last chunk of each message not yet delivered (matched against the relay's acknowledgements). */
  private readonly pendingLast = new Map<string, Uint8Array>();
  private sentCount = 0;
  private readonly label: string;
  private fam: PhoneFamily | undefined;
  /**
   * The toy's status record arrived on this run: the relay keeps what is sent to the toy.
   * In memory only: the simulator's relay (aedes) keeps no sessions across runs either.
   */
  private toySeen = false;
  /** Sealed chunks of messages kept on the phone until the toy is seen (by SentMessage id). */
  private readonly waitingChunks = new Map<string, Uint8Array[]>();
  /** The last settings wait on the phone until the toy is seen. */
  private settingsWaiting = false;

  constructor(private readonly o: ParentAppOptions) {
    this.storage = new DirStorage(o.dir);
    this.label = o.label ?? 'parent';
  }

  /** Paired with the toy (keys saved). */
  get paired(): boolean {
    return this.env !== undefined;
  }

  /** The phone's own MQTT connection to the relay is up. */
  get relayConnected(): boolean {
    return this.relayUp;
  }

  /**
   * This phone's id in the toy's roster (1..16 of [A-Za-z0-9_-]), chosen once and kept with its key:
   * pairing again with the same key must use the same id (the toy refuses a known key under a new id).
   */
  get memberId(): string {
    if (this.member) return this.member;
    const saved = this.storage.read('phone.member');
    if (saved) return (this.member = new TextDecoder().decode(saved));
    const id = `p${randomBytes(6).toString('hex')}`;
    this.storage.write('phone.member', new TextEncoder().encode(id));
    return (this.member = id);
  }
  private member: string | undefined;

  private statusLine(): string {
    return `paired with toy ${this.toyId!.slice(0, 8)}… as ${this.name || 'a parent'}; the phone is ${this.relayUp ? 'online' : 'offline (reconnecting)'}`;
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
    const j = JSON.parse(new TextDecoder().decode(saved)) as { toyId: string; toyPublicKey: string; sharedKey: string; user: string; password: string; name?: string };
    this.toyId = j.toyId;
    this.name = j.name ?? '';
    this.user = j.user;
    this.makeEnvelope(Buffer.from(j.toyPublicKey, 'hex'), Buffer.from(j.sharedKey, 'hex'));
    this.o.registry.phones[j.user] = { passwordHash: mosquittoHash(j.password), toys: [j.toyId] };
    this.connectMqtt(j.user, j.password);
    return true;
  }

  private makeEnvelope(toyPublicKey: Uint8Array, sharedKey: Uint8Array): void {
    const seqBytes = this.storage.read(NOTE_SEQ_KEY);
    this.fam = new PhoneFamily({
      crypto: naclCrypto,
      random: nodeRandom,
      clock: this.clock,
      secretKey: this.secretKey(),
      toyPublicKey: new Uint8Array(toyPublicKey),
      sharedKey: new Uint8Array(sharedKey),
      lastToySeq: seqBytes && seqBytes.length === 4 ? new DataView(seqBytes.buffer, seqBytes.byteOffset, 4).getUint32(0) : 0,
      counters: this.counters,
    });
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

  /**
   * Pairs with the toy (it must be in pairing mode) using the setup code from its label.
   * A failure leaves the earlier state as it was (a paired phone stays paired) and
   * rejects with the phone library's error (sim/sim-words.ts says it in words); the
   * link is dropped, so the next try can start at once.
   */
  async pair(name: string, setupCode: string): Promise<void> {
    const before = this.status;
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
        memberId: this.memberId,
        name,
        network,
      });
    } catch (e) {
      this.status = this.env ? before : `pairing failed: ${pairingErrorInWords(e)}`;
      throw e;
    }
    if (this.user) delete this.o.registry.phones[this.user];
    this.toyId = r.toyId;
    this.name = name;
    this.user = user;
    this.makeEnvelope(r.toyPublicKey, r.sharedKey);
    this.o.registry.phones[user] = { passwordHash: mosquittoHash(password), toys: [r.toyId] };
    const rec = { toyId: r.toyId, toyPublicKey: Buffer.from(r.toyPublicKey).toString('hex'), sharedKey: Buffer.from(r.sharedKey).toString('hex'), user, password, name };
    this.storage.write('phone.toy', new TextEncoder().encode(JSON.stringify(rec)));
    r.sharedKey.fill(0);
    this.o.log(`${this.label}: paired with ${r.info.model} ${r.info.firmware} as "${name}" (${r.members} phone(s) in the family)`);
    this.connectMqtt(user, password);
  }

  /**
   * Removes another phone from the toy's family: a pairing session (the toy must be in
   * pairing mode, paw + heart 3 s) in which this phone, a member, asks the toy to remove
   * `memberId`. Rejects like pair(); this phone stays paired either way.
   */
  async removeMember(memberId: string, setupCode: string): Promise<void> {
    if (!this.env) throw new Error('pair with the toy first');
    const r = await pairWithToy(await this.o.connectBle(), {
      crypto: naclCrypto,
      random: nodeRandom,
      setupCode,
      member: naclCrypto.boxKeyPairFromSecret(this.secretKey()),
      memberId: this.memberId,
      name: this.name || 'parent',
      remove: [memberId],
    });
    r.sharedKey.fill(0);
    this.o.log(`${this.label}: removed a phone from the family (${r.members - 1} left)`);
  }

  /**
   * Forgets the pairing (the toy no longer knows this phone: removed, or factory reset):
   * the relay account is deleted, the saved keys go; the phone's own key and roster id stay.
   */
  async forget(reason: string): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.relayUp = false;
    await client?.endAsync(true);
    if (this.user) delete this.o.registry.phones[this.user];
    this.user = undefined;
    this.env = undefined;
    this.fam = undefined;
    this.toyId = undefined;
    this.toyStatus = undefined;
    this.pendingLast.clear();
    this.waitingChunks.clear();
    this.settingsWaiting = false;
    this.storage.remove('phone.toy');
    this.status = `not paired: ${reason}`;
    this.o.log(`${this.label}: ${reason}`);
  }

  /** The relay says the toy acknowledged `payload` on its inbox topic: marks the message it ends as delivered. */
  acknowledged(payload: Uint8Array): void {
    for (const [id, last] of this.pendingLast) {
      if (last.length !== payload.length || !last.every((b, i) => b === payload[i])) continue;
      this.pendingLast.delete(id);
      const m = this.sent.find((x) => x.id === id);
      if (m) this.advance(m, 'delivered');
    }
  }

  /** Moves a sent message's state forward (never back) and logs it. */
  private advance(m: SentMessage, to: SentMessage['state']): void {
    if (RANK[to] <= RANK[m.state]) return;
    m.state = to;
    const at = new Date(m.at).toISOString().slice(11, 19);
    if (to === 'delivered') this.o.log(`${this.label}: the toy received the message sent at ${at}`);
    if (to === 'heard') this.o.log(`${this.label}: the child heard the message sent at ${at}`);
  }

  /** The toy's retained status record: the first one seen sends what waited on the phone. */
  private onStatus(payload: Uint8Array): void {
    try {
      this.toyStatus = parseToyStatus(payload);
    } catch {
      this.counters.inc('parent.status_malformed');
      return;
    }
    if (this.toySeen || this.toyStatus.neverSubscribed) return; // a new toy's last will: no queue at the relay yet
    this.toySeen = true;
    void this.sendWaiting().catch(() => {
      // what is left keeps waiting: the status record comes again with the next (re)subscription
      this.counters.inc('parent.waiting_send_failed');
      this.toySeen = false;
    });
  }

  /** A sealed note from the toy (fam topic): a receipt moves a sent message on; a member notice is shown. Never throws. */
  private onNote(payload: Uint8Array): void {
    if (!this.fam) return;
    let n;
    try {
      n = this.fam.openToyNote(payload); // counted family.<CODE> when it does not open
    } catch {
      return;
    }
    const seq = new Uint8Array(4);
    new DataView(seq.buffer).setUint32(0, this.fam.lastToySeq);
    this.storage.write(NOTE_SEQ_KEY, seq);
    if (n.kind === 'receipt') {
      const m = this.sent.find((x) => x.key === n.messageId);
      if (m) this.advance(m, n.state);
      else this.counters.inc('parent.receipt_unknown');
      return;
    }
    const words = `${n.name ? `"${n.name}"` : n.id} was ${n.change === 'added' ? 'added to' : 'removed from'} the toy`;
    this.notices.push(words);
    if (this.notices.length > 10) this.notices.shift();
    this.o.log(`${this.label}: the toy says ${words}`);
  }

  /** Publishes what waited on the phone for the toy to be seen: messages, oldest first, then the settings. */
  private async sendWaiting(): Promise<void> {
    const client = this.client;
    if (!client || !this.toyId) return;
    const topic = toyTopics(this.toyId).in;
    for (const m of this.sent.filter((x) => x.state === 'waiting')) {
      const chunks = this.waitingChunks.get(m.id);
      if (!chunks) continue;
      for (const c of chunks) await client.publishAsync(topic, Buffer.from(c), { qos: 1 });
      this.waitingChunks.delete(m.id);
      this.advance(m, this.o.toyConnected?.() === false ? 'queued' : 'sent');
      this.o.log(`${this.label}: the toy is known to the relay now: sent the message kept on the phone`);
    }
    if (this.settingsWaiting && this.fam) {
      const st = this.lastSettings();
      await client.publishAsync(familyTopics(this.toyId).set, Buffer.from(this.fam.sealSettings(st)), { qos: 1 });
      this.settingsWaiting = false;
      this.o.log(`${this.label}: sent the family settings kept on the phone: ${settingsInWords(st)}`);
    }
  }

  /** The settings this phone sent last (DEFAULT_SETTINGS before any). */
  lastSettings(): FamilySettings {
    const b = this.storage.read(SETTINGS_KEY);
    if (!b) return { ...DEFAULT_SETTINGS };
    try {
      const st = { ...DEFAULT_SETTINGS, ...(JSON.parse(new TextDecoder().decode(b)) as Partial<FamilySettings>) };
      checkSettings(st);
      return st;
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
  }

  /** The last settings still wait on the phone (the toy not seen at the relay yet). */
  get settingsPending(): boolean {
    return this.settingsWaiting;
  }

  /**
   * Family settings from the page, exactly as `npm run parent -- settings` sends them: the
   * same parser (phone/settings-input.ts; a field left out keeps the last value), sealed by
   * PhoneFamily for the toy, QoS 1 on the toy's set topic; kept on the phone while the toy
   * has not been seen at the relay. Throws SettingsInputError (in words), Error when not paired.
   */
  async sendSettings(input: SettingsInput): Promise<{ words: string; state: 'sent' | 'waiting' }> {
    if (!this.fam || !this.client || !this.toyId) throw new Error('pair with the toy first');
    const next = applySettingsInput(this.lastSettings(), input);
    const note = this.fam.sealSettings(next);
    const words = settingsInWords(next);
    if (this.toySeen) await this.client.publishAsync(familyTopics(this.toyId).set, Buffer.from(note), { qos: 1 });
    else this.settingsWaiting = true;
    this.storage.write(SETTINGS_KEY, new TextEncoder().encode(JSON.stringify(next)));
    this.o.log(`${this.label}: ${this.toySeen ? 'sent the family settings' : 'kept the family settings on the phone (the toy has not connected to the relay yet)'}: ${words}`);
    return { words, state: this.toySeen ? 'sent' : 'waiting' };
  }

  private connectMqtt(user: string, password: string): void {
    this.client?.end(true);
    const topics = toyTopics(this.toyId!);
    const ftopics = familyTopics(this.toyId!);
    const client = mqtt.connect(this.o.brokerUrl, { clientId: user, username: user, password, clean: false, reconnectPeriod: 1000, protocolVersion: 4 });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.relayUp = true;
      this.status = this.statusLine();
      client.subscribe([topics.out, ftopics.fam, ftopics.status], { qos: 1 });
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.relayUp = false;
      this.status = this.statusLine();
    });
    client.on('error', () => this.counters.inc('parent.mqtt_error'));
    client.on('message', (topic, payload) => {
      if (this.client !== client) return;
      if (topic === ftopics.status) this.onStatus(new Uint8Array(payload));
      else if (topic === ftopics.fam) this.onNote(new Uint8Array(payload));
      else this.onChunk(new Uint8Array(payload));
    });
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
    const at = Date.now();
    const ogg = writeOggOpus(packets, { inputRate: SAMPLE_RATE_HZ, comments: [`TITLE=PawPost message ${key.slice(0, 8)}`, 'ARTIST=the toy', `DATE=${new Date(at).toISOString()}`] });
    this.messages.push({ id: key.slice(0, 16), from: 'the toy', seconds, wav: formatWav(pcm, SAMPLE_RATE_HZ), ogg, at });
    this.o.log(`${this.label}: a message from the toy arrived (${seconds.toFixed(1)} s)`);
  }

  /** "Records" `text` with espeak-ng, encodes it, seals it for the toy, and publishes it chunk by chunk. */
  async send(text: string): Promise<{ chunks: number; seconds: number; state: SentMessage['state'] }> {
    if (!this.env || !this.client || !this.toyId) throw new Error('pair with the toy first');
    const pcm = speakOrFixture(text).samples;
    const out = new Uint8Array(1275);
    const frame = new Int16Array(FRAME_SAMPLES);
    const packets: Uint8Array[] = [];
    this.codec.reset();
    const frames = Math.min(Math.ceil(pcm.length / FRAME_SAMPLES), 3000);
    for (let i = 0; i < frames; i++) {
      frame.fill(0);
      frame.set(pcm.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
      const n = this.codec.encode(frame, out);
      packets.push(out.slice(0, n));
    }
    return this.sendPackets(packets, 'spoken');
  }

  /**
   * Sends the audio file a parent chose (WAV at any rate, or Ogg Opus: sim/audio-file-packets.ts,
   * as `npm run parent -- send` does). Throws AudioImportError (in words) for a file it cannot use.
   */
  async sendFile(bytes: Uint8Array): Promise<{ chunks: number; seconds: number; state: SentMessage['state']; note: string }> {
    if (!this.env || !this.client || !this.toyId) throw new Error('pair with the toy first');
    const { packets, note } = packetsFromAudioBytes(bytes);
    return { ...(await this.sendPackets(packets, note)), note };
  }

  /** Seals Opus packets as one message for the toy and publishes it chunk by chunk (or keeps it while the toy was never seen). */
  private async sendPackets(packets: readonly Uint8Array[], what: string): Promise<{ chunks: number; seconds: number; state: SentMessage['state'] }> {
    if (!this.env || !this.client || !this.toyId) throw new Error('pair with the toy first');
    const msg = this.env.begin();
    const chunks: Uint8Array[] = [];
    for (const p of packets) {
      const c = msg.addPacket(p, p.length);
      if (c) chunks.push(c);
    }
    chunks.push(msg.finish());
    const frames = packets.length;
    const topic = toyTopics(this.toyId).in;
    const seconds = (frames * FRAME_SAMPLES) / SAMPLE_RATE_HZ;
    const state: SentMessage['state'] = !this.toySeen ? 'waiting' : this.o.toyConnected?.() === false ? 'queued' : 'sent';
    const entry: SentMessage = { id: `s${++this.sentCount}`, key: peekChunk(chunks[0]!)!.messageKey, seconds, at: Date.now(), state };
    // registered before publishing: the toy may acknowledge the last chunk before publishAsync resolves
    this.pendingLast.set(entry.id, chunks[chunks.length - 1]!.slice());
    this.sent.push(entry);
    if (this.sent.length > 20) {
      const old = this.sent.shift()!.id;
      this.pendingLast.delete(old);
      this.waitingChunks.delete(old);
    }
    if (state === 'waiting') {
      // the relay would drop it: the toy never subscribed there (src/mqtt-session.ts says "online" after its SUBACK)
      this.waitingChunks.set(entry.id, chunks);
      this.o.log(`${this.label}: kept a message on the phone (${seconds.toFixed(1)} s): the toy has not connected to the relay yet`);
      return { chunks: chunks.length, seconds, state };
    }
    try {
      for (const c of chunks) await this.client.publishAsync(topic, Buffer.from(c), { qos: 1 });
    } catch (e) {
      this.sent.splice(this.sent.indexOf(entry), 1);
      this.pendingLast.delete(entry.id);
      throw e;
    }
    const how = entry.state === 'queued' ? 'the relay keeps it until the toy is back online' : entry.state === 'delivered' ? 'the toy has it' : 'the relay passes it to the toy';
    this.o.log(`${this.label}: sent a message (${seconds.toFixed(1)} s, ${what}, ${chunks.length} sealed chunks): ${how}`);
    return { chunks: chunks.length, seconds, state: entry.state };
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
    this.codec.close();
  }
}
