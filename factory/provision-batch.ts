/**
 * Provisioning of one batch of toys (the library behind `npm run provision`).
 *
 * For each toy: a random toy id (16 bytes from node:crypto, not derived from
 * any serial number), an X25519 key pair (tweetnacl), a 16-byte setup secret,
 * an MQTT password (24 random bytes, base64url) and the maker's Ed25519
 * signature over makerSignedMessage(toy id, public key). Output layout (see
 * docs/PROVISIONING.md):
 *
 *   <out>/batch.json            batch id, count, maker public key, NVS size, tool version
 *   <out>/registry.jsonl        one public RegistryEntry per toy (the company keeps this)
 *   <out>/mosquitto.passwd      the broker's password file lines (hashes only)
 *   <out>/audit.log             one line per toy, no secret
 *   <out>/<toyId>/nvs.bin       the NVS partition image to flash, XTS-AES encrypted (SECRET, 0600)
 *   <out>/<toyId>/nvs_keys.bin  this toy's nvs_keys partition image (4096 bytes, SECRET, 0600)
 *   <out>/<toyId>/nvs.csv       with csv: true (or plain: true), nvs_partition_gen.py input (SECRET, 0600)
 *   <out>/<toyId>/label.svg     the label: QR with the setup code, toy id, check string (SECRET until printed)
 *   <out>/<toyId>/label.txt     the same as text
 *   <out>/<toyId>/label.png     with png: true, the QR as PNG
 *
 * NVS encryption (factory/nvs-encryption.ts, ESP-IDF's format) is on unless
 * `plain: true` (development boards without flash encryption): each toy gets
 * its own 64 random key bytes, so the keys of one toy open no other toy's
 * image. With `plain: true`, nvs.bin is the plain image, no nvs_keys.bin is
 * written, and nvs.csv is written as before.
 *
 * The output directory must not exist or be empty (EXISTS); no file is ever
 * overwritten (files are opened with O_EXCL).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IDENTITY_KEYS as K, IDENTITY_NAMESPACE, IDENTITY_VERSION, makerSignedMessage, toyCheckString, toyIdFromBytes } from '../src/identity.js';
import { ed25519Signer, nodeCrypto, x25519PublicKey, type Ed25519Signer } from './node-crypto.js';
import { formatNvsCsv } from './nvs-csv.js';
import { buildNvsImage, NVS_PAGE_SIZE, type NvsItem } from './nvs-image.js';
import { encryptNvsImage, formatNvsKeysPartition, generateNvsKeys } from './nvs-encryption.js';
import { mosquittoPasswdLine } from './mosquitto-passwd.js';
import { labelPng, makeLabel } from './label.js';
import { formatRegistryEntry, type RegistryEntry } from './registry.js';
import type { MakerKey } from './maker-key.js';

export const TOOL_VERSION = 'pawpost-provision 1';
/** Default NVS partition size: Moddable's ESP32 partition table gives nvs 0x6000 bytes at 0x9000. */
export const DEFAULT_NVS_SIZE = 0x6000;
/** Files every toy directory of a plain batch holds (label.png only with png). */
export const TOY_FILES = ['nvs.csv', 'nvs.bin', 'label.svg', 'label.txt'] as const;
/** Files every toy directory of an encrypted batch holds (nvs.csv only with csv, label.png only with png). */
export const ENCRYPTED_TOY_FILES = ['nvs.bin', 'nvs_keys.bin', 'label.svg', 'label.txt'] as const;
/** batch.json `nvsEncryption` of an encrypted batch. */
export const NVS_ENCRYPTION_SCHEME = 'xts-aes-256, per-toy keys, nvs_keys partition';
export const MAX_BATCH = 100000;

export type ProvisionErrorCode = 'EXISTS' | 'ARGS' | 'IO' | 'COLLISION' | 'CONTACT';

export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
  readonly code: ProvisionErrorCode;
  constructor(code: ProvisionErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ProvisionOptions {
  outDir: string;
  count: number;
  maker: MakerKey;
  mqttHost: string;
  mqttPort: number;
  /** DER certificate of the CA the broker's TLS certificate chains to (NVS `mqtt_ca`); absent: the SDK's CA list. */
  mqttCa?: Uint8Array;
  /** The relay's X25519 public key (NVS `relay_pk`): the toy then enrolls its phones at the relay. */
  relayPublicKey?: Uint8Array;
  /** NVS partition size in bytes (default DEFAULT_NVS_SIZE). */
  nvsSize?: number;
  /** Also write label.png (slower). */
  png?: boolean;
  /** Write plain NVS images and no keys (development boards only). Default false: encrypted. */
  plain?: boolean;
  /** Also write nvs.csv beside an encrypted image (it holds the secrets in clear). Always written when plain. */
  csv?: boolean;
  /** Batch id (default: UTC timestamp + 4 random hex). */
  batchId?: string;
  /** Random bytes source (default node:crypto randomBytes). Tests only. */
  random?: (n: number) => Uint8Array;
  now?: () => Date;
  /** Check strings already in use (earlier batches' registries); a new toy never gets one of them. */
  knownChecks?: ReadonlySet<string>;
  /** Called after each toy with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface ProvisionedToy {
  toyId: string;
  check: string;
  dir: string;
}

export interface ProvisionSummary {
  batchId: string;
  outDir: string;
  toys: ProvisionedToy[];
}

/** One toy's generated material. Holds secrets: never log it. */
export interface ToyMaterial {
  toyIdBytes: Uint8Array;
  toyId: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  setupSecret: Uint8Array;
  mqttPassword: string;
  makerSignature: Uint8Array;
  check: string;
}

/**
 * Generates one toy's identity and secrets: X25519 as nacl.box.keyPair.fromSecretKey,
 * Ed25519 as nacl.sign.detached, computed natively (factory/node-crypto.ts).
 */
export function generateToy(maker: Ed25519Signer, random: (n: number) => Uint8Array = randomBytes): ToyMaterial {
  const toyIdBytes = new Uint8Array(random(16));
  const secretKey = new Uint8Array(random(32));
  const publicKey = x25519PublicKey(secretKey);
  const setupSecret = new Uint8Array(random(16));
  const mqttPassword = Buffer.from(random(24)).toString('base64url');
  const makerSignature = maker.sign(makerSignedMessage(toyIdBytes, publicKey));
  return {
    toyIdBytes,
    toyId: toyIdFromBytes(toyIdBytes),
    secretKey,
    publicKey,
    setupSecret,
    mqttPassword,
    makerSignature,
    check: toyCheckString(nodeCrypto, toyIdBytes, publicKey),
  };
}

/** The NVS items of one toy, in the documented order (id_done last). */
export function toyNvsItems(t: ToyMaterial, mqttHost: string, mqttPort: number, mqttCa?: Uint8Array, relayPublicKey?: Uint8Array): NvsItem[] {
  const ns = IDENTITY_NAMESPACE;
  const ca: NvsItem[] = mqttCa ? [{ namespace: ns, key: K.mqttCa, type: 'blob', value: mqttCa }] : [];
  if (relayPublicKey) ca.push({ namespace: ns, key: K.relayPublicKey, type: 'blob', value: relayPublicKey });
  return [
    { namespace: ns, key: K.version, type: 'i32', value: IDENTITY_VERSION },
    { namespace: ns, key: K.toyId, type: 'string', value: t.toyId },
    { namespace: ns, key: K.boxSecretKey, type: 'blob', value: t.secretKey },
    { namespace: ns, key: K.boxPublicKey, type: 'blob', value: t.publicKey },
    { namespace: ns, key: K.setupSecret, type: 'blob', value: t.setupSecret },
    { namespace: ns, key: K.mqttUser, type: 'string', value: t.toyId },
    { namespace: ns, key: K.mqttPassword, type: 'string', value: t.mqttPassword },
    { namespace: ns, key: K.mqttHost, type: 'string', value: mqttHost },
    { namespace: ns, key: K.mqttPort, type: 'i32', value: mqttPort },
    { namespace: ns, key: K.makerSignature, type: 'blob', value: t.makerSignature },
    ...ca,
    { namespace: ns, key: K.done, type: 'u8', value: 1 },
  ];
}

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

function checkOptions(o: ProvisionOptions): void {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_BATCH) throw new ProvisionError('ARGS', `count must be 1..${MAX_BATCH}`);
  if (!HOST_RE.test(o.mqttHost) || o.mqttHost.length > 253) throw new ProvisionError('ARGS', 'broker host must be a host name');
  if (!Number.isInteger(o.mqttPort) || o.mqttPort < 1 || o.mqttPort > 65535) throw new ProvisionError('ARGS', 'broker port must be 1..65535');
  if (o.mqttCa !== undefined && (!(o.mqttCa instanceof Uint8Array) || o.mqttCa.length < 64 || o.mqttCa.length > 2048 || o.mqttCa[0] !== 0x30)) {
    throw new ProvisionError('ARGS', 'broker CA must be a DER certificate of 64..2048 bytes');
  }
  if (o.relayPublicKey !== undefined && (!(o.relayPublicKey instanceof Uint8Array) || o.relayPublicKey.length !== 32)) {
    throw new ProvisionError('ARGS', 'the relay public key must be 32 bytes');
  }
  const size = o.nvsSize ?? DEFAULT_NVS_SIZE;
  if (!Number.isInteger(size) || size % NVS_PAGE_SIZE !== 0 || size < 0x3000) throw new ProvisionError('ARGS', 'NVS size must be a multiple of 4096, at least 0x3000');
  if (o.batchId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(o.batchId)) throw new ProvisionError('ARGS', 'batch id must be 1..64 of [A-Za-z0-9._-]');
}

function writeNew(file: string, data: string | Uint8Array, mode: number): void {
  try {
    fs.writeFileSync(file, data, { flag: 'wx', mode });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ProvisionError('EXISTS', `${file} exists; refusing to overwrite`);
    throw new ProvisionError('IO', `cannot write ${file}: ${code ?? (e as Error).message}`);
  }
}

/** Provisions a batch (see the module doc). Throws ProvisionError. */
export async function provisionBatch(o: ProvisionOptions): Promise<ProvisionSummary> {
  checkOptions(o);
  const random = o.random ?? randomBytes;
  const now = o.now ?? (() => new Date());
  const nvsSize = o.nvsSize ?? DEFAULT_NVS_SIZE;
  const encrypted = !o.plain;
  const writeCsv = !encrypted || o.csv === true;
  const files = [...(encrypted ? ENCRYPTED_TOY_FILES : TOY_FILES), ...(encrypted && writeCsv ? ['nvs.csv'] : []), ...(o.png ? ['label.png'] : [])];
  const outDir = path.resolve(o.outDir);
  if (fs.existsSync(outDir)) {
    if (!fs.statSync(outDir).isDirectory()) throw new ProvisionError('EXISTS', `${outDir} exists and is not a directory`);
    if (fs.readdirSync(outDir).length > 0) throw new ProvisionError('EXISTS', `${outDir} is not empty; refusing to overwrite an output set`);
  }
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const started = now();
  const batchId = o.batchId ?? `${started.toISOString().replace(/[-:]/g, '').replace(/\..*$/, 'Z')}-${Buffer.from(random(2)).toString('hex')}`;
  const signer = ed25519Signer(o.maker.seed);
  if (Buffer.compare(Buffer.from(signer.publicKey), Buffer.from(o.maker.publicKey)) !== 0) throw new ProvisionError('ARGS', 'maker public key does not match its seed');
  const makerPublicHex = Buffer.from(o.maker.publicKey).toString('hex');
  writeNew(
    path.join(outDir, 'batch.json'),
    JSON.stringify({ tool: TOOL_VERSION, batch: batchId, count: o.count, makerPublicKey: makerPublicHex, nvsSize, nvsEncryption: encrypted ? NVS_ENCRYPTION_SCHEME : 'none', mqttHost: o.mqttHost, mqttPort: o.mqttPort, startedAt: started.toISOString() }, null, 2) + '\n',
    0o644,
  );
  const open = (name: string, mode: number) => {
    try {
      return fs.openSync(path.join(outDir, name), 'wx', mode);
    } catch (e) {
      throw new ProvisionError('IO', `cannot create ${name}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const regFd = open('registry.jsonl', 0o644);
  const pwFd = open('mosquitto.passwd', 0o640);
  const auditFd = open('audit.log', 0o644);
  const audit = (line: string) => fs.writeSync(auditFd, `${now().toISOString()} batch=${batchId} ${line}\n`);
  const toys: ProvisionedToy[] = [];
  const ids = new Set<string>();
  const checks = new Set<string>();
  try {
    audit(`start count=${o.count} maker=${makerPublicHex.slice(0, 16)} nvsSize=${nvsSize} nvsEncryption=${encrypted ? 'xts-aes-256' : 'none'} tool="${TOOL_VERSION}"`);
    for (let n = 0; n < o.count; n++) {
      let t = generateToy(signer, random);
      if (ids.has(t.toyId)) throw new ProvisionError('COLLISION', 'toy id collision: the random source is broken');
      // 40-bit check strings do collide in large fleets; within a batch, a toy whose check string is taken is made again.
      for (let tries = 0; checks.has(t.check) || (o.knownChecks?.has(t.check) ?? false); tries++) {
        if (tries >= 8) throw new ProvisionError('COLLISION', 'check string collisions repeat: the random source is broken');
        audit(`regenerate seq=${n + 1} reason=check-string-taken`);
        t = generateToy(signer, random);
      }
      ids.add(t.toyId);
      checks.add(t.check);
      const items = toyNvsItems(t, o.mqttHost, o.mqttPort, o.mqttCa, o.relayPublicKey);
      const image = buildNvsImage(items, nvsSize);
      const label = makeLabel({ toyId: t.toyId, setupSecret: t.setupSecret, checkString: t.check, toyPublicKey: t.publicKey });
      const dir = path.join(outDir, t.toyId);
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (e) {
        throw new ProvisionError('EXISTS', `${dir}: ${(e as NodeJS.ErrnoException).code ?? 'cannot create'}`);
      }
      if (encrypted) {
        const keys = generateNvsKeys(random);
        writeNew(path.join(dir, 'nvs.bin'), encryptNvsImage(image, keys), 0o600);
        writeNew(path.join(dir, 'nvs_keys.bin'), formatNvsKeysPartition(keys), 0o600);
        keys.fill(0);
      } else {
        writeNew(path.join(dir, 'nvs.bin'), image, 0o600);
      }
      if (writeCsv) writeNew(path.join(dir, 'nvs.csv'), formatNvsCsv(items), 0o600);
      writeNew(path.join(dir, 'label.svg'), label.svg, 0o600);
      writeNew(path.join(dir, 'label.txt'), label.text, 0o600);
      if (o.png) writeNew(path.join(dir, 'label.png'), await labelPng(label.payload), 0o600);
      const passwd = mosquittoPasswdLine(t.toyId, t.mqttPassword, random(12));
      const entry: RegistryEntry = {
        v: '1',
        toyId: t.toyId,
        publicKey: Buffer.from(t.publicKey).toString('hex'),
        makerSignature: Buffer.from(t.makerSignature).toString('hex'),
        makerPublicKey: makerPublicHex,
        check: t.check,
        mqttUser: t.toyId,
        mqttPasswd: passwd,
        batch: batchId,
        provisionedAt: now().toISOString(),
      };
      fs.writeSync(regFd, formatRegistryEntry(entry) + '\n');
      fs.writeSync(pwFd, passwd + '\n');
      audit(`toy seq=${n + 1} id=${t.toyId} check=${t.check} pk=${entry.publicKey.slice(0, 16)} files=${files.join(',')} ok`);
      toys.push({ toyId: t.toyId, check: t.check, dir });
      o.onProgress?.(n + 1, o.count);
    }
    audit(`end provisioned=${toys.length}`);
  } catch (e) {
    try {
      audit(`abort provisioned=${toys.length} error=${e instanceof ProvisionError ? e.code : 'INTERNAL'}`);
    } catch {
      // the audit log itself failed; the thrown error says why
    }
    throw e;
  } finally {
    for (const fd of [regFd, pwFd, auditFd]) fs.closeSync(fd);
  }
  return { batchId, outDir, toys };
}
