/**
 * The host simulator: the firmware's own src/main.ts running on Node with the
 * Node implementations of the Moddable modules (sim/moddable/*, loaded through
 * sim/moddable-register.ts), an embedded MQTT broker (aedes), the parent's phone
 * (sim/parent-app.ts) and a web page showing the toy (sim/server.ts).
 *
 * The toy is provisioned like a real one, once per data directory: the factory
 * command's own code makes a maker key and one toy, and the toy's binary NVS image
 * (encrypted, with its nvs_keys partition) is mounted as ESP-IDF would and
 * "flashed" into the simulated NVS, so the firmware reads its identity exactly
 * as on the device.
 *
 * Requires that sim/moddable-register.ts ran first (npm start does it with --import).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makerKeygen, readMakerSecretKey } from '../factory/maker-key.js';
import { mountNvsPartition, preferenceValue } from '../factory/nvs-mount.js';
import { DEFAULT_NVS_SIZE, provisionBatch } from '../factory/provision-batch.js';
import { SAMPLE_RATE_HZ } from '../hal/ports.js';
import type { PawPost, PawPostOptions } from '../src/app.js';
import type { PlatformUpdate } from '../src/update-gate.js';
import type { DeviceInfo } from '../src/pairing-protocol.js';
import { setSimUpdateRoute, simUpdate } from './update-publisher.js';
import { formatSetupCode } from '../src/setup-code.js';
import { PairingError, toyKeyHash } from '../src/pairing-protocol.js';
import { toyTopics } from '../src/topics.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { startEmbeddedBroker, type BrokerRegistry, type EmbeddedBroker } from './embedded-broker.js';
import { air, SimAirCentral } from './moddable/ble-air.js';
import { board } from './moddable/board.js';
import { deviceConfig } from './moddable/manifest-config.js';
import Preference from './moddable/preference.js';
import { ParentApp } from './parent-app.js';
import { startRadioEndpoint, type RadioEndpoint } from './radio-endpoint.js';
import { startSimServer, type SimModel, type SimPhoneSnapshot, type SimServer, type SimSnapshot } from './server.js';
import { COUNTER_NOTICES, pairingErrorInWords, toyLogInWords } from './sim-words.js';
import { speakOrFixture } from './speech.js';
import { settingsInWords } from '../phone/settings-input.js';
import { formatWav } from './wav-file.js';

export interface SimulatorOptions {
  /** Where the toy's flash, the factory output and the phones' keys live. */
  dataDir: string;
  /** Web page port on 127.0.0.1 (0: any free port). */
  webPort: number;
  /** Embedded broker port on 127.0.0.1 (0: any free port). */
  brokerPort: number;
  /** Print the toy's trace lines. */
  trace?: boolean;
  /** Radio and relay endpoint for phones outside the simulator (sim/radio-endpoint.ts), 127.0.0.1 (0: any free port; default 0). */
  radioPort?: number;
}

/** The simulated family's phones: Mum's (data dir `phone/`, the first one) and Dad's (`phone-dad/`). */
export type PhoneId = 'mum' | 'dad';
export const PHONE_IDS: readonly PhoneId[] = ['mum', 'dad'];

export interface Simulator {
  readonly webPort: number;
  readonly brokerPort: number;
  /** The radio endpoint's port (sim/radio-endpoint.ts: the parent command line pairs through it). */
  readonly radioPort: number;
  readonly setupCode: string;
  /** Mum's phone (the same as phones.mum). */
  readonly parent: ParentApp;
  readonly phones: Record<PhoneId, ParentApp>;
  toy(): PawPost;
  /** The version the simulated toy runs (its booted slot's image; issue 14). */
  firmwareVersion(): string;
  /** What the toy's device-information characteristic reports. */
  deviceInfo(): DeviceInfo;
  model: SimModel;
  close(): Promise<void>;
}

/** src/main.ts MainHooks (main.ts is type-checked by tsconfig.firmware.json only). */
type MainFn = (hooks: Pick<PawPostOptions, 'onChange' | 'onFactoryReset'> & { update?: PlatformUpdate; onDeviceInfo?: (info: DeviceInfo) => void }) => PawPost;

interface FactoryToy {
  toyId: string;
  setupCode: string;
  passwordLine: string;
}

/** Provisions one toy with the factory's code (once per data directory) and flashes its NVS image. */
async function provisionToy(dir: string, brokerPort: number): Promise<FactoryToy> {
  const factoryDir = path.join(dir, 'factory');
  const batchDir = path.join(factoryDir, 'batch');
  if (!fs.existsSync(batchDir)) {
    fs.mkdirSync(factoryDir, { recursive: true });
    makerKeygen(factoryDir);
    const maker = readMakerSecretKey(path.join(factoryDir, 'maker.key'));
    await provisionBatch({ outDir: batchDir, count: 1, maker, mqttHost: '127.0.0.1', mqttPort: brokerPort });
  }
  const toyDir = fs
    .readdirSync(batchDir, { withFileTypes: true })
    .find((e) => e.isDirectory() && /^[0-9a-f]{32}$/.test(e.name));
  if (!toyDir) throw new Error(`no provisioned toy in ${batchDir}`);
  const image = new Uint8Array(fs.readFileSync(path.join(batchDir, toyDir.name, 'nvs.bin')));
  // Encrypted batches: ESP-IDF decrypts with the nvs_keys partition below `preference` (factory/nvs-mount.ts).
  const keysFile = path.join(batchDir, toyDir.name, 'nvs_keys.bin');
  const keysPartition = fs.existsSync(keysFile) ? new Uint8Array(fs.readFileSync(keysFile)) : undefined;
  let setupSecret: Uint8Array | undefined;
  let toyPublicKey: Uint8Array | undefined;
  for (const item of mountNvsPartition(image, { keysPartition, partitionBytes: DEFAULT_NVS_SIZE }).items) {
    Preference.set(item.namespace, item.key, preferenceValue(item)); // Moddable reads a u8 as a boolean
    if (item.key === 'setup_sec') setupSecret = (item.value as Uint8Array).slice();
    if (item.key === 'box_pk') toyPublicKey = (item.value as Uint8Array).slice();
  }
  if (!setupSecret || !toyPublicKey) throw new Error('the NVS image has no setup secret or public key');
  const passwordLine = fs.readFileSync(path.join(batchDir, 'mosquitto.passwd'), 'utf8').split('\n').find((l) => l.startsWith(toyDir.name + ':'));
  if (!passwordLine) throw new Error('the batch has no broker password line for the toy');
  return { toyId: toyDir.name, setupCode: formatSetupCode({ toyId: toyDir.name, setupSecret, toyKeyHash: toyKeyHash(naclCrypto, toyPublicKey) }), passwordLine };
}

/** How long a notice (a silent case the toy itself does not show) stays on the page, ms. */
const NOTICE_MS = 12000;

/**
 * Creates `dir` (and missing parents, mode 0700) one level at a time: a failure is the
 * file system's own error (ENOTDIR, EACCES, EROFS, ENOENT, ...) for the level that failed.
 * (Not `recursive: true`: Node's recursive mkdir can spin forever under /proc.)
 */
function makeDataDir(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.unshift(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) fs.mkdirSync(m, { mode: 0o700 });
  if (!fs.statSync(path.resolve(dir)).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR', path: dir });
  fs.accessSync(path.resolve(dir), fs.constants.W_OK);
}

/** The toy's family settings in words for the page (quiet hours in the family's local time). */
function settingsSnapshot(toy: PawPost): { words: string; volumePercent: number; quietNow: boolean } {
  const f = toy.family;
  if (!f) return { words: 'no family yet', volumePercent: 100, quietNow: false };
  const st = f.settings;
  const hm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const quietNow = f.isQuiet();
  const quiet = st.quietEnabled ? `quiet hours ${hm(st.quietStartMin)}-${hm(st.quietEndMin)}${quietNow ? ' (now: no glow, nothing plays)' : ''}` : 'no quiet hours';
  return { words: `${quiet} · volume limit ${st.volumePercent} %`, volumePercent: st.volumePercent, quietNow };
}

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  makeDataDir(o.dataDir);
  // "What happened" in words (sim/sim-words.ts), and the toy's raw trace for developers
  const logLines: string[] = [];
  const traceLines: string[] = [];
  const stamp = () => new Date().toISOString().slice(11, 19);
  const log = (line: string) => {
    logLines.push(`${stamp()} ${line}`);
    if (logLines.length > 60) logLines.shift();
  };
  const notices: { text: string; at: number }[] = [];
  const tell = (text: string) => {
    notices.push({ text, at: Date.now() });
    if (notices.length > 3) notices.shift();
    log(`toy: ${text}`);
  };
  board.setFsRoot(path.join(o.dataDir, 'toy-flash'));
  board.traceToStdout = o.trace ?? false;
  board.on('trace', (l: string) => {
    traceLines.push(`${stamp()} ${l.trimEnd()}`);
    if (traceLines.length > 80) traceLines.shift();
    const words = toyLogInWords(l);
    if (words) log(words);
  });
  board.autoRender(true);

  const registry: BrokerRegistry = { toys: {}, phones: {} };
  // The broker must know its port before the toy is provisioned with it: bind first.
  const broker: EmbeddedBroker = await startEmbeddedBroker({ port: o.brokerPort, registry });
  let toyInfo: FactoryToy;
  try {
    toyInfo = await provisionToy(o.dataDir, broker.port);
  } catch (e) {
    await broker.close();
    throw e;
  }
  registry.toys[toyInfo.toyId] = { passwordHash: toyInfo.passwordLine.slice(toyInfo.toyId.length + 1) };
  log(`factory: toy ${toyInfo.toyId.slice(0, 8)}… provisioned (its label code is shown under the toy)`);

  const mainUrl = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), '../hal/main-esp32.ts')).href;
  const main = ((await import(mainUrl)) as { default: MainFn }).default;
  let toy!: PawPost;
  let rebootTimer: ReturnType<typeof setTimeout> | undefined;
  let closing = false;
  const phones = {} as Record<PhoneId, ParentApp>;
  // issue 14: the toy's update slots and a release key for this session only; the page's "publish signed update"
  const update = simUpdate({
    slotDir: path.join(o.dataDir, 'toy-ota'), builtInVersion: (deviceConfig as { firmwareVersion?: string }).firmwareVersion ?? '0.1.0',
    brokerUrl: `mqtt://127.0.0.1:${broker.port}`, registry, log,
    restart: () => setTimeout(() => {
      log('toy: restarting into the new firmware');
      toy.close();
      const radio = air.currentPeripheral(); // a restart powers the radio down: the BLE server goes with it
      if (radio) air.unregister(radio);
      boot();
    }, 50),
  });
  setSimUpdateRoute(() => update.publishNext());
  let deviceInfo: DeviceInfo | undefined;
  const boot = () => {
    toy = main({
      update: update.boot(),
      onDeviceInfo: (info) => void (deviceInfo = info),
      onChange: () => undefined,
      onFactoryReset: () => {
        log('toy: factory reset: restarting');
        // The toy forgot its family: the phones' pairings are void (a real app learns it when the toy stops answering).
        for (const id of PHONE_IDS) if (phones[id].paired) void phones[id].forget('the toy was factory reset: pair again');
        rebootTimer = setTimeout(() => {
          rebootTimer = undefined;
          if (closing) return;
          toy.close(); // closes everything main() opened (BLE, buttons, LED, audio, timers) ...
          boot(); // ... so the simulated reboot can open it again
        }, 50);
      },
    });
  };
  boot();

  const toyTopic = toyTopics(toyInfo.toyId).in;
  // The relay's view of delivery: the toy acknowledged a chunk on its inbox topic.
  broker.aedes.on('ack', (packet, client) => {
    if (client?.id !== toyInfo.toyId || !packet || !('topic' in packet) || packet.topic !== toyTopic || !packet.payload) return;
    const payload = new Uint8Array(packet.payload as Uint8Array);
    for (const id of PHONE_IDS) phones[id].acknowledged(payload);
  });
  const toyConnected = () => broker.isConnected(toyInfo.toyId);
  const makePhone = (dir: string, label: string) =>
    new ParentApp({
      dir: path.join(o.dataDir, dir),
      label,
      toyConnected,
      connectBle: async () => {
        const c = new SimAirCentral(air, { notifyTimeoutMs: 30000 });
        const r = await c.connect();
        if (r === 'NOT_FOUND' || r === 'NOT_ADVERTISING') {
          // What the simulator knows and a phone would not: the toy is silent because its pairing is locked.
          const lockedMs = toy.pairing?.lockout.remainingMs() ?? 0;
          if (lockedMs > 0) throw Object.assign(new PairingError('LOCKED', 'pairing is locked'), { lockedMinutes: Math.ceil(lockedMs / 60000) });
          throw new PairingError('NOT_PAIRING', 'the toy is not advertising');
        }
        if (r !== 'OK') throw new PairingError(r === 'BUSY' ? 'BUSY' : 'CLOSED', `BLE: ${r}`);
        return c;
      },
      brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
      brokerHost: '127.0.0.1',
      brokerPort: broker.port,
      registry,
      log,
    });
  phones.mum = makePhone('phone', "Mum's phone");
  phones.dad = makePhone('phone-dad', "Dad's phone");
  for (const id of PHONE_IDS) if (phones[id].resume()) log(`${id === 'mum' ? "Mum's" : "Dad's"} phone: resumed its earlier pairing`);
  const parent = phones.mum;

  let speechTimer: ReturnType<typeof setTimeout> | undefined;
  let spoken: { text: string; samples: Int16Array } | undefined;
  /** What the child says, synthesized once per text. */
  const speech = (text: string): Int16Array => {
    if (spoken?.text === text) return spoken.samples;
    const { samples, synthesized } = speakOrFixture(text);
    if (!synthesized) log('sim: espeak-ng or sox missing: the mic hears the recorded fixture instead');
    spoken = { text, samples };
    return samples;
  };
  const cfg = deviceConfig as { board: { pawPin: number; heartPin: number; ledPin: number; ledMaxLevel?: number } };
  let micText = '';
  let wifiOn = true;
  const played: { id: string; seconds: number; wav: Uint8Array }[] = [];
  let lastState = '';
  let capturing = false;
  let playedCount = 0;
  const down: { paw: number | undefined; heart: number | undefined } = { paw: undefined, heart: undefined };
  let lastCounters: Record<string, number> = {};
  let lastToy: PawPost | undefined;
  const finishCapture = () => {
    capturing = false;
    const pcm = board.takeSpeaker();
    if (pcm.length > 0) played.push({ id: `p${++playedCount}`, seconds: pcm.length / SAMPLE_RATE_HZ, wav: formatWav(pcm, SAMPLE_RATE_HZ) });
    if (played.length > 10) played.shift();
  };
  // Keep what the speaker played for each message, for the page. The toy leaves 'playing'
  // when the last frame is handed to the speaker, whose queue then plays out for
  // SPEAKER_TAIL_MS before it closes: a capture ends when the speaker has closed.
  // The same tick turns counter increases of silent cases into notices (COUNTER_NOTICES).
  const poll = setInterval(() => {
    const s = toy.toy.state;
    if (s === 'playing' && lastState !== 'playing') {
      if (capturing) finishCapture(); // the next message started during the last one's tail
      capturing = true;
    } else if (capturing && s !== 'playing' && board.speakerOpen === 0) finishCapture();
    else if (!capturing && board.speakerOpen === 0) board.takeSpeaker(); // nothing stray opens the next capture
    lastState = s;
    const now = toy.counters.snapshot();
    if (lastToy === toy) for (const [k, text] of Object.entries(COUNTER_NOTICES)) if ((now[k] ?? 0) > (lastCounters[k] ?? 0)) tell(text);
    lastCounters = now;
    lastToy = toy;
  }, 50);

  /** The gesture in progress, from the times the page pressed the buttons (the toy's own timers run from the same presses). */
  const hold = (): SimSnapshot['toy']['hold'] => {
    const now = Date.now();
    const st = toy.toy.state;
    if (st === 'recording' && down.paw !== undefined) return { kind: 'recording', ms: now - down.paw };
    if (st !== 'holding') return undefined;
    if (down.paw !== undefined && down.heart !== undefined) return { kind: 'combo', ms: now - Math.max(down.paw, down.heart) };
    if (down.paw !== undefined) return { kind: 'pair', ms: now - down.paw };
    return undefined;
  };

  const phoneSnapshot = (id: PhoneId): SimPhoneSnapshot => {
    const ph = phones[id];
    return {
      id,
      status: ph.status,
      paired: ph.paired,
      online: ph.relayConnected,
      name: ph.name,
      messages: ph.messages.map((m) => ({ from: m.from, seconds: m.seconds, url: `/audio/${m.id}.wav`, ogg: `/audio/${m.id}.opus`, at: m.at })),
      sent: ph.sent.map((m) => ({ seconds: m.seconds, at: m.at, state: m.state })),
      settings: phoneSettingsSnapshot(ph),
      notices: [...ph.notices],
    };
  };

  const phoneSettingsSnapshot = (ph: ParentApp): SimPhoneSnapshot['settings'] => {
    const st = ph.lastSettings();
    const hm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    return { quietEnabled: st.quietEnabled, quietStart: hm(st.quietStartMin), quietEnd: hm(st.quietEndMin), volumePercent: st.volumePercent, words: settingsInWords(st), waiting: ph.settingsPending };
  };

  const phoneOf = (id: unknown): ParentApp => {
    if (id !== 'mum' && id !== 'dad') throw new Error('phone must be mum or dad');
    return phones[id];
  };

  const pairWithWords = async (run: () => Promise<void>) => {
    try {
      await run();
    } catch (e) {
      throw new Error(pairingErrorInWords(e));
    }
  };

  const model: SimModel = {
    snapshot(): SimSnapshot {
      const c = board.ledColor(cfg.board.ledPin);
      const lockedMs = toy.pairing?.lockout.remainingMs() ?? 0;
      const memberIds = Object.fromEntries(PHONE_IDS.map((id) => [phones[id].memberId, id]));
      return {
        toy: {
          state: toy.toy.state,
          led: [c.r, c.g, c.b],
          ledMax: cfg.board.ledMaxLevel ?? 255,
          ledPattern: toy.led.current,
          counters: toy.counters.snapshot(),
          setupCode: toyInfo.setupCode,
          played: played.map((p) => ({ seconds: p.seconds, url: `/audio/${p.id}.wav` })),
          waiting: toy.player?.waiting() ?? 0,
          settings: settingsSnapshot(toy),
          family: (toy.roster?.list() ?? []).map((m) => ({ name: m.name, phone: memberIds[m.id] })),
          wifi: wifiOn,
          online: toyConnected(),
          lockedMinutes: lockedMs > 0 ? Math.ceil(lockedMs / 60000) : 0,
          hold: hold(),
          notice: notices.filter((n) => Date.now() - n.at < NOTICE_MS).map((n) => n.text).join(' '),
        },
        parent: phoneSnapshot('mum'),
        phones: PHONE_IDS.map(phoneSnapshot),
        log: logLines.slice(-30),
        trace: traceLines.slice(-40),
      };
    },
    press(button, pressed) {
      const pin = button === 'paw' ? cfg.board.pawPin : cfg.board.heartPin;
      const st = toy.toy.state;
      if (pressed && button === 'heart' && st === 'pairing' && down.paw !== undefined)
        tell('The heart cancels pairing mode (the heart was blue), so this is not a factory reset. To reset: release both, then hold paw + heart 10 s.');
      else if (pressed && button === 'heart' && st === 'pairing') tell('The heart cancels pairing mode.');
      if (pressed && button === 'paw' && st === 'playing' && down.heart === undefined)
        tell('The paw does nothing while a message plays: press the heart to stop it, then hold the paw to answer.');
      if (pressed && button === 'paw' && st === 'idle' && (toy.roster?.size ?? 0) === 0 && down.heart === undefined)
        tell('No phone is paired yet: keep holding the paw 3 s to start pairing (a short squeeze records nothing).');
      down[button] = pressed ? Date.now() : undefined;
      if (pressed && button === 'paw') {
        // A new squeeze: the child speaks now. Forget what an earlier press fed and the
        // recorder did not read (a pairing hold, a short squeeze, the end of a long text),
        // or it would open the next recording.
        const stale = board.micPending();
        if (stale > 0) {
          board.readMic(new Int16Array(stale));
          board.micSamplesRead -= stale;
        }
      }
      // The speech is ready before the press that records it (synthesized ahead by setMicText,
      // else now): a synthesis during the recording would stall the toy's audio. A paw press
      // that cannot record (no family yet: a pairing hold) feeds nothing and is not delayed.
      if (pressed && button === 'paw' && micText && (toy.roster?.size ?? 0) > 0) board.feedMic(speech(micText));
      if (pressed) board.press(pin);
      else board.release(pin);
    },
    async setMicText(text) {
      micText = text;
      // synthesize ahead, once the typing pauses, so a paw press finds it ready
      if (speechTimer) clearTimeout(speechTimer);
      speechTimer = setTimeout(() => {
        speechTimer = undefined;
        if (micText && !closing) speech(micText);
      }, 400);
    },
    async parentPair(name, code) {
      await model.phonePair('mum', name, code);
    },
    async parentSend(text) {
      await model.phoneSend('mum', text);
    },
    async phonePair(id, name, code) {
      const ph = phoneOf(id);
      if (!/\S/.test(name)) throw new Error('type a name for this phone first (the toy shows it to the family)');
      await pairWithWords(() => ph.pair(name.trim(), (code ?? toyInfo.setupCode).trim()));
    },
    async phoneSendFile(id, bytes) {
      const ph = phoneOf(id);
      if (!ph.paired) throw new Error('pair this phone with the toy first');
      const r = await ph.sendFile(bytes); // AudioImportError: its message is in words
      return { state: r.state, note: r.note, seconds: r.seconds };
    },
    async phoneSend(id, text) {
      const ph = phoneOf(id);
      if (!ph.paired) throw new Error('pair this phone with the toy first');
      const r = await ph.send(text);
      return { state: r.state };
    },
    async phoneSettings(id, input) {
      const ph = phoneOf(id);
      if (!ph.paired) throw new Error('pair this phone with the toy first');
      return ph.sendSettings(input); // SettingsInputError: its message is in words
    },
    async phoneRemove(id, target) {
      const ph = phoneOf(id);
      const other = phoneOf(target);
      if (!ph.paired) throw new Error('pair this phone with the toy first');
      if (!other.paired) throw new Error('that phone is not in the family');
      if (ph === other) throw new Error('a phone removes another phone');
      await pairWithWords(() => ph.removeMember(other.memberId, toyInfo.setupCode));
      await other.forget(`removed from the family by ${ph.name || 'another phone'}`);
    },
    async setToyWifi(on) {
      wifiOn = on;
      broker.cutOff(toyInfo.toyId, !on);
      log(on ? 'sim: the toy\'s Wi-Fi is back: it reconnects to the relay by itself (within seconds; longer after a long outage)' : 'sim: the toy\'s Wi-Fi is off: messages for it wait at the relay');
    },
    audioOgg(id) {
      for (const ph of PHONE_IDS) {
        const m = phones[ph].messages.find((x) => x.id === id);
        if (m) return m.ogg;
      }
      return undefined;
    },
    audio(id) {
      for (const ph of PHONE_IDS) {
        const m = phones[ph].messages.find((x) => x.id === id);
        if (m) return m.wav;
      }
      return played.find((p) => p.id === id)?.wav;
    },
  };
  let server: SimServer | undefined;
  let radio: RadioEndpoint; // issue 15: the parent CLI's BLE and relay account
  try {
    server = await startSimServer(model, o.webPort);
    radio = await startRadioEndpoint({ air, registry, port: o.radioPort ?? 0, lockedMs: () => toy.pairing?.lockout.remainingMs() ?? 0 });
  } catch (e) {
    closing = true;
    setSimUpdateRoute(undefined);
    await server?.close();
    clearInterval(poll);
    for (const id of PHONE_IDS) await phones[id].close();
    toy.close();
    board.autoRender(false);
    await broker.close();
    throw e;
  }
  let closed = false;
  return {
    webPort: server.port,
    brokerPort: broker.port,
    radioPort: radio.port,
    setupCode: toyInfo.setupCode,
    parent,
    phones,
    toy: () => toy,
    firmwareVersion: () => update.runningVersion,
    deviceInfo: () => deviceInfo!,
    model,
    close: async () => {
      if (closed) return;
      closed = true;
      closing = true;
      clearInterval(poll);
      setSimUpdateRoute(undefined);
      await radio.close();
      if (rebootTimer) clearTimeout(rebootTimer);
      if (speechTimer) clearTimeout(speechTimer);
      await server.close();
      for (const id of PHONE_IDS) await phones[id].close();
      toy.close();
      board.autoRender(false);
      await broker.close();
    },
  };
}
