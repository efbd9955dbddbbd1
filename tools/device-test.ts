/**
 * The device tier: the firmware built by the real Moddable SDK (mcconfig, for
 * `lin`, at the ESP32's XS creation) boots in the SDK's own runtime (mcsim under
 * Xvfb) and is driven from outside, as a toy is:
 *
 * - factory data: the factory's own nvs.bin, converted to lin's preference file
 *   (tools/lin-nvs.ts) in a per-run flash directory;
 * - buttons: a scenario module in the test build only (tests/device-scenario.ts)
 *   presses through the lin ButtonPorts on commands from this runner;
 * - network: a real mosquitto on loopback with the factory's password file;
 *   the parent is Node (phone/phone-envelope.ts, mqtt.js, @evan/opus).
 *
 * Prints one line per check and ends with `device: N passed, N failed`, or
 * `device: skipped (<reason>)` when there is no built SDK / xvfb-run / mosquitto.
 * Also used by the bench (`--bench`: prints the memory figures as JSON).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import mqtt from 'mqtt';
import { buildFirmware, creationLine, findSdk, FirmwareRun, hasXvfb, type Sdk } from './moddable-runtime.js';
import { linPreferencesFromNvs } from './lin-nvs.js';
import { makerKeygen, readMakerSecretKey } from '../factory/maker-key.js';
import { provisionBatch } from '../factory/provision-batch.js';
import { mosquittoPasswdLine } from '../factory/mosquitto-passwd.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { PhoneEnvelope } from '../phone/phone-envelope.js';
import { PhoneFamily, parseToyStatus } from '../phone/phone-family.js';
import { familyTopics } from '../src/family-note.js';
import { Roster } from '../src/roster.js';
import { saveNetworkSettings } from '../src/network-settings.js';
import { toyTopics } from '../src/topics.js';
import { DirStorage } from '../sim/dir-storage.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { parseWav } from '../sim/wav-file.js';
import { FRAME_SAMPLES, type RandomPort } from '../hal/ports.js';
import { freePort, hasMosquitto, startMosquitto, stopMosquitto } from '../tests/mosquitto-broker-rig.js';
import { chunkTopic, encodeChunk, UPDATE_CHUNK_BYTES } from '../src/update-delivery.js';
import { makeSimImage, sessionReleaseKey, signSimRelease, type SessionReleaseKey } from '../sim/update-publisher.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const WAV = path.join(ROOT, 'tests', 'fixtures', 'speech-16k.wav');
const bench = process.argv.includes('--bench');
const verbose = process.argv.includes('--verbose') || process.env.PAWPOST_DEVICE_VERBOSE === '1';

/** The ESP32 target's XS creation (manifest.json platforms.esp32.creation, else the m5atom_echo defaults). */
function esp32Creation(): { chunk: number; heap: number; stack: number } {
  const m = JSON.parse(fs.readFileSync(path.join(ROOT, 'manifest.json'), 'utf8')) as {
    platforms: { esp32: { creation?: { chunk?: { initial?: number }; heap?: { initial?: number }; stack?: number } } };
  };
  const c = m.platforms.esp32.creation ?? {};
  return { chunk: c.chunk?.initial ?? 78848, heap: c.heap?.initial ?? 4928, stack: c.stack ?? 512 };
}

let passed = 0;
let failed = 0;
function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`  ${ok ? '✔' : '✘'} [device] ${name}${detail ? ` — ${detail}` : ''}`);
}

const nodeRandom: RandomPort = { fill: (b) => void b.set(randomBytes(b.length)) };

interface Mem {
  slots: number;
  chunks: number;
}
function memOf(lines: string[]): Mem {
  let slots = 0;
  let chunks = 0;
  for (const l of lines) {
    const m = l.match(/^mem \S+ slots=(\d+) chunks=(\d+)/);
    if (m) {
      slots = Math.max(slots, Number(m[1]));
      chunks = Math.max(chunks, Number(m[2]));
    }
  }
  return { slots, chunks };
}

/** The most native crypto calls (hal/moddable-crypto.ts) a `mem` line of the scenario build reports. */
function nativeCallsOf(lines: string[]): number {
  let n = 0;
  for (const l of lines) {
    const m = l.match(/^mem \S+ .* nativeCrypto=(\d+)/);
    if (m) n = Math.max(n, Number(m[1]));
  }
  return n;
}

/** Pearson correlation of y against x at the best offset of y inside x (x loops). */
function bestCorrelation(x: Int16Array, y: Int16Array): { r: number; offset: number } {
  const n = Math.min(y.length, 16000 * 2);
  const seg = y.subarray(Math.floor((y.length - n) / 2), Math.floor((y.length - n) / 2) + n);
  const corrAt = (off: number, step: number) => {
    let sxy = 0, sxx = 0, syy = 0, sx = 0, sy = 0, k = 0;
    for (let i = 0; i < seg.length; i += step) {
      const a = x[(off + i) % x.length]!;
      const b = seg[i]!;
      sx += a; sy += b; sxy += a * b; sxx += a * a; syy += b * b; k++;
    }
    const cov = sxy - (sx * sy) / k;
    const den = Math.sqrt((sxx - (sx * sx) / k) * (syy - (sy * sy) / k));
    return den > 0 ? cov / den : 0;
  };
  let best = { r: -2, offset: 0 };
  for (let off = 0; off < x.length; off += 4) {
    const r = corrAt(off, 8);
    if (r > best.r) best = { r, offset: off };
  }
  let fine = best;
  for (let off = best.offset - 8; off <= best.offset + 8; off++) {
    const o = (off + x.length) % x.length;
    const r = corrAt(o, 1);
    if (r > fine.r || fine === best) fine = { r, offset: o };
  }
  return fine;
}

async function main(): Promise<void> {
  const sdk = findSdk();
  if ('missing' in sdk) return skip(sdk.missing);
  if (!hasXvfb()) return skip('xvfb-run is not installed (Debian package xvfb)');
  if (!hasMosquitto) return skip('mosquitto is not installed');
  await run(sdk);
}

function skip(why: string): void {
  console.log(`device: skipped (${why})`);
  if (bench) console.log(JSON.stringify({ skipped: why }));
}

async function run(sdk: Sdk): Promise<void> {
  const work = fs.mkdtempSync(path.join(tmpdir(), 'pawpost-device-'));
  const flash = path.join(work, 'flash') + '/';
  const creation = esp32Creation();
  const figures: Record<string, number | string> = {};
  let broker: Awaited<ReturnType<typeof startMosquittoOnPort>> | undefined;
  try {
    // ---------------------------------------------------------------- factory
    const factory = path.join(work, 'factory');
    fs.mkdirSync(factory);
    makerKeygen(factory);
    const maker = readMakerSecretKey(path.join(factory, 'maker.key'));
    // the broker's port must be in the factory data: start mosquitto first
    const phoneUser = `phone-${randomBytes(4).toString('hex')}`;
    const phonePass = randomBytes(18).toString('base64');
    const passwd = path.join(work, 'mosquitto.passwd');
    fs.writeFileSync(passwd, mosquittoPasswdLine(phoneUser, phonePass) + '\n', { mode: 0o600 });
    const upd = prepareUpdateChecks(passwd); // issue 14: the release operator's account and a run-only release key
    const brokerPort = await freePort();
    const tlsPort = await freePort();
    const tls = makeTestCa(path.join(work, 'tls'));
    const batch = path.join(factory, 'batch');
    // The toy's broker: TLS on `localhost`, its certificate chained to the test CA the factory writes into NVS.
    await provisionBatch({ outDir: batch, count: 1, maker, mqttHost: 'localhost', mqttPort: tlsPort, mqttCa: tls.caDer });
    const toyId = fs.readdirSync(batch).find((d) => /^[0-9a-f]{32}$/.test(d))!;
    const nvs = new Uint8Array(fs.readFileSync(path.join(batch, toyId, 'nvs.bin')));
    const keysFile = path.join(batch, toyId, 'nvs_keys.bin');
    const nvsKeys = fs.existsSync(keysFile) ? new Uint8Array(fs.readFileSync(keysFile)) : undefined;
    fs.appendFileSync(passwd, fs.readFileSync(path.join(batch, 'mosquitto.passwd'), 'utf8'));
    broker = await startMosquittoOnPort(work, passwd, brokerPort, { port: tlsPort, ...tls });

    // ---------------------------------------------------------------- SNTP on loopback (port 123: root only)
    const sntp = await startSntp();

    // ---------------------------------------------------------------- build
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.mkdirSync(flash);
    fs.writeFileSync(
      path.join(app, 'manifest.json'),
      JSON.stringify({
        include: [path.join(ROOT, 'tests', 'device', 'manifest.json')],
        config: { file: { root: flash }, useTls: true, sntp: sntp ? '127.0.0.1' : '', releaseKeys: [upd.key.publicHex] },
        platforms: {
          lin: { creation: { static: 0, chunk: { initial: creation.chunk, incremental: 0 }, heap: { initial: creation.heap, incremental: 0 }, stack: creation.stack } },
        },
      }),
    );
    const cache = process.env.PAWPOST_DEVICE_BUILD || path.join(tmpdir(), 'pawpost-device-build');
    const built = buildFirmware(sdk, path.join(app, 'manifest.json'), cache);
    const cl = creationLine(built.makefile) ?? '';
    check(`mcconfig builds the firmware for lin at the ESP32 creation (${built.seconds.toFixed(0)} s)`, built.ok && fs.existsSync(built.so), built.ok ? cl.replace('CREATION = ', '') : built.output.split('\n').filter((l) => /error|Error/.test(l)).slice(0, 5).join(' | '));
    if (!built.ok) return;
    figures.creation = cl.replace('CREATION = ', '');

    const boot = async (name: string, prepare: () => void, body: (r: FirmwareRun) => Promise<void>) => {
      fs.rmSync(flash, { recursive: true, force: true });
      fs.mkdirSync(flash);
      fs.writeFileSync(path.join(flash, 'scenario.json'), JSON.stringify({ memoryEveryMs: 100 }));
      prepare();
      const r = await FirmwareRun.start(sdk, built.so, { onLine: verbose ? (l) => console.log(`    | ${l}`) : undefined });
      try {
        await body(r);
      } catch (e) {
        check(name, false, `${e instanceof Error ? e.message : String(e)}; last lines: ${r.lines.slice(-6).join(' / ')}`);
      } finally {
        await r.stop();
      }
      const aborted = r.lines.find((l) => /XS abort|memory full|allocation: failed/.test(l));
      if (aborted) check(`${name}: no abort in the runtime`, false, aborted);
      return r;
    };
    const writePrefs = (prefs: unknown) => fs.writeFileSync(path.join(flash, 'modpreferences.json'), JSON.stringify(prefs));
    const prefs = linPreferencesFromNvs(nvs, nvsKeys);

    // ---------------------------------------------------------------- 1. no factory data
    await boot('unprovisioned toy', () => undefined, async (r) => {
      const line = await r.waitFor(/identity\.invalid/, 20000);
      await r.waitFor(/^led red/, 5000);
      await r.waitFor(/^led blue/, 5000);
      await new Promise((res) => setTimeout(res, 1500));
      const ran = r.lines.filter((l) => /app\.started|net\.joining|mqtt\.state/.test(l));
      check('unprovisioned: identity.invalid NOT_PROVISIONED, red/blue error pattern, nothing else runs', /code=NOT_PROVISIONED/.test(line) && ran.length === 0, line);
    });

    // ---------------------------------------------------------------- 2. corrupted factory data
    await boot('corrupted factory data', () => {
      const bad = JSON.parse(JSON.stringify(prefs)) as Record<string, Record<string, unknown>>;
      bad.pawpost!.box_pk = { buffer: Array.from(randomBytes(31)).join(',') }; // 31 bytes: truncated key
      writePrefs(bad);
    }, async (r) => {
      const line = await r.waitFor(/identity\.invalid/, 20000);
      await r.waitFor(/^led red/, 5000);
      await new Promise((res) => setTimeout(res, 1500));
      const ran = r.lines.filter((l) => /app\.started|net\.joining|mqtt\.state/.test(l));
      const leaked = r.lines.filter((l) => l.includes(toyId.slice(0, 12)) && /invalid/.test(l));
      check('corrupted box_pk: identity.invalid MALFORMED key=box_pk, error pattern, nothing else runs', /code=MALFORMED/.test(line) && /box_pk/.test(line) && ran.length === 0 && leaked.length === 0, line);
    });

    // ---------------------------------------------------------------- 3. provisioned, not paired
    let bootMem: Mem = { slots: 0, chunks: 0 };
    await boot('provisioned boot', () => writePrefs(prefs), async (r) => {
      const loaded = await r.waitFor(/identity\.loaded/, 20000);
      const started = await r.waitFor(/app\.started/, 20000);
      await new Promise((res) => setTimeout(res, 1000));
      bootMem = memOf(r.lines);
      check('factory-provisioned toy boots: identity.loaded, app.started', loaded.includes(toyId) && /family=0/.test(started), started);
      const impl = r.lines.find((l) => /main\.crypto/.test(l)) ?? '(no main.crypto line)';
      check('the lin firmware uses the native crypto (libsodium host functions, hal/native/pawpost-crypto.c)', /impl=native/.test(impl), impl);
      fs.appendFileSync(path.join(flash, 'cmd'), 'crypto\n');
      const cc = await r.waitFor(/^crypto\.check/, 90000);
      const ccPassed = Number(/passed=(\d+)/.exec(cc)?.[1] ?? 0);
      figures.nativeCryptoChecks = ccPassed;
      check(`native crypto in the SDK's runtime: same bytes as tweetnacl, tampering refused, bad arguments throw (tests/device-crypto-check.ts: ${ccPassed} checks)`, /failed=0\b/.test(cc) && ccPassed > 100, cc);
      fs.appendFileSync(path.join(flash, 'cmd'), 'vectors\n');
      const vl = await r.waitFor(/^vectors /, 90000);
      const committed = (JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'vectors', 'pairing-v2.json'), 'utf8')) as { vectors: unknown[] }).vectors;
      const want = committed.map((v) => createHash('sha512').update(JSON.stringify(v)).digest('hex')).join(',');
      const got = /pairing=([0-9a-f,]+)/.exec(vl)?.[1];
      figures.vectorNativeCalls = Number(/calls=(\d+)/.exec(vl)?.[1] ?? 0);
      check(`the committed pairing vectors (pairing-v2.json, ${committed.length}) remade in the firmware with the native crypto for toy and phone: byte for byte`, got === want, vl.slice(0, 160));
      await checkStorageCost(r, flash, figures);
    });
    figures.bootSlots = bootMem.slots;
    figures.bootChunks = bootMem.chunks;

    // ---------------------------------------------------------------- 4. paired: parent → toy, toy → parent
    const phoneSecret = new Uint8Array(randomBytes(32));
    const phonePublic = naclCrypto.boxKeyPairFromSecret(phoneSecret).publicKey;
    const toyPublic = new Uint8Array(linPrefBlob(prefs, 'box_pk'));
    const phoneStore = new DirStorage(path.join(work, 'phone'));
    const phone = new PhoneEnvelope({ crypto: naclCrypto, random: nodeRandom, storage: phoneStore, clock: { wallNow: () => Date.now() }, secretKey: phoneSecret, toyPublicKey: toyPublic });
    const topics = toyTopics(toyId);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: phoneUser, username: phoneUser, password: phonePass, protocolVersion: 4, reconnectPeriod: 0 });
    const fromToy: Uint8Array[] = [];
    client.on('message', (_t, payload) => fromToy.push(new Uint8Array(payload)));
    await client.subscribeAsync(topics.out, { qos: 1 });
    const codec = new OpusCodecHost();
    const speech = parseWav(new Uint8Array(fs.readFileSync(WAV))).samples;

    let recvMem: Mem = { slots: 0, chunks: 0 };
    let recMem: Mem = { slots: 0, chunks: 0 };
    await boot('paired toy on the broker', () => {
      writePrefs(prefs);
      // The state a pairing leaves (the lin runtime has no BLE radio): the phone in the roster, the Wi-Fi settings.
      const data = new DirStorage(path.join(flash, 'pawpost'));
      new Roster(data).add({ id: 'mum', name: 'Mum', publicKey: phonePublic });
      // A phone-supplied broker (here the plain-TCP listener) is refused: the toy keeps to its factory broker over TLS.
      saveNetworkSettings(data, { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: '127.0.0.1', brokerPort: broker!.port });
    }, async (r) => {
      const started = await r.waitFor(/app\.started/, 20000);
      await r.waitFor(/net\.up/, 15000);
      await r.waitFor(/mqtt\.state state=online/, 15000);
      if (sntp) {
        const set = await r.waitFor(/net\.clock_set|net\.clock_failed/, 15000);
        const unix = Number(/unix=(\d+)/.exec(set)?.[1] ?? 0);
        check('after Wi-Fi is up the toy asks SNTP (hal/moddable-sntp.ts over the SDK\'s UDP socket) and gets the time', /clock_set/.test(set) && Math.abs(unix - Date.now() / 1000) < 60 && sntp.requests > 0, `${set}; ${sntp.requests} request(s)`);
      }
      const refused = r.lines.some((l) => /app\.broker_override_refused/.test(l));
      check('paired toy joins Wi-Fi (lin stand-in) and reaches mosquitto over TLS (test CA from NVS, server name checked) with its factory credentials; the phone-supplied broker is refused', /family=1/.test(started) && refused, started);

      // parent → toy: 2 s of speech, sealed, published QoS 1 once the toy's first-ever subscription exists
      // (the broker has no session for it before its SUBACK: a publish racing it would reach no one)
      await r.waitFor(/mqtt\.subscribed/, 15000);
      const before = r.lines.length;
      const msg = phone.begin();
      const out = new Uint8Array(1275);
      const frame = new Int16Array(FRAME_SAMPLES);
      const chunks: Uint8Array[] = [];
      codec.reset();
      for (let i = 0; i < 100; i++) {
        frame.set(speech.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
        const c = msg.addPacket(out, codec.encode(frame, out));
        if (c) chunks.push(c);
      }
      chunks.push(msg.finish());
      for (const c of chunks) await client.publishAsync(topics.in, Buffer.from(c), { qos: 1 });
      const arrived = await r.waitFor(/msg\.arrived/, 20000);
      await r.waitFor(/^led green|^led cyan|^led white|^led yellow/, 5000).catch(() => undefined);
      fs.appendFileSync(path.join(flash, 'cmd'), 'mem\nheart down\n');
      await new Promise((res) => setTimeout(res, 300));
      fs.appendFileSync(path.join(flash, 'cmd'), 'heart up\n');
      const finished = await r.waitFor(/play\.finished/, 20000);
      const spoken = await r.waitFor(/^speaker frames=/, 5000);
      checkSpeakerPlayback(spoken, finished, figures);
      const rms = Number(/rms=(\d+)/.exec(spoken)?.[1] ?? 0);
      figures.playedRms = rms;
      recvMem = memOf(r.lines.slice(before));
      check(`parent → toy: ${chunks.length} sealed chunks admitted, played with the native libopus`, /chunks=/.test(arrived) && /badPackets=0/.test(finished) && rms > 300, `${arrived}; ${finished}; ${spoken}`);
      const openCalls = nativeCallsOf(r.lines) - nativeCallsOf(r.lines.slice(0, before));
      figures.receiveNativeCryptoCalls = openCalls;
      check(`parent → toy: the chunks are opened by the native crypto (${openCalls} libsodium calls)`, openCalls >= chunks.length, `${openCalls} calls for ${chunks.length} chunks`);

      // toy → parent: hold the paw 3 s
      const before2 = r.lines.length;
      fs.appendFileSync(path.join(flash, 'cmd'), 'paw down\n');
      await new Promise((res) => setTimeout(res, 3000));
      fs.appendFileSync(path.join(flash, 'cmd'), 'paw up\n');
      const queued = await r.waitFor(/rec\.queued/, 20000);
      const deadline = Date.now() + 20000;
      const packets: Uint8Array[] = [];
      let final = false;
      while (!final && Date.now() < deadline) {
        while (fromToy.length) {
          const c = fromToy.shift()!;
          const o = phone.opener.push(c);
          for (const p of o.packets) packets.push(p.slice());
          if (o.final) {
            phone.opener.finish(o.info.messageKey);
            final = true;
          }
        }
        if (!final) await new Promise((res) => setTimeout(res, 100));
      }
      recMem = memOf(r.lines.slice(before2));
      checkMicCapture(r.lines.slice(before2), figures);
      const pcm = new Int16Array(packets.length * FRAME_SAMPLES);
      const f = new Int16Array(FRAME_SAMPLES);
      codec.reset();
      packets.forEach((p, i) => {
        codec.decode(p, p.length, f);
        pcm.set(f, i * FRAME_SAMPLES);
      });
      const { r: corr } = packets.length > 50 ? bestCorrelation(speech, pcm) : { r: 0 };
      figures.recordCorrelation = Number(corr.toFixed(3));
      figures.recordSeconds = Number(((packets.length * 20) / 1000).toFixed(2));
      check(`toy → parent: the paw records the lin mic's WAV, native Opus, sealed, published; the parent opens it (correlation ${corr.toFixed(3)} ≥ 0.80)`, final && corr >= 0.8, `${queued}; ${packets.length} packets`);
      fs.appendFileSync(path.join(flash, 'cmd'), 'mem\n');
      await new Promise((res) => setTimeout(res, 400));
      const sealCalls = nativeCallsOf(r.lines) - nativeCallsOf(r.lines.slice(0, before2));
      figures.recordNativeCryptoCalls = sealCalls;
      check(`toy → parent: the chunks the parent opened were sealed by the native crypto (${sealCalls} libsodium calls)`, final && sealCalls > 0, `${sealCalls} calls`);
      await familyDeviceChecks({ r, flash, client, phone, phoneSecret, toyPublic, toyId, speech, codec });
    });
    // ---------------------------------------------------------------- 5. a broker whose certificate does not chain to the factory CA
    const otherCa = makeTestCa(path.join(work, 'tls-other'));
    await boot('TLS with a certificate from another CA', () => {
      const bad = JSON.parse(JSON.stringify(prefs)) as Record<string, Record<string, unknown>>;
      bad.pawpost!.mqtt_ca = { buffer: Array.from(otherCa.caDer).join(',') };
      writePrefs(bad);
      const data = new DirStorage(path.join(flash, 'pawpost'));
      new Roster(data).add({ id: 'mum', name: 'Mum', publicKey: phonePublic });
      saveNetworkSettings(data, { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'localhost', brokerPort: 1 });
    }, async (r) => {
      await r.waitFor(/mqtt\.state state=connecting/, 20000);
      await r.waitFor(/mqtt\.state state=waiting/, 20000);
      await new Promise((res) => setTimeout(res, 1000));
      const online = r.lines.some((l) => /state=online/.test(l));
      check('a broker certificate that does not chain to the CA in the factory data is refused: the toy never goes online', !online, r.lines.filter((l) => /mqtt\.state|failed|ssl|tls/i.test(l)).slice(0, 4).join(' / '));
    });

    figures.receiveSlots = recvMem.slots;
    figures.receiveChunks = recvMem.chunks;
    // ---------------------------------------------------------------- 6. signed firmware update (issue 14)
    await runUpdateChecks({ sdk, so: built.so, flash, prefs, phonePublic, brokerPort: broker.port, upd, figures });

    figures.recordSlots = recMem.slots;
    figures.recordChunks = recMem.chunks;
    await client.endAsync(true);
    codec.close();

    // ---------------------------------------------------------------- esp32 makefile
    if (!bench) {
      const espOut = path.join(work, 'esp32');
      const espApp = path.join(work, 'espapp');
      fs.mkdirSync(espApp);
      fs.copyFileSync(path.join(ROOT, 'manifest.json'), path.join(espApp, 'manifest.json'));
      const esp = buildEsp32Makefile(sdk, ROOT, espOut);
      check('esp32/m5atom_echo: mcconfig writes the makefile; its CREATION carries the heap and the native stack', esp.ok, esp.detail);
      const flashLayout = checkEsp32Flash(espOut);
      check('esp32/m5atom_echo: the partition table is ours (two equal OTA slots, storage >= 512 KiB) and app rollback is on', flashLayout.ok, flashLayout.detail);
    }
  } finally {
    sntpServer?.close();
    if (broker) await stopMosquitto(broker.proc);
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (bench) console.log(JSON.stringify(figures));
  console.log(`device: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

/**
 * Issue 13: the heap slots one FileStore operation (the toy's storage adapter) costs in the
 * SDK's runtime (tests/device-scenario.ts `storage`), the device's counterpart of the
 * storage fake that bench/toy.bench.ts measures apart from the toy. Figures: storageRead,
 * storageWrite, storageRemove (slots per operation).
 */
async function checkStorageCost(r: FirmwareRun, flash: string, figures: Record<string, number | string>): Promise<void> {
  fs.appendFileSync(path.join(flash, 'cmd'), 'storage\n');
  const line = await r.waitFor(/^storage\.cost /, 30000);
  const num = (k: string) => Number(new RegExp(`\\b${k}=(-?[0-9.]+)`).exec(line)?.[1] ?? NaN);
  const [read, write, remove, base] = [num('read'), num('write'), num('remove'), num('base')];
  figures.storageRead = read;
  figures.storageWrite = write;
  figures.storageRemove = remove;
  const ok = [read, write, remove].every((v) => Number.isFinite(v) && v >= 0) && base === 0;
  check(`FileStore in the SDK's runtime: heap slots per read ${read}, write ${write}, remove ${remove} (no collection inside the measured runs)`, ok, line);
}

/**
 * Family features in the SDK's runtime (issue 15; the family engineer's checks): the lin
 * firmware publishes its retained online status, and sends the Node parent a sealed
 * "delivered" receipt when a message is stored and a "heard" receipt when the heart
 * played it, which the parent opens with phone/phone-family.ts.
 */
async function familyDeviceChecks(o: {
  r: FirmwareRun; flash: string; client: mqtt.MqttClient; phone: PhoneEnvelope; phoneSecret: Uint8Array; toyPublic: Uint8Array; toyId: string; speech: Int16Array; codec: OpusCodecHost;
}): Promise<void> {
  const ft = familyTopics(o.toyId);
  const fam = new PhoneFamily({ crypto: naclCrypto, random: nodeRandom, clock: { wallNow: () => Date.now() }, secretKey: o.phoneSecret, toyPublicKey: o.toyPublic, sharedKey: o.phone.sharedKey });
  const notes: Uint8Array[] = [];
  const status: Uint8Array[] = [];
  o.client.on('message', (topic, payload) => {
    if (topic === ft.fam) notes.push(new Uint8Array(payload));
    if (topic === ft.status) status.push(new Uint8Array(payload));
  });
  await o.client.subscribeAsync([ft.fam, ft.status], { qos: 1 });
  const until = async (cond: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((res) => setTimeout(res, 100));
    return cond();
  };
  await until(() => status.length > 0, 5000);
  let st: ReturnType<typeof parseToyStatus> | undefined;
  try {
    st = status.length ? parseToyStatus(status[0]!) : undefined;
  } catch {
    st = undefined;
  }
  check('family: the toy\'s retained status on pp/t/<id>/status says online (6 bytes, clear: state and time only)', st?.online === true, st ? JSON.stringify(st) : `${status.length} status message(s)`);

  // a short message (1 s) from the parent: "delivered" when stored, "heard" after the heart played it
  const msg = o.phone.begin();
  const out = new Uint8Array(1275);
  const frame = new Int16Array(FRAME_SAMPLES);
  const chunks: Uint8Array[] = [];
  o.codec.reset();
  for (let i = 0; i < 50; i++) {
    frame.set(o.speech.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
    const c = msg.addPacket(out, o.codec.encode(frame, out));
    if (c) chunks.push(c);
  }
  chunks.push(msg.finish());
  const id = Buffer.from(msg.messageId).toString('hex');
  const opened: string[] = [];
  const openAll = () => {
    while (notes.length) {
      try {
        const n = fam.openToyNote(notes.shift()!);
        if (n.kind === 'receipt' && n.messageId === id) opened.push(n.state);
      } catch (e) {
        opened.push(`error:${(e as { code?: string }).code ?? 'unknown'}`);
      }
    }
    return opened;
  };
  for (const c of chunks) await o.client.publishAsync(pp(o.toyId), Buffer.from(c), { qos: 1 });
  const delivered = await until(() => openAll().includes('delivered'), 20000);
  check('family: the lin firmware sends a sealed "delivered" receipt when the message is stored; the Node parent opens it (phone/phone-family.ts)', delivered, opened.join(',') || 'no receipt');
  fs.appendFileSync(path.join(o.flash, 'cmd'), 'heart down\n');
  await new Promise((res) => setTimeout(res, 300));
  fs.appendFileSync(path.join(o.flash, 'cmd'), 'heart up\n');
  const heard = await until(() => openAll().includes('heard'), 20000);
  check('family: after the heart played it, a sealed "heard" receipt reaches the parent', heard && opened.filter((x) => x.startsWith('error')).length === 0, opened.join(','));
}

/** The toy's incoming message topic. */
function pp(toyId: string): string {
  return toyTopics(toyId).in;
}

function linPrefBlob(prefs: ReturnType<typeof linPreferencesFromNvs>, key: string): number[] {
  const v = prefs.pawpost?.[key] as { buffer: string };
  return v.buffer.split(',').map(Number);
}

let sntpServer: dgram.Socket | undefined;

/** An SNTP server on 127.0.0.1:123 answering with this host's clock; undefined when the port cannot be bound (not root). */
async function startSntp(): Promise<{ requests: number } | undefined> {
  const stats = { requests: 0 };
  const sock = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    sock.once('error', () => resolve(false));
    sock.bind(123, '127.0.0.1', () => resolve(true));
  });
  if (!ok) {
    sock.close();
    console.log('  - [device] SNTP check not run: UDP port 123 needs root');
    return undefined;
  }
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 48) return;
    stats.requests++;
    const out = Buffer.alloc(48);
    out[0] = 0x24; // LI 0, version 4, mode 4 (server)
    out[1] = 1; // stratum 1
    const now = Date.now() / 1000 + 2208988800; // NTP era 0 seconds
    const sec = Math.floor(now);
    const frac = Math.floor((now - sec) * 2 ** 32);
    for (const off of [16, 32, 40]) {
      out.writeUInt32BE(sec >>> 0, off);
      out.writeUInt32BE(frac >>> 0, off + 4);
    }
    msg.copy(out, 24, 40, 48); // originate = the client's transmit time
    sock.send(out, rinfo.port, rinfo.address);
  });
  sntpServer = sock;
  return stats;
}

/** A test CA (RSA 2048) and a server certificate for `localhost` signed by it, made with openssl. */
function makeTestCa(dir: string): { caDer: Uint8Array; cafile: string; certfile: string; keyfile: string } {
  fs.mkdirSync(dir, { recursive: true });
  const sh = (cmd: string) => {
    const r = spawnSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr.slice(0, 300)}`);
  };
  sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=PawPost test CA" 2>/dev/null');
  sh('openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n');
  sh('openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 30 -extfile ext.cnf 2>/dev/null');
  sh('openssl x509 -in ca.crt -outform DER -out ca.der');
  return { caDer: new Uint8Array(fs.readFileSync(path.join(dir, 'ca.der'))), cafile: path.join(dir, 'ca.crt'), certfile: path.join(dir, 'server.crt'), keyfile: path.join(dir, 'server.key') };
}

/** mosquitto with a plain listener on `port` and a TLS listener (the toy's) on tls.port. */
function startMosquittoOnPort(dir: string, passwd: string, port: number, tls: { port: number; cafile: string; certfile: string; keyfile: string }) {
  return startMosquitto(dir, passwd, {
    port,
    extraLines: [`listener ${tls.port} 127.0.0.1`, `cafile ${tls.cafile}`, `certfile ${tls.certfile}`, `keyfile ${tls.keyfile}`, 'tls_version tlsv1.2'],
  });
}

/** mcconfig for esp32/m5atom_echo: without ESP-IDF it fails after writing the makefile; the CREATION line is checked. */
function buildEsp32Makefile(sdk: Sdk, root: string, outDir: string): { ok: boolean; detail: string } {
  const r = buildFirmware(sdk, path.join(root, 'manifest.json'), outDir, 'esp32/m5atom_echo');
  const cl = creationLine(r.makefile);
  const m = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')) as { platforms: { esp32: { creation?: { nativeStack?: number; heap?: { initial?: number } } } } };
  const want = m.platforms.esp32.creation;
  if (!cl) return { ok: false, detail: `no makefile: ${r.output.split('\n').filter((l) => /rror/.test(l)).slice(0, 3).join(' | ')}` };
  const f = cl.replace('CREATION = -c ', '').split(',');
  const ok = Number(f[f.length - 1]) === want?.nativeStack && Number(f[2]) === want?.heap?.initial;
  return { ok, detail: cl };
}

/**
 * The ESP-IDF inputs mcconfig wrote for esp32 (its xsProj-esp32 folder under outDir):
 * the partition table is the project's (two OTA slots, the large `storage` partition the
 * `file` module mounts), not mcconfig's default (one app split in two and a 64 KiB
 * storage carved from it), and sdkconfig.mc enables app rollback (pending, confirm).
 */
function checkEsp32Flash(outDir: string): { ok: boolean; detail: string } {
  const find = (dir: string, name: string): string | undefined => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        const r = find(p, name);
        if (r) return r;
      } else if (e.name === name && dir.endsWith('xsProj-esp32')) return p;
    }
    return undefined;
  };
  const table = find(outDir, 'partitions.csv');
  const sdkconfig = find(outDir, 'sdkconfig.mc');
  if (!table || !sdkconfig) return { ok: false, detail: `partitions.csv ${table ? 'found' : 'missing'}, sdkconfig.mc ${sdkconfig ? 'found' : 'missing'}` };
  const rows = new Map<string, string[]>();
  for (const line of fs.readFileSync(table, 'utf8').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    const cols = l.split(',').map((c) => c.trim());
    rows.set(cols[0]!, cols);
  }
  const size = (name: string) => Number.parseInt(rows.get(name)?.[4] ?? 'NaN', 16);
  const ours = fs.readFileSync(path.join(ROOT, 'hal', 'esp32-partitions-ota.csv'), 'utf8');
  const rollback = /^CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y$/m.test(fs.readFileSync(sdkconfig, 'utf8'));
  const ok = !rows.has('factory') && size('ota_0') === size('ota_1') && size('ota_0') > 0 && rows.has('otadata') &&
    size('storage') >= 0x80000 && rows.has('nvs_keys') && ours.includes(`0x${size('storage').toString(16)}`) && rollback;
  return {
    ok,
    detail: `ota_0/ota_1 ${size('ota_0')}/${size('ota_1')} B, storage ${size('storage')} B, nvs_keys ${rows.has('nvs_keys')}, factory ${rows.has('factory')}, rollback ${rollback}`,
  };
}

// ==================================================================== signed firmware updates (issue 14)

interface UpdateChecks {
  key: SessionReleaseKey;
  user: string;
  /** Never logged. */
  password: string;
}

/** Adds the release operator `pp-release` to the broker's password file; a release key for this run only. */
function prepareUpdateChecks(passwd: string): UpdateChecks {
  const password = randomBytes(18).toString('base64');
  fs.appendFileSync(passwd, mosquittoPasswdLine('pp-release', password) + '\n');
  return { key: sessionReleaseKey(), user: 'pp-release', password };
}

/**
 * The lin firmware takes a signed update from real mosquitto: retained manifest and
 * chunks published by `pp-release`; a manifest signed by another key is refused; the
 * good one is downloaded over the toy's TLS session, hashed natively, written to the
 * file slot (hal/moddable-file-update.ts) and switched; the toy restarts (lin: exits);
 * the next start boots the new slot pending, reaches the broker, confirms, and only
 * then stores the security version; a lower security version is then refused. The
 * update modules load only when the newer manifest arrives: the slots before and
 * after the load are the figures `updateIdleSlots` / `updateLoadedSlots`.
 */
async function runUpdateChecks(c: {
  sdk: Sdk; so: string; flash: string; prefs: ReturnType<typeof linPreferencesFromNvs>; phonePublic: Uint8Array;
  brokerPort: number; upd: UpdateChecks; figures: Record<string, number | string>;
}): Promise<void> {
  const { flash, upd } = c;
  const board = 'lin';
  const ota = path.join(flash, 'pawpost-ota');
  const image = makeSimImage({ major: 0, minor: 2, patch: 0 }, 5 * 4096 + 321);
  const good = signSimRelease(image, { board, version: '0.2.0', securityVersion: 2, secretKey: upd.key.secretKey });
  const other = sessionReleaseKey();
  const forged = signSimRelease(image, { board, version: '0.2.0', securityVersion: 2, secretKey: other.secretKey });
  const older = signSimRelease(makeSimImage({ major: 0, minor: 3, patch: 0 }, 4096), { board, version: '0.3.0', securityVersion: 1, secretKey: upd.key.secretKey });
  // publishRelease connects as client id `pp-release`: this announcer needs its own id, or the broker takes its session over
  const op = await mqtt.connectAsync(`mqtt://127.0.0.1:${c.brokerPort}`, { clientId: `${upd.user}-announce`, username: upd.user, password: upd.password, protocolVersion: 4, reconnectPeriod: 0 });
  const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms))]);
  const announce = (m: Uint8Array) => within(op.publishAsync(`pp/fw/${board}/manifest`, Buffer.from(m), { qos: 1, retain: true }), 10000, 'announce');
  const start = (onLine?: (l: string) => void) => FirmwareRun.start(c.sdk, c.so, { onLine: (l) => { if (verbose) console.log(`    | ${l}`); onLine?.(l); } });
  const cmd = (line: string) => fs.appendFileSync(path.join(flash, 'cmd'), `${line}\n`);
  const slotsOf = (l: string) => Number(/slots=(\d+)/.exec(l)?.[1] ?? 0);
  let r: FirmwareRun | undefined;
  try {
    fs.rmSync(flash, { recursive: true, force: true });
    fs.mkdirSync(flash);
    fs.writeFileSync(path.join(flash, 'modpreferences.json'), JSON.stringify(c.prefs));
    const data = new DirStorage(path.join(flash, 'pawpost'));
    new Roster(data).add({ id: 'mum', name: 'Mum', publicKey: c.phonePublic });
    saveNetworkSettings(data, { ssid: 'Home', passphrase: 'correct horse battery', brokerHost: 'localhost', brokerPort: 1 });
    // the release's chunks only (retained), so that the toy first boots with nothing announced (publishRelease would also
    // announce the manifest, and the toy's persistent session from the earlier boots would get it queued)
    const sha = new Uint8Array(createHash('sha256').update(image).digest());
    for (let o = 0, i = 0; o < image.length; o += UPDATE_CHUNK_BYTES, i++) {
      await within(op.publishAsync(chunkTopic(board, sha, i), Buffer.from(encodeChunk(o, image.subarray(o, o + UPDATE_CHUNK_BYTES))), { qos: 1, retain: true }), 10000, 'chunk');
    }

    // ---- first start: 0.1.0 (built in)
    r = await start();
    const first = r;
    const fw = await r.waitFor(/main\.firmware/, 20000);
    await r.waitFor(/mqtt\.state state=online/, 30000);
    await new Promise((res) => setTimeout(res, 1000));
    cmd('mem');
    const idle = await r.waitFor(/^mem cmd/, 10000);
    const loadedEarly = r.lines.some((l) => /update\.gate\.load/.test(l));
    // a manifest signed by a key the firmware does not trust: the gate loads the update modules, the client refuses it
    await announce(forged);
    const refusedSig = await r.waitFor(/update\.refused/, 30000);
    check('update: a manifest signed by another key is refused (SIGNATURE), nothing written', /code=SIGNATURE/.test(refusedSig) && /version=0\.1\.0/.test(fw) && !fs.existsSync(path.join(ota, 'slot-1.part')) && !fs.existsSync(path.join(ota, 'slot-1.bin')), `${fw}; ${refusedSig}`);
    const idleCount = r.lines.filter((l) => /^mem cmd/.test(l)).length;
    cmd('mem');
    const deadline = Date.now() + 10000;
    while (r.lines.filter((l) => /^mem cmd/.test(l)).length <= idleCount && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const loaded = r.lines.filter((l) => /^mem cmd/.test(l))[idleCount] ?? '';
    check('update: online with nothing newer announced, the update modules stay unloaded; a newer manifest loads them', !loadedEarly && r.lines.some((l) => /update\.gate\.load why=manifest/.test(l)), `idle ${slotsOf(idle)} slots, loaded ${slotsOf(loaded)} slots`);
    c.figures.updateIdleSlots = slotsOf(idle);
    c.figures.updateLoadedSlots = slotsOf(loaded);
    // the good manifest replaces the forged one: download, verify, write, switch, restart
    await announce(good);
    const ready = await r.waitFor(/update\.ready/, 90000);
    const exited = await r.waitExit(20000);
    const slot = path.join(ota, 'slot-1.bin');
    const written = fs.existsSync(slot) ? new Uint8Array(fs.readFileSync(slot)) : new Uint8Array(0);
    const otadata = fs.existsSync(path.join(ota, 'otadata')) ? fs.readFileSync(path.join(ota, 'otadata'), 'utf8') : '';
    check(`update: the signed ${image.length}-byte image is downloaded from retained chunks over TLS, hashed natively, written to the lin file slot and switched; the toy restarts`,
      !!ready && exited && Buffer.compare(Buffer.from(written), Buffer.from(image)) === 0 && /"boot":1/.test(otadata) && /"state":"new"/.test(otadata),
      `${written.length} bytes, otadata ${otadata}, exited ${first.exitCode}`);
    await r.stop();

    // ---- second start: slot 1 boots pending, confirms once online, then stores the security version
    const secver = path.join(flash, 'pawpost', 'upd.secver');
    const secverBefore = fs.existsSync(secver);
    r = await start();
    const fw2 = await r.waitFor(/main\.firmware/, 20000);
    const outcome = await r.waitFor(/update\.boot/, 60000);
    await new Promise((res) => setTimeout(res, 500));
    const stored = fs.existsSync(secver) ? Array.from(fs.readFileSync(secver)) : [];
    const otadata2 = fs.readFileSync(path.join(ota, 'otadata'), 'utf8');
    check('update: the next start runs 0.2.0 pending, reaches the broker, confirms; the security version (2) is stored only then',
      /version=0\.2\.0/.test(fw2) && /outcome=confirmed/.test(outcome) && !secverBefore && stored.join(',') === '0,0,0,2' && /"state":"valid"/.test(otadata2),
      `${fw2}; ${outcome}; secver ${stored.join(',')}; ${otadata2}`);
    // a correctly signed release with a lower security version
    const before = r.lines.length;
    await announce(older);
    const refusedOld = await r.waitFor(/update\.refused code=DOWNGRADE/, 30000).catch(() => r!.lines.slice(before).find((l) => /update\.refused/.test(l)) ?? 'no refusal');
    check('update: a correctly signed 0.3.0 with security version 1 (below the stored 2) is refused (DOWNGRADE), nothing written', /code=DOWNGRADE/.test(refusedOld) && !fs.existsSync(path.join(ota, 'slot-0.part')) && !fs.existsSync(path.join(ota, 'slot-0.bin')), refusedOld);
  } catch (e) {
    check('update checks', false, `${e instanceof Error ? e.message : String(e)}; last lines: ${r?.lines.slice(-6).join(' / ') ?? ''}`);
  } finally {
    await r?.stop();
    await op.endAsync(true);
    const aborted = r?.lines.find((l) => /XS abort|memory full|allocation: failed/.test(l));
    if (aborted) check('update: no abort in the runtime', false, aborted);
  }
}

void spawnSync;
await main();

// ---------------------------------------------------------------- issue 13: capture never waits (mic stalls)
/**
 * The recording scenario's `mic.stats` line (hal/moddable-mic.ts logs it at stop()):
 * the mic adapter's ring never overflowed (stalls 0) while the toy sealed and sent.
 */
function checkMicCapture(lines: string[], figures: Record<string, number | string>): void {
  const line = lines.find((l) => /mic\.stats/.test(l)) ?? '';
  const n = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(line)?.[1] ?? NaN);
  figures.micCaptured = n('captured');
  figures.micOverruns = n('overruns');
  figures.micStalls = n('stalls');
  check(`toy → parent: the mic adapter never stalled while recording (stalls ${n('stalls')}, overruns ${n('overruns')}, ${n('captured')} frames)`, line !== '' && n('stalls') === 0 && n('captured') > 100, line || 'no mic.stats line');
}

// ---------------------------------------------------------------- issue 13: playback into the speaker's slots (no underrun)
/**
 * The playback scenario's speaker line (hal/lin-speaker.ts traces it at stop():
 * frames, RMS, and the 20 ms drains that found its queue of `speakerSlots` (8)
 * empty after the first frame) and the pipeline's own underrun counter
 * (`play.finished`): decoding straight into the speaker's slots keeps it fed.
 */
function checkSpeakerPlayback(spoken: string, finished: string, figures: Record<string, number | string>): void {
  const n = (line: string, k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(line)?.[1] ?? NaN);
  figures.speakerFrames = n(spoken, 'frames');
  figures.speakerUnderruns = n(spoken, 'underruns');
  figures.pipelineUnderruns = n(finished, 'underruns');
  check(`parent → toy: decoded into the speaker's 8 slots without an underrun (speaker ${n(spoken, 'underruns')}, pipeline ${n(finished, 'underruns')}, ${n(spoken, 'frames')} frames)`,
    n(spoken, 'underruns') === 0 && n(finished, 'underruns') === 0 && n(spoken, 'frames') >= 100, `${spoken}; ${finished}`);
}
