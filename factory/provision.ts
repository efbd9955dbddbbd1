/**
 * `npm run provision -- <command> [options]`: the factory's provisioning command.
 *
 *   keygen    --dir <dir>                          create maker.key (0600) and maker.pub
 *   provision --out <dir> --count <N> --maker-key <file>
 *             [--broker-host <host>] [--broker-port <port>] [--broker-ca <ca.pem|ca.der>] [--relay-pub <relay.pub>] [--nvs-size <bytes>]
 *             [--batch <id>] [--png] [--plain] [--csv] [--no-progress] [--registry <file>]...
 *             [--manifest <manifest.json>] [--dev-batch]
 *   verify    --out <dir> [--maker-pub <file>] [--registry <earlier registry.jsonl>]... [--render]
 *
 * Exit status: 0 done, 1 verify found problems, 2 bad arguments or a typed error.
 * Nothing secret is ever printed. See docs/PROVISIONING.md.
 */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { makerKeygen, readMakerPublicKey, readMakerSecretKey } from './maker-key.js';
import { DEFAULT_NVS_SIZE, ProvisionError, provisionBatch } from './provision-batch.js';
import { verifyBatch } from './verify-batch.js';
import { parseRegistry } from './registry.js';
import { deviceInfoFrom, isReservedContact } from '../src/pairing-device-info.js';

export const USAGE = `PawPost factory provisioning

usage:
  npm run provision -- keygen --dir <dir>
  npm run provision -- provision --out <dir> --count <N> --maker-key <dir/maker.key>
                        [--broker-host <host>] [--broker-port <port>] [--broker-ca <ca.pem|ca.der>] [--relay-pub <relay.pub>] [--nvs-size <bytes>]
                        [--batch <id>] [--png] [--plain] [--csv] [--no-progress]
                        [--registry <earlier registry.jsonl>]... [--manifest <manifest.json>] [--dev-batch]
  npm run provision -- verify --out <dir> [--maker-pub <dir/maker.pub>] [--registry <earlier registry.jsonl>]...
                        [--render]

NVS images are encrypted (XTS-AES-256, ESP-IDF format) with a keys partition per toy
(nvs_keys.bin); --plain writes plain images for development boards, --csv also writes
the plain nvs.csv beside an encrypted image. --registry (repeatable) names earlier
batches' registries: new toys never reuse their check strings, and verify flags any repeat.
verify --render also renders every label to pixels (ink inside the margins, QR decodes).
The device information the toys will show (model, security contact, end of security
updates) is read from the firmware's manifest (--manifest, default the repository's
manifest.json, config.device): a security contact under a reserved or example name
(example.com/.net/.org, *.example, *.test, *.invalid, *.localhost, *.local, localhost,
pawpost.example) reaches no one, and provision refuses it unless --dev-batch says the
batch is for development only.

defaults: --broker-host mqtt.pawpost.example  --broker-port 8883  --nvs-size 0x${DEFAULT_NVS_SIZE.toString(16)}
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bar). */
  isTTY: boolean;
}

function intArg(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer`);
  return n;
}

class UsageError extends Error {
  readonly code = 'USAGE';
}

/** Runs the CLI with `argv` (without node and script). Returns the exit status. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    if (command === 'keygen') {
      const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' } }, strict: true });
      if (!values.dir) throw new UsageError('keygen needs --dir');
      const r = makerKeygen(values.dir);
      io.out(`maker key written: ${r.keyFile} (0600, keep it offline), ${r.pubFile}\n`);
      return 0;
    }
    if (command === 'provision') {
      const { values } = parseArgs({
        args: rest,
        options: {
          out: { type: 'string' }, count: { type: 'string' }, 'maker-key': { type: 'string' },
          'broker-host': { type: 'string' }, 'broker-port': { type: 'string' }, 'broker-ca': { type: 'string' }, 'relay-pub': { type: 'string' }, 'nvs-size': { type: 'string' },
          batch: { type: 'string' }, png: { type: 'boolean' }, plain: { type: 'boolean' }, csv: { type: 'boolean' }, 'no-progress': { type: 'boolean' },
          registry: { type: 'string', multiple: true }, manifest: { type: 'string' }, 'dev-batch': { type: 'boolean' },
        },
        strict: true,
      });
      if (!values.out || !values.count || !values['maker-key']) throw new UsageError('provision needs --out, --count and --maker-key');
      const maker = readMakerSecretKey(values['maker-key']);
      const knownChecks = new Set<string>();
      for (const f of values.registry ?? []) {
        let text: string;
        try {
          text = fs.readFileSync(f, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read --registry ${f}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        for (const e of parseRegistry(text)) knownChecks.add(e.check);
      }
      const count = intArg(values.count, 'count', 0);
      const device = checkDeviceInfo(values.manifest ?? DEFAULT_MANIFEST, values['dev-batch'] ?? false);
      if (device.reserved) io.err(`provision: development batch: the security contact is a reserved name (${device.host}); never ship these toys\n`);
      let bar: cliProgress.SingleBar | undefined;
      if (io.isTTY && !values['no-progress'] && count > 1) {
        bar = new cliProgress.SingleBar({ format: 'provisioning [{bar}] {value}/{total} toys {eta}s left', stream: process.stderr }, cliProgress.Presets.shades_classic);
        bar.start(count, 0);
      }
      try {
        const summary = await provisionBatch({
          outDir: values.out,
          count,
          maker,
          mqttHost: values['broker-host'] ?? 'mqtt.pawpost.example',
          mqttPort: intArg(values['broker-port'], 'broker-port', 8883),
          mqttCa: values['broker-ca'] ? readCertificateDer(values['broker-ca']) : undefined,
          relayPublicKey: values['relay-pub'] ? readRelayPublicKey(values['relay-pub']) : undefined,
          nvsSize: intArg(values['nvs-size'], 'nvs-size', DEFAULT_NVS_SIZE),
          batchId: values.batch,
          png: values.png ?? false,
          plain: values.plain ?? false,
          csv: values.csv ?? false,
          knownChecks,
          onProgress: bar ? (done) => bar!.update(done) : undefined,
        });
        bar?.stop();
        io.out(`batch ${summary.batchId}: ${summary.toys.length} toys in ${summary.outDir}\n`);
      } catch (e) {
        bar?.stop();
        throw e;
      }
      return 0;
    }
    if (command === 'verify') {
      const { values } = parseArgs({ args: rest, options: { out: { type: 'string' }, 'maker-pub': { type: 'string' }, registry: { type: 'string', multiple: true }, render: { type: 'boolean' } }, strict: true });
      if (!values.out) throw new UsageError('verify needs --out');
      const makerPublicKey = values['maker-pub'] ? readMakerPublicKey(values['maker-pub']) : undefined;
      const priorRegistries: [string, string][] = [];
      for (const f of values.registry ?? []) {
        try {
          priorRegistries.push([f, fs.readFileSync(f, 'utf8')]);
        } catch (e) {
          throw new UsageError(`cannot read --registry ${f}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
        }
      }
      const report = verifyBatch(path.resolve(values.out), { makerPublicKey, priorRegistries, render: values.render ?? false });
      for (const p of report.problems) io.err(`problem: ${p}\n`);
      io.out(`${report.toys} toys checked, ${report.problems.length} problems\n`);
      return report.problems.length ? 1 : 0;
    }
    throw new UsageError(`unknown command "${command.slice(0, 20)}"`);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof UsageError || (e as Error).name === 'TypeError' && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`provision: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`provision: error ${typeof code === 'string' ? code : 'INTERNAL'}: ${(e as Error).message}\n`);
    return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runCli(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    isTTY: Boolean(process.stderr.isTTY),
  });
}

/** The repository's firmware manifest (its config.device is what the toys show over BLE). */
export const DEFAULT_MANIFEST = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'manifest.json');

/**
 * Reads and checks the device information of the firmware the batch will run
 * (issue 11; src/pairing-device-info.ts): model, security contact and end of
 * security updates must be valid (ProvisionError ARGS naming the field), and a
 * reserved or example security contact is refused (ProvisionError CONTACT) unless
 * `devBatch`. Returns whether it was reserved and its host (no secret is involved).
 */
export function checkDeviceInfo(manifestFile: string, devBatch: boolean): { reserved: boolean; host: string } {
  let cfg: { config?: { device?: unknown; firmwareVersion?: string } };
  try {
    cfg = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as typeof cfg;
  } catch {
    throw new ProvisionError('ARGS', `cannot read the firmware manifest ${manifestFile}`);
  }
  let info;
  try {
    info = deviceInfoFrom(cfg.config?.device, cfg.config?.firmwareVersion ?? '0.0.0');
  } catch (e) {
    throw new ProvisionError('ARGS', `device information in ${path.basename(manifestFile)} (config.device): ${(e as Error).message}`);
  }
  const host = contactHost(info.securityContact);
  const reserved = isReservedContact(info.securityContact); // pawpost.example is under the reserved .example
  if (reserved && !devBatch) {
    throw new ProvisionError('CONTACT', `the security contact in ${path.basename(manifestFile)} (config.device.securityContact) is a reserved or example name (${host || 'no host'}) that reaches no one; set a real contact, or pass --dev-batch for a development batch`);
  }
  return { reserved, host };
}

function contactHost(contact: string): string {
  const c = contact.trim().toLowerCase();
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#:]*)/.exec(c);
  if (m) return m[1]!.replace(/^.*@/, '');
  return c.includes('@') ? c.slice(c.lastIndexOf('@') + 1) : '';
}

/** A CA certificate file (PEM or DER) as DER bytes; a bad file is a ProvisionError('ARGS'). */
function readCertificateDer(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch {
    throw new ProvisionError('ARGS', `cannot read the broker CA file ${file}`);
  }
  const text = raw.toString('latin1');
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(text);
  return new Uint8Array(m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : raw);
}

/** The relay's X25519 public key file (`npm run relay -- init` writes relay.pub: `PAWPOST-RELAY-PUBLIC-V1 <64 hex>`; 64 hex characters or 32 raw bytes are taken too). */
function readRelayPublicKey(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch {
    throw new ProvisionError('ARGS', `cannot read the relay public key file ${file}`);
  }
  const text = raw.toString('latin1').trim().replace(/^PAWPOST-RELAY-PUBLIC-V1\s+/, '');
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (raw.length === 32) return new Uint8Array(raw);
  throw new ProvisionError('ARGS', 'the relay public key file must hold 32 bytes (64 hex characters)');
}
