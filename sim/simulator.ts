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
import { toyKeyHash } from '../src/pairing-protocol.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { startEmbeddedBroker, type BrokerRegistry, type EmbeddedBroker } from './embedded-broker.js';
import { air, SimAirCentral } from './moddable/ble-air.js';
import { board } from './moddable/board.js';
import { deviceConfig } from './moddable/manifest-config.js';
import Preference from './moddable/preference.js';
import { ParentApp } from './parent-app.js';
import { startRadioEndpoint, type RadioEndpoint } from './radio-endpoint.js';
import { startSimServer, type SimModel, type SimServer, type SimSnapshot } from './server.js';
import { speakOrFixture } from './speech.js';
import { formatWav } from './wav-file.js';

export interface SimulatorOptions {
  /** Where the toy's flash, the factory output and the phone's keys live. */
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

export interface Simulator {
  readonly webPort: number;
  readonly brokerPort: number;
  /** The radio endpoint's port (sim/radio-endpoint.ts: the parent command line pairs through it). */
  readonly radioPort: number;
  readonly setupCode: string;
  readonly parent: ParentApp;
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

export async function startSimulator(o: SimulatorOptions): Promise<Simulator> {
  fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const logLines: string[] = [];
  const log = (line: string) => {
    logLines.push(`${new Date().toISOString().slice(11, 19)} ${line}`);
    if (logLines.length > 60) logLines.shift();
  };
  board.setFsRoot(path.join(o.dataDir, 'toy-flash'));
  board.traceToStdout = o.trace ?? false;
  board.on('trace', (l: string) => log(`toy: ${l.trimEnd()}`));
  board.autoRender(true);

  const registry: BrokerRegistry = { toys: {}, phones: {} };
  // The broker must know its port before the toy is provisioned with it: bind first.
  const broker: EmbeddedBroker = await startEmbeddedBroker({ port: o.brokerPort, registry });
  const toyInfo = await provisionToy(o.dataDir, broker.port);
  registry.toys[toyInfo.toyId] = { passwordHash: toyInfo.passwordLine.slice(toyInfo.toyId.length + 1) };
  log(`factory: toy ${toyInfo.toyId.slice(0, 8)}… provisioned, label code ${toyInfo.setupCode.slice(0, 8)}…`);

  const mainUrl = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), '../hal/main-esp32.ts')).href;
  const main = ((await import(mainUrl)) as { default: MainFn }).default;
  let toy: PawPost;
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
        setTimeout(() => {
          toy.close();
          boot();
        }, 50);
      },
    });
  };
  boot();

  const parent = new ParentApp({
    dir: path.join(o.dataDir, 'phone'),
    connectBle: async () => {
      const c = new SimAirCentral(air, { notifyTimeoutMs: 30000 });
      const r = await c.connect();
      if (r !== 'OK') throw new Error(r === 'NOT_FOUND' || r === 'NOT_ADVERTISING' ? 'the toy is not in pairing mode' : `BLE: ${r}`);
      return c;
    },
    brokerUrl: `mqtt://127.0.0.1:${broker.port}`,
    brokerHost: '127.0.0.1',
    brokerPort: broker.port,
    registry,
    log,
  });
  if (parent.resume()) log('parent: resumed the earlier pairing');

  const cfg = deviceConfig as { board: { pawPin: number; heartPin: number; ledPin: number; ledMaxLevel?: number } };
  let micText = '';
  const played: { id: string; seconds: number; wav: Uint8Array }[] = [];
  let lastState = '';
  let capturing = false;
  let playedCount = 0;
  const finishCapture = () => {
    capturing = false;
    const pcm = board.takeSpeaker();
    if (pcm.length > 0) played.push({ id: `p${++playedCount}`, seconds: pcm.length / SAMPLE_RATE_HZ, wav: formatWav(pcm, SAMPLE_RATE_HZ) });
    if (played.length > 10) played.shift();
  };
  // Keep what the speaker played for each message, for the page. The toy leaves 'playing'
  // when the last frame is handed to the speaker, whose queue then plays out for
  // SPEAKER_TAIL_MS before it closes: a capture ends when the speaker has closed.
  const poll = setInterval(() => {
    const s = toy.toy.state;
    if (s === 'playing' && lastState !== 'playing') {
      if (capturing) finishCapture(); // the next message started during the last one's tail
      capturing = true;
    } else if (capturing && s !== 'playing' && board.speakerOpen === 0) finishCapture();
    else if (!capturing && board.speakerOpen === 0) board.takeSpeaker(); // nothing stray opens the next capture
    lastState = s;
  }, 50);

  const model: SimModel = {
    snapshot(): SimSnapshot {
      const c = board.ledColor(cfg.board.ledPin);
      return {
        toy: {
          state: toy.toy.state,
          led: [c.r, c.g, c.b],
          ledMax: cfg.board.ledMaxLevel ?? 255,
          ledPattern: toy.led.current,
          counters: toy.counters.snapshot(),
          setupCode: toyInfo.setupCode,
          played: played.map((p) => ({ seconds: p.seconds, url: `/audio/${p.id}.wav` })),
        },
        parent: {
          status: parent.status,
          messages: parent.messages.map((m) => ({ from: m.from, seconds: m.seconds, url: `/audio/${m.id}.wav` })),
        },
        log: logLines.slice(-30),
      };
    },
    press(button, pressed) {
      const pin = button === 'paw' ? cfg.board.pawPin : cfg.board.heartPin;
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
      if (pressed && button === 'paw' && micText) {
        const { samples, synthesized } = speakOrFixture(micText);
        if (!synthesized) log('sim: espeak-ng or sox missing: the mic hears the recorded fixture instead');
        board.feedMic(samples);
      }
      if (pressed) board.press(pin);
      else board.release(pin);
    },
    async setMicText(text) {
      micText = text;
    },
    async parentPair(name) {
      await parent.pair(name, toyInfo.setupCode);
    },
    async parentSend(text) {
      await parent.send(text);
    },
    audio(id) {
      return parent.messages.find((m) => m.id === id)?.wav ?? played.find((p) => p.id === id)?.wav;
    },
  };
  const server: SimServer = await startSimServer(model, o.webPort);
  const radio: RadioEndpoint = await startRadioEndpoint({ air, registry, port: o.radioPort ?? 0 }); // issue 15: the parent CLI's BLE and relay account
  let closed = false;
  return {
    webPort: server.port,
    brokerPort: broker.port,
    radioPort: radio.port,
    setupCode: toyInfo.setupCode,
    parent,
    toy: () => toy,
    firmwareVersion: () => update.runningVersion,
    deviceInfo: () => deviceInfo!,
    model,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      setSimUpdateRoute(undefined);
      await radio.close();
      await server.close();
      await parent.close();
      toy.close();
      board.autoRender(false);
      await broker.close();
    },
  };
}
