/**
 * PawPost assembled from ports: the one place that builds the toy's parts and
 * connects them. src/main.ts calls it with the device adapters (hal/moddable-*);
 * the simulator runs the same main.ts with Node implementations of the Moddable
 * modules; tests call it with fakes.
 *
 * Boot order:
 * 1. finish a factory reset a power cut interrupted;
 * 2. load the factory identity from NVS: missing or malformed → the error LED
 *    pattern, one log line, and nothing else runs (no radio, no network);
 * 3. roster, envelope, outbox, inbox (stored messages are re-admitted), the
 *    audio pipelines (allocated once, here), pairing, the toy's state machine;
 * 4. the network, when settings exist (from pairing): join Wi-Fi with the
 *    phone's SSID and passphrase (when the platform has a NetworkPort), then the
 *    MQTT session, once the network is up — restarted whenever pairing changes
 *    the settings. The broker is ALWAYS the one in the factory data
 *    (identity.mqttHost/mqttPort): a host or port sent by a phone is ignored
 *    and counted (`app.broker_override_refused`), so no phone can point the
 *    toy's credentials at another server.
 */
import type {
  BlePeripheralPort,
  ButtonPort,
  ClockPort,
  CodecPort,
  CryptoPort,
  LedPort,
  LogPort,
  MicPort,
  NetworkPort,
  RandomPort,
  SocketPort,
  SpeakerPort,
  StoragePort,
} from '../hal/ports.js';
import { PlaybackPipeline } from '../audio/playback-pipeline.js';
import { RecordPipeline } from '../audio/record-pipeline.js';
import { Counters } from './counters.js';
import { EnrollmentNotices } from './enrollment-notices.js';
import { ToyEnvelope, chunkKeyCodes } from './envelope.js';
import { factoryReset, resumeFactoryReset } from './factory-reset.js';
import { MIN_PLAUSIBLE_WALL_MS } from './envelope-format.js';
import { encodeStatus, familyTopics } from './family-note.js';
import { FamilyService } from './family-service.js';
import { HeartLed } from './heart-led.js';
import { tryLoadIdentity, type Identity } from './identity.js';
import { Inbox } from './inbox.js';
import { MessagePlayer } from './message-player.js';
import { MqttSession } from './mqtt-session.js';
import { loadNetworkSettings } from './network-settings.js';
import { Outbox } from './outbox.js';
import type { DeviceInfo } from './pairing-protocol.js';
import { PairingService } from './pairing-service.js';
import { Roster } from './roster.js';
import { Toy } from './toy.js';
import { toyTopics } from './topics.js';
import { ToyRecorder } from './toy-recorder.js';
import { UpdateGate, type UpdatePort } from './update-gate.js';

/** Storage key written once, at the first SUBACK the toy ever gets (see the status callbacks below). */
const SUBSCRIBED_KEY = 'mq.subscribed';
const SUBSCRIBED_MARK = Uint8Array.of(1);

export { toyTopics };

export interface PawPostPorts {
  clock: ClockPort;
  random: RandomPort;
  crypto: CryptoPort;
  log: LogPort;
  paw: ButtonPort;
  heart: ButtonPort;
  led: LedPort;
  mic: MicPort;
  speaker: SpeakerPort;
  codec: CodecPort;
  /** Read-only factory data (NVS namespace "pawpost"). */
  nvs: StoragePort;
  /** Read/write data: roster, settings, messages. */
  data: StoragePort;
  ble: BlePeripheralPort;
  /**
   * A new socket for each MQTT session. `tls` names what the TLS layer must check:
   * the broker's name (identity.mqttHost) and, when the factory fixed one, the CA
   * its certificate must chain to (identity.mqttCa, DER).
   */
  socket: (tls: { serverName: string; ca?: Uint8Array }) => SocketPort;
  /** Wi-Fi (device, lin). Absent in the Node simulator and the tests, whose sockets need no link. */
  network?: NetworkPort;
  /** Signed firmware updates (issue 14): loaded lazily by src/update-gate.ts. Absent: no updates. */
  update?: UpdatePort;
}

export interface PawPostOptions {
  deviceInfo: DeviceInfo;
  /** Sealed packets per chunk (25 = 500 ms). */
  packetsPerChunk?: number;
  /** MQTT keepalive, seconds. */
  keepaliveSec?: number;
  /** Called when the set of waiting messages or the MQTT state changes (simulator, tests). */
  onChange?: () => void;
  /**
   * Called after a factory reset wiped the data store. The device restarts here
   * (everything in RAM was built from the wiped data); the simulator rebuilds the toy.
   */
  onFactoryReset?: () => void;
}

/** The running toy. */
export interface PawPost {
  readonly counters: Counters;
  readonly led: HeartLed;
  readonly toy: Toy;
  /** Undefined when the factory data did not load. */
  readonly identity: Identity | undefined;
  readonly roster: Roster | undefined;
  readonly player: MessagePlayer | undefined;
  readonly recorder: ToyRecorder | undefined;
  readonly pairing: PairingService | undefined;
  readonly outbox: Outbox | undefined;
  readonly inbox: Inbox | undefined;
  /** Bytes of audio buffers both pipelines hold (fixed at boot, independent of message length). */
  readonly audioRamBytes: number;
  /** The MQTT session, when network settings exist. */
  session(): MqttSession | undefined;
  /** The firmware update gate (its `service` once the update modules are loaded), when the update port was given. */
  readonly update: UpdateGate | undefined;
  /** Receipts, member notices, family settings (src/family-service.ts); undefined when the factory data did not load. */
  readonly family?: FamilyService;
  close(): void;
}

const noopControls = {
  recorder: { start: () => 'BUSY' as const, stop: () => undefined },
  player: { waiting: () => 0, playNext: () => 'EMPTY' as const, stop: () => undefined },
  pairing: { familySize: () => 0, enter: () => 'LOCKED' as const, cancel: () => undefined },
};

export function startPawPost(p: PawPostPorts, opts: PawPostOptions): PawPost {
  const counters = new Counters();
  const led = new HeartLed(p.led, p.clock);
  const changed = () => {
    try {
      opts.onChange?.();
    } catch {
      counters.inc('app.onchange_threw');
    }
  };

  try {
    if (resumeFactoryReset(p.data)) counters.inc('app.reset_resumed');
  } catch {
    counters.inc('app.reset_resume_failed');
  }

  const loaded = tryLoadIdentity(p.nvs, { counters, log: p.log });
  if (!loaded.ok) {
    // Refuse to run: no radio, no network, only the error pattern (docs/PROVISIONING.md).
    const toy = new Toy({ paw: p.paw, heart: p.heart, led, clock: p.clock, ...noopControls, factoryReset: () => undefined, log: p.log, counters });
    toy.fail(`identity ${loaded.error.code}`);
    // a new image that cannot load the identity fails its health check: back to the previous one
    const update = p.update ? new UpdateGate({ port: p.update, crypto: p.crypto, storage: p.data, clock: p.clock, toyState: () => 'error', counters, log: p.log }) : undefined;
    update?.start(false);
    return {
      counters, led, toy, identity: undefined, roster: undefined, player: undefined, recorder: undefined,
      pairing: undefined, outbox: undefined, inbox: undefined, audioRamBytes: 0, update,
      session: () => undefined,
      close: () => {
        toy.close();
        led.close();
      },
    };
  }
  const identity = loaded.identity;
  const topics = toyTopics(identity.toyId);
  const roster = new Roster(p.data, counters);
  const envelope = new ToyEnvelope({
    crypto: p.crypto,
    random: p.random,
    storage: p.data,
    clock: p.clock,
    roster,
    publicKey: identity.publicKey,
    secretKey: identity.secretKey,
    packetsPerChunk: opts.packetsPerChunk ?? 25,
    counters,
  });
  // Write-behind while online: a chunk reaches the flash only if its PUBACK is late (src/outbox.ts, durability point).
  const outbox = new Outbox({ storage: p.data, counters, maxRecords: 400, clock: p.clock, online: () => session?.state === 'online' });
  const inbox = new Inbox({ storage: p.data, counters, dedupeKeyCodes: chunkKeyCodes, maxRecords: 400, lendMessages: true });

  // Audio: both pipelines allocated once; the mic and the speaker share the I2S pins, so only one runs at a time.
  // Sized for issue 13: the mic adapter's ring (160 ms) is the capture buffer, the speaker adapter has its queue.
  // Record: no ring of its own; each frame is encoded from the mic adapter's slot into the sealer's plaintext (src/toy-recorder.ts).
  const recordPipeline = new RecordPipeline({ clock: p.clock, mic: p.mic, codec: p.codec, counters });
  let player: MessagePlayer | undefined;
  const playbackPipeline = new PlaybackPipeline({
    clock: p.clock,
    speaker: p.speaker,
    codec: p.codec,
    // no PCM ring and no packet ring (issue 13): chunks' plaintexts are decoded straight into the speaker's slots
    counters,
    onFinished: () => {
      p.log.log('info', 'play.finished', { underruns: counters.get('audio.play.underrun'), badPackets: counters.get('audio.play.badPacket') });
      player?.pipelineFinished();
    },
  });

  let session: MqttSession | undefined;
  let update: UpdateGate | undefined;
  const recorder = new ToyRecorder({
    clock: p.clock,
    pipeline: recordPipeline,
    begin: () => envelope.begin(),
    send: (chunk) => outbox.add(topics.out, chunk) === 'OK' ? 'OK' : 'FULL',
    counters,
    log: p.log,
    beforeStart: () => player?.releaseSpeaker(),
    onMessageQueued: changed,
  });

  let toy: Toy | undefined;
  player = new MessagePlayer({
    clock: p.clock,
    crypto: p.crypto,
    inbox,
    keys: envelope.keys,
    replay: envelope.replay,
    playbackOpener: envelope.playback,
    pipeline: playbackPipeline,
    storage: p.data,
    counters,
    log: p.log,
    onChange: () => {
      toy?.messagesChanged();
      changed();
    },
    onReceipt: (sender, key, state) => family.receipt(sender, key, state),
  });

  // Family features (issue 15): receipts, member notices, settings the toy enforces (quiet hours, volume limit).
  const ftopics = familyTopics(identity.toyId);
  const family = new FamilyService({
    crypto: p.crypto,
    random: p.random,
    storage: p.data,
    clock: p.clock,
    roster,
    sharedKeyFor: (pk) => envelope.keys.sharedKeyFor(pk),
    toyPublicKey: identity.publicKey,
    send: (n) => outbox.add(ftopics.fam, n),
    speaker: p.speaker,
    onQuietChanged: () => {
      toy?.messagesChanged();
      changed();
    },
    counters,
    log: p.log,
  });
  /** Wall clock when the current MQTT session connected (the status record's "since"); 0 = unset. */
  let connectedAt = 0;
  /** The broker has granted this toy's subscriptions at least once (stored: `mq.subscribed`, wiped by a factory reset). */
  let everSubscribed = false;
  try {
    everSubscribed = p.data.read(SUBSCRIBED_KEY) !== undefined;
  } catch {
    counters.inc('app.subscribed_mark_failed'); // read as "never": the will says "new" and phones keep what they send
  }

  /** The MQTT session to the factory's broker (the network, where there is one, is up). */
  const connectBroker = () => {
    session?.close();
    session = undefined;
    try {
      session = new MqttSession({
        socket: p.socket({ serverName: identity.mqttHost, ca: identity.mqttCa }),
        clock: p.clock,
        random: p.random,
        host: identity.mqttHost,
        port: identity.mqttPort,
        clientId: identity.mqttUser,
        username: identity.mqttUser,
        password: identity.mqttPassword,
        subscriptions: [topics.in],
        outbox,
        inbox,
        keepaliveSec: opts.keepaliveSec,
        counters,
        log: p.log,
        onError: (e) => counters.inc(`app.mqtt_${e.code}`),
        onState: (st) => {
          p.log.log('info', 'mqtt.state', { state: st });
          if (st !== 'online') outbox.persistAll(); // offline: what waits in RAM for a PUBACK goes to flash now
          update?.onSessionState(st, session);
          changed();
        },
        onDirectMessage: (topic, payload) => {
          if (topic === ftopics.set) family.onSettingsNote(payload);
          else update?.onDirectMessage(topic, payload);
        },
        status: {
          topic: ftopics.status,
          // the will of each CONNECT: "offline", or "offline and new" (state 2) until the broker has
          // once granted this toy's subscriptions, so that phones keep what they send until then
          offline: () => {
            const w = p.clock.wallNow();
            connectedAt = w >= MIN_PLAUSIBLE_WALL_MS ? w : 0;
            return encodeStatus(false, connectedAt, !everSubscribed);
          },
          // called after the SUBACK: the broker keeps a queue for the toy from now on (one write, ever)
          online: () => {
            if (!everSubscribed) {
              try {
                p.data.write(SUBSCRIBED_KEY, SUBSCRIBED_MARK);
                everSubscribed = true;
              } catch {
                counters.inc('app.subscribed_mark_failed'); // the next will still says "new": phones keep waiting
              }
            }
            return encodeStatus(true, connectedAt);
          },
        },
      });
      session.subscribe(ftopics.set);
      session.start();
    } catch (e) {
      counters.inc('app.session_failed');
      p.log.log('error', 'app.session_failed', { error: e instanceof Error ? e.name : 'unknown' });
    }
  };

  /** (Re)starts the link from the stored network settings: Wi-Fi first, then the broker. */
  const startSession = () => {
    session?.close();
    session = undefined;
    const net = loadNetworkSettings(p.data, () => counters.inc('app.network_settings_corrupt'));
    if (!net) {
      p.network?.leave();
      return;
    }
    if (net.brokerHost !== identity.mqttHost || net.brokerPort !== identity.mqttPort) {
      counters.inc('app.broker_override_refused');
      p.log.log('warn', 'app.broker_override_refused');
    }
    if (!p.network) {
      connectBroker();
      return;
    }
    p.network.join(net.ssid, net.passphrase);
    if (p.network.isUp()) connectBroker();
  };
  p.network?.onState((up) => {
    try {
      if (up && !session) connectBroker();
      changed();
    } catch {
      counters.inc('app.network_state_threw');
    }
  });

  // Phone enrollment at the relay (src/enrollment-notices.ts): only when the factory wrote the relay's key.
  const notices = identity.relayPublicKey
    ? new EnrollmentNotices({
        crypto: p.crypto,
        random: p.random,
        storage: p.data,
        toyId: identity.toyId,
        toySecretKey: identity.secretKey,
        relayPublicKey: identity.relayPublicKey,
        send: (n) => outbox.add(topics.ctl, n),
        counters,
        log: p.log,
      })
    : undefined;
  /** Public keys of the members, to revoke one after the roster has dropped it. */
  const memberKeys = new Map<string, Uint8Array>(roster.list().map((m) => [m.id, m.publicKey.slice()]));
  const enrollment = (kind: 'member-added' | 'member-removed', id: string) => {
    if (kind === 'member-added') {
      const m = roster.get(id);
      if (!m) return;
      memberKeys.set(id, m.publicKey.slice());
      notices?.notify('grant', m.publicKey);
    } else {
      const pk = memberKeys.get(id);
      memberKeys.delete(id);
      if (pk) notices?.notify('revoke', pk);
    }
  };

  const pairing = new PairingService({
    ble: p.ble,
    clock: p.clock,
    random: p.random,
    crypto: p.crypto,
    storage: p.data,
    roster,
    identity,
    deviceInfo: opts.deviceInfo,
    counters,
    log: p.log,
    onEvent: (e) => {
      if (e.kind === 'member-added' || e.kind === 'member-removed') {
        enrollment(e.kind, e.id);
        family.memberChanged(e.kind === 'member-added' ? 'added' : 'removed', e.id);
      }
      if (e.kind === 'ended') toy?.pairingEnded(e.result);
      else if (e.kind === 'attempt-failed') toy?.pairingAttemptFailed();
      else if (e.kind === 'network-changed') startSession();
      changed();
    },
    onError: () => counters.inc('app.pairing_error'),
  });

  const doFactoryReset = () => {
    session?.close();
    session = undefined;
    recorder.close();
    player?.close();
    outbox.discardAll();
    family.forgetKeys(); // the family's note keys are secrets of the old family
    envelope.keys.forget(); // and so are the envelope's pair keys
    factoryReset(p.data);
    roster.reload();
    p.log.log('warn', 'app.factory_reset_done');
    changed();
    opts.onFactoryReset?.();
  };

  toy = new Toy({
    paw: p.paw,
    heart: p.heart,
    led,
    clock: p.clock,
    recorder,
    player: family.gate(player),
    pairing,
    factoryReset: doFactoryReset,
    log: p.log,
    counters,
  });
  player.attach();
  family.start();
  toy.messagesChanged();
  if (p.update) {
    update = new UpdateGate({ port: p.update, crypto: p.crypto, storage: p.data, clock: p.clock, toyState: () => toy?.state ?? 'error', counters, log: p.log });
    update.start(true); // identity loaded and storage opened to get here; the broker is the rest of the health check
  }
  const updateTick = update ? p.clock.every(2000, () => update?.toyChanged()) : undefined;
  startSession();
  p.log.log('info', 'app.started', { family: roster.size, waiting: player.waiting(), outbox: outbox.count() });

  return {
    counters, led, toy, identity, roster, player, recorder, pairing, outbox, inbox,
    // the record side's buffer is the sealer's plaintext (packets are encoded into it), made once
    audioRamBytes: recordPipeline.ramBytes + envelope.sealer.ramBytes + playbackPipeline.ramBytes,
    session: () => session,
    update,
    family,
    close: () => {
      outbox.close(); // first: RAM-only chunks are dropped as at a power cut, not flushed by the session's close
      family.close();
      updateTick?.cancel();
      update?.close();
      session?.close();
      p.network?.close();
      toy?.close();
      recorder.close();
      player?.close();
      recordPipeline.close();
      playbackPipeline.close();
      pairing.close();
      led.close();
    },
  };
}
