/**
 * `npm run parent -- <command>`: the family's side of PawPost on the command line
 * (docs/USER-GUIDE.md "From the command line"). Keys, the pairing and the sealed
 * message history live in the data directory (--data, default .parent-data). It
 * pairs over the simulator's radio endpoint (sim/radio-endpoint.ts; a host has no
 * Bluetooth to a simulated toy) and talks MQTT to the relay (the simulator's
 * embedded broker or mosquitto). Every command that talks to the relay first
 * collects what the toy sent while the command line was away.
 *
 * Errors are one line on stderr (`parent: ...`), never a stack; exit 2 for bad
 * arguments, 1 for a failure, 0 for success. `main()` is exported for tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { naclCrypto } from '../src/nacl-crypto.js';
import { PairingError } from '../src/pairing-protocol.js';
import { SetupCodeError } from '../src/setup-code.js';
import { EnvelopeError } from '../src/envelope-format.js';
import { DirStorage } from '../sim/dir-storage.js';
import { pairingErrorInWords } from '../sim/sim-words.js';
import { OpusCodecHost } from '../sim/opus-codec-host.js';
import { formatWav } from '../sim/wav-file.js';
import { FRAME_SAMPLES, SAMPLE_RATE_HZ } from '../hal/ports.js';
import { AudioImportError } from '../phone/audio-import.js';
import { packetsFromAudioBytes, type FilePackets } from '../sim/audio-file-packets.js';
import { HistoryError, type HistoryRecord } from '../phone/message-history.js';
import { OggError } from '../phone/ogg-opus.js';
import { ParentError, ParentPhone } from '../phone/parent-phone.js';
import type { FamilySettings } from '../phone/phone-family.js';
import { applySettingsInput, SettingsInputError, settingsInWords } from '../phone/settings-input.js';
import { DirFiles, enrollAtRelay, HttpRadio, LinkError, MqttRelay, readRelayPublicKey, simRelayAccount } from './parent-node.js';

export const USAGE = `PawPost parent command line: the family's side of the toy.

usage: npm run parent -- [options] <command> [arguments]

commands:
  pair <setup-code> --name NAME   pair this phone with the toy (hold the paw 3 s first: the heart blinks blue;
                                  a second phone: paw and heart 3 s). The setup code is the label's QR text.
        [--toy-name NAME]         what the toy's messages are shown as coming from (default "the toy")
        [--wifi SSID --wifi-pass PASS]  the home network for the toy (the first phone must give it)
        [--relay URL --relay-pub FILE [--relay-ca PEM]]  enroll at a real relay's enrollment service
                                  (default: the simulator's stand-in behind --radio)
  enroll --relay URL --relay-pub FILE [--relay-ca PEM]  enroll this (paired) phone at the relay again
  send <file.wav|file.ogg|file.opus>  send a message to the toy (WAV at any rate, or Ogg Opus of 20 ms packets; max 60 s);
                                  until the toy has connected to the relay once, it waits on this phone and the next
                                  command that talks to the relay sends it (so do settings)
  list                            messages to and from the toy, newest first
  get <id> --ogg OUT.opus         save a message as an Ogg Opus file (plays in any player; id: 4+ digits from list)
  get <id> --wav OUT.wav          save a message as a 16 kHz WAV file
  remove <member-id>              remove another family member from the toy (hold paw and heart 3 s first)
  status                          the pairing, this phone's member id and account, the toy online, message counts
  settings [--quiet HH:MM-HH:MM|off] [--volume 1..100] [--utc-offset MIN]
                                  family settings the toy enforces (sealed; the last ones sent are kept here):
                                  quiet hours (no glow, nothing plays; messages wait) and a volume limit

options:
  --data DIR        where the keys and messages are kept (default .parent-data; keep it private)
  --broker URL      the relay, mqtt://host:port (default: the one given at pairing, else mqtt://127.0.0.1:18830)
  --radio URL       the simulator's radio endpoint (default http://127.0.0.1:18831, printed by npm start)
  --wait MS         how long to wait for more of the toy's messages when collecting (default 1500)
  --help            this text
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

class UsageError extends Error {}

interface Args {
  command: string | undefined;
  positional: string[];
  opts: Map<string, string | true>;
}

const VALUE_OPTS = new Set(['quiet', 'volume', 'utc-offset', 'data', 'broker', 'radio', 'wait', 'name', 'toy-name', 'wifi', 'wifi-pass', 'ogg', 'wav', 'relay', 'relay-pub', 'relay-ca']);
const FLAG_OPTS = new Set(['help']);

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const opts = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') {
      opts.set('help', true);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (FLAG_OPTS.has(key)) {
        opts.set(key, true);
        continue;
      }
      if (!VALUE_OPTS.has(key)) throw new UsageError(`unknown option --${key} (see --help)`);
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`--${key} needs a value`);
      opts.set(key, v);
      continue;
    }
    positional.push(a);
  }
  return { command: positional.shift(), positional, opts };
}

function opt(a: Args, k: string): string | undefined {
  const v = a.opts.get(k);
  return typeof v === 'string' ? v : undefined;
}

function want(a: Args, n: number, what: string): void {
  if (a.positional.length !== n) throw new UsageError(`${a.command} takes ${what} (see --help)`);
}

function brokerUrl(a: Args, phone: ParentPhone): string {
  const u = opt(a, 'broker') ?? phone.paired?.brokerUrl ?? 'mqtt://127.0.0.1:18830';
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new UsageError(`--broker ${u}: not a URL (mqtt://host:port)`);
  }
  if (!['mqtt:', 'mqtts:'].includes(url.protocol) || !url.hostname) throw new UsageError(`--broker ${u}: use mqtt://host:port or mqtts://host:port`);
  const port = Number(url.port || (url.protocol === 'mqtts:' ? 8883 : 1883));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--broker ${u}: bad port`);
  return u;
}

function radioUrl(a: Args): string {
  const u = opt(a, 'radio') ?? 'http://127.0.0.1:18831';
  try {
    const url = new URL(u);
    if (url.protocol !== 'http:') throw new Error();
  } catch {
    throw new UsageError(`--radio ${u}: use http://127.0.0.1:PORT (the simulator prints it)`);
  }
  return u;
}

/** --relay / --relay-pub / --relay-ca, checked together; undefined when --relay is absent and not required. */
function relayOpts(a: Args, required: boolean): { url: string; key: Uint8Array; ca?: string } | undefined {
  const url = opt(a, 'relay');
  const pub = opt(a, 'relay-pub');
  if (url === undefined && pub === undefined && !required) return undefined;
  if (url === undefined || pub === undefined) throw new UsageError('--relay URL and --relay-pub FILE go together');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--relay ${url}: use https://host:port (the relay's enrollment service)`);
  }
  return { url, key: readRelayPublicKey(pub), ca: opt(a, 'relay-ca') };
}

function waitMs(a: Args): number {
  const v = opt(a, 'wait') ?? '1500';
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 600_000) throw new UsageError(`--wait ${v}: a number of milliseconds (0..600000)`);
  return n;
}

const stateWords: Record<string, Record<string, string>> = {
  received: { sending: 'arriving', queued: 'new', delivered: 'new', heard: 'heard' },
  sent: { sending: 'waiting on this phone', queued: 'queued at the relay', delivered: 'delivered', heard: 'heard' },
};

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

function line(r: HistoryRecord): string {
  const who = r.direction === 'received' ? `from ${r.name}` : `to the toy (${r.name})`;
  return `${r.id.slice(0, 8)}  ${when(r.at)}  ${(r.durationMs / 1000).toFixed(1).padStart(5)} s  ${who.padEnd(24)}  ${stateWords[r.direction]![r.state]}`;
}

/** Connects to the relay and collects what the toy sent; the caller closes the relay. */
async function collect(a: Args, phone: ParentPhone, io: CliIo): Promise<MqttRelay> {
  const p = phone.paired!;
  const before = phone.counters.get('parent.received'); // what waited at the relay comes right after CONNACK
  const relay = await MqttRelay.connect(brokerUrl(a, phone), p.brokerUser, p.brokerPassword, phone, phone.topics().out);
  await relay.sync(phone.topics().out, waitMs(a));
  const got = phone.counters.get('parent.received') - before;
  if (got > 0) io.out(`${got} new message(s) from ${p.toyName}`);
  if (phone.arriving > 0) io.out(`${phone.arriving} message(s) still arriving (kept; run list again)`);
  for (const n of relay.notices) io.out(`family: ${n.name ? `"${n.name}" (${n.id})` : n.id} was ${n.change === 'added' ? 'added to' : 'removed from'} the toy${n.timeMs ? ` at ${when(n.timeMs)}` : ''}`);
  if (toyReady(phone, relay)) {
    try {
      const w = await phone.sendWaiting(relay);
      if (w.messages.length > 0) io.out(`sent ${w.messages.length} message(s) that waited on this phone (${w.messages.map((m) => m.id.slice(0, 8)).join(', ')}): queued at the relay for the toy`);
      if (w.settings) io.out('sent the settings that waited on this phone to the toy');
    } catch (e) {
      io.out(`could not send what waits on this phone (kept for the next run): ${e instanceof Error ? e.message.split('\n')[0] : 'error'}`);
    }
  } else {
    const n = phone.history.list().records.filter((r) => r.direction === 'sent' && r.state === 'sending').length;
    if (n > 0 || phone.settingsPending) io.out(`${n} message(s)${phone.settingsPending ? ' and the settings' : ''} wait on this phone: ${NOT_SEEN}`);
  }
  return relay;
}

const NOT_SEEN = 'the toy has not connected to the relay yet (the relay would drop what is sent before that); they go with the next command once the toy has been online';

/**
 * Whether what is sent to the toy now waits at the relay: the phone has seen the toy's
 * status record (the toy sends it once the relay queues for it), or the relay does not
 * let this phone read the status topic (a role made before it: nothing to wait for).
 */
function toyReady(phone: ParentPhone, relay: MqttRelay): boolean {
  return phone.toySeen || !relay.statusReadable;
}

function openPhone(a: Args): ParentPhone {
  const dir = opt(a, 'data') ?? '.parent-data';
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.R_OK);
  } catch {
    throw new ParentError('STORE', `cannot use the data directory ${dir} (not writable)`);
  }
  return new ParentPhone({
    storage: new DirStorage(dir),
    files: new DirFiles(path.join(dir, 'messages')),
    crypto: naclCrypto,
    random: { fill: (b: Uint8Array) => void b.set(randomBytes(b.length)) },
    clock: { wallNow: () => Date.now() },
  });
}

function requirePaired(phone: ParentPhone): void {
  if (!phone.paired) throw new ParentError('NOT_PAIRED', 'this phone is not paired with a toy yet: run pair first (see --help)');
}

function readInput(file: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ParentError('BAD_INPUT', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : 'read error'}`);
  }
}

function writeOutput(file: string, bytes: Uint8Array): void {
  try {
    fs.writeFileSync(file, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ParentError('BAD_INPUT', `cannot write ${file}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : 'write error'}`);
  }
}

/** Opus packets for the toy from a WAV or Ogg Opus file (by its first bytes, not its name). */
function packetsFromFile(file: string): FilePackets {
  return packetsFromAudioBytes(readInput(file)); // AudioImportError: "cannot use this audio (FORMAT): ..."
}

async function run(a: Args, io: CliIo): Promise<void> {
  const phone = openPhone(a);
  switch (a.command) {
    case 'pair': {
      want(a, 1, 'the setup code (the text of the label\'s QR code)');
      const name = opt(a, 'name');
      if (!name) throw new UsageError('pair needs --name NAME (how the toy lists this family member)');
      const wifi = opt(a, 'wifi');
      const pass = opt(a, 'wifi-pass');
      if ((wifi === undefined) !== (pass === undefined)) throw new UsageError('--wifi and --wifi-pass go together');
      const bu = new URL(brokerUrl(a, phone));
      const radio = radioUrl(a);
      const relay = relayOpts(a, false);
      let link: HttpRadio | undefined;
      let paired;
      try {
        paired = await phone.pair(async () => (link = await HttpRadio.connect(radio)), {
          setupCode: a.positional[0]!,
          name,
          toyName: opt(a, 'toy-name'),
          brokerUrl: bu.href.replace(/\/$/, ''),
          network: wifi !== undefined ? { ssid: wifi, passphrase: pass!, brokerHost: bu.hostname, brokerPort: Number(bu.port || 1883) } : undefined,
        });
      } finally {
        await link?.close(); // a failed try too: the toy advertises again at once for the next one
      }
      const { record, result } = paired;
      io.out(`paired with ${result.info.model} ${result.info.firmware} (toy ${record.toyId.slice(0, 8)}…), ${result.members} family member(s); this phone is member ${record.memberId} "${record.name}"`);
      // the phone's relay account: the relay's enrollment service, or the simulator's stand-in for it
      if (relay) await enrollAtRelay(phone, relay.url, relay.key, relay.ca);
      else await simRelayAccount(radio, record.brokerUser, record.brokerPassword, record.toyId);
      const mq = await MqttRelay.connect(record.brokerUrl, record.brokerUser, record.brokerPassword, phone, phone.topics().out);
      await mq.sync(phone.topics().out, 200); // subscribes the persistent session: the toy's messages now wait for this phone
      await mq.close();
      io.out(`enrolled at the relay ${record.brokerUrl} as ${record.brokerUser}`);
      if (!wifi && result.members <= 1) io.out('note: this is the toy\'s first phone and no --wifi was given: the toy has no network settings yet');
      return;
    }
    case 'enroll': {
      want(a, 0, 'no arguments, and --relay URL --relay-pub FILE');
      const relay = relayOpts(a, true)!;
      requirePaired(phone);
      const user = await enrollAtRelay(phone, relay.url, relay.key, relay.ca);
      const p = phone.paired!;
      const mq = await MqttRelay.connect(brokerUrl(a, phone), p.brokerUser, p.brokerPassword, phone, phone.topics().out);
      await mq.sync(phone.topics().out, 200);
      await mq.close();
      io.out(`enrolled at the relay ${brokerUrl(a, phone)} as ${user}`);
      return;
    }
    case 'send': {
      want(a, 1, 'one file (WAV or Ogg Opus)');
      requirePaired(phone);
      const { packets, note } = packetsFromFile(a.positional[0]!);
      const relay = await collect(a, phone, io);
      try {
        const ready = toyReady(phone, relay);
        const r = await phone.send(packets, ready ? relay : undefined);
        const what = `${r.id.slice(0, 8)}: ${(r.durationMs / 1000).toFixed(1)} s (${note}), ${r.chunks.length} sealed chunks`;
        io.out(ready ? `sent ${what}, queued at the relay for the toy` : `kept ${what}, waiting on this phone: ${NOT_SEEN.replace('they go', 'it goes')}`);
      } finally {
        await relay.close();
      }
      return;
    }
    case 'settings': {
      want(a, 0, 'options only (--quiet, --volume, --utc-offset)');
      requirePaired(phone);
      // the same parser as the simulator's page (phone/settings-input.ts): the same input sends the same settings
      const quiet = opt(a, 'quiet');
      const volume = opt(a, 'volume');
      const offset = opt(a, 'utc-offset');
      let next: FamilySettings;
      try {
        next = applySettingsInput(phone.lastSettings(), { quiet, volume, utcOffsetMin: offset ?? -new Date().getTimezoneOffset() });
      } catch (e) {
        if (e instanceof SettingsInputError) throw new UsageError(`--${e.code === 'QUIET' ? 'quiet' : e.code === 'VOLUME' ? 'volume' : 'utc-offset'}: ${e.message}`);
        throw e;
      }
      const note = phone.sealSettings(next);
      const relay = await collect(a, phone, io);
      let ready: boolean;
      try {
        ready = toyReady(phone, relay);
        if (ready) await relay.publish(phone.topics().set, note);
      } finally {
        await relay.close();
      }
      phone.keepSettings(next, !ready);
      const words = settingsInWords(next);
      io.out(ready ? `settings sent to the toy: ${words}` : `settings kept on this phone: ${words}; ${NOT_SEEN.replace('they go', 'they go to the toy')}`);
      return;
    }
    case 'list': {
      want(a, 0, 'no arguments');
      requirePaired(phone);
      const relay = await collect(a, phone, io);
      await relay.close();
      const l = phone.history.list();
      if (l.records.length === 0) io.out('no messages yet');
      for (const r of l.records) io.out(line(r));
      if (l.corrupt.length > 0) io.out(`${l.corrupt.length} damaged message file(s) skipped: ${l.corrupt.join(', ')}`);
      return;
    }
    case 'get': {
      want(a, 1, 'a message id (from list)');
      const ogg = opt(a, 'ogg');
      const wav = opt(a, 'wav');
      if (!ogg === !wav) throw new UsageError('get needs --ogg OUT.opus or --wav OUT.wav');
      requirePaired(phone);
      if (ogg) {
        const { record, ogg: bytes } = phone.exportOgg(a.positional[0]!);
        writeOutput(ogg, bytes);
        io.out(`saved ${record.id.slice(0, 8)} (${(record.durationMs / 1000).toFixed(1)} s) to ${ogg}`);
      } else {
        const { record, packets } = phone.history.open(a.positional[0]!);
        const codec = new OpusCodecHost();
        const pcm = new Int16Array(packets.length * FRAME_SAMPLES);
        const frame = new Int16Array(FRAME_SAMPLES);
        try {
          packets.forEach((p, i) => {
            codec.decode(p, p.length, frame);
            pcm.set(frame, i * FRAME_SAMPLES);
          });
        } finally {
          codec.close();
        }
        writeOutput(wav!, formatWav(pcm, SAMPLE_RATE_HZ));
        if (record.direction === 'received') phone.setState(record.id, 'heard');
        io.out(`saved ${record.id.slice(0, 8)} (${(record.durationMs / 1000).toFixed(1)} s) to ${wav}`);
      }
      return;
    }
    case 'remove': {
      want(a, 1, 'the member id to remove');
      requirePaired(phone);
      const radio = radioUrl(a);
      let link: HttpRadio | undefined;
      let r;
      try {
        r = await phone.removeMember(async () => (link = await HttpRadio.connect(radio)), a.positional[0]!);
      } finally {
        await link?.close();
      }
      io.out(`removed member ${a.positional[0]} from the toy; ${r.members} family member(s) were on it before`);
      return;
    }
    case 'status': {
      want(a, 0, 'no arguments');
      const p = phone.paired;
      if (!p) {
        io.out('not paired: run pair <setup-code> --name NAME');
        return;
      }
      io.out(`toy ${p.toyId} ("${p.toyName}"), paired ${when(p.pairedAt)}`);
      io.out(`this phone: member ${p.memberId} "${p.name}", relay account ${p.brokerUser} at ${brokerUrl(a, phone)}`);
      let online = 'relay reachable';
      try {
        const relay = await collect(a, phone, io);
        const st = relay.status;
        online += st ? `; the toy is ${st.online ? `online${st.sinceMs ? ` since ${when(st.sinceMs)}` : ''}` : `offline${st.sinceMs ? ` (its last session began ${when(st.sinceMs)})` : ''}`}` : '; the toy has not reported its state yet';
        await relay.close();
      } catch (e) {
        online = `relay NOT reachable: ${e instanceof Error ? e.message : 'error'}`;
      }
      io.out(online);
      const l = phone.history.list();
      const rx = l.records.filter((r) => r.direction === 'received');
      const tx = l.records.filter((r) => r.direction === 'sent');
      io.out(`messages: ${rx.length} from the toy (${rx.filter((r) => r.state !== 'heard').length} new), ${tx.length} sent (${tx.filter((r) => r.state === 'sending').length} waiting on this phone)`);
      if (l.corrupt.length) io.out(`damaged message files: ${l.corrupt.length}`);
      return;
    }
    default:
      throw new UsageError(a.command ? `unknown command ${a.command} (see --help)` : 'no command (see --help)');
  }
}

/** One-line text for an error a parent can act on. */
export function describe(e: unknown): string {
  // the same words as the simulator's page (sim/sim-words.ts), e.g. "wrong code", "locked for N minute(s)", "old label"
  if (e instanceof PairingError) return `pairing failed: ${pairingErrorInWords(e)}`;
  if (e instanceof SetupCodeError) return `bad setup code: ${e.message}`;
  if (e instanceof OggError) return `not a usable Ogg Opus file (${e.code}): ${e.message}`;
  if (e instanceof AudioImportError) return `cannot use this audio (${e.code}): ${e.message}`;
  if (e instanceof HistoryError) return `${e.message}${e.code === 'CORRUPT' ? ' (the file is damaged; other messages are fine)' : ''}`;
  if (e instanceof EnvelopeError) return `message error (${e.code})`;
  if (e instanceof ParentError || e instanceof LinkError || e instanceof UsageError) return e.message;
  return `unexpected error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[], io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(argv);
  } catch (e) {
    io.err(`parent: ${describe(e)}`);
    return 2;
  }
  if (a.opts.has('help') || a.command === 'help') {
    io.out(USAGE);
    return 0;
  }
  try {
    await run(a, io);
    return 0;
  } catch (e) {
    io.err(`parent: ${describe(e)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
