/**
 * `provision.ts verify`: checks an output set for completeness,
 * well-formedness and duplicates, and that the company's files hold no secret.
 *
 * For every toy directory: all files present; in an encrypted batch,
 * nvs_keys.bin is a well-formed keys partition (size, CRC, erased tail) and
 * nvs.bin is re-read by decrypting it with that key; the (decrypted) image
 * parses (CRCs, bitmap, spans, blobs) and loads as an identity through
 * src/identity.ts (key pair consistent, maker signature valid); nvs.csv, where
 * present, rebuilds nvs.bin byte for byte (encrypted with the toy's key in an
 * encrypted batch); the registry entry and the password-file line match it;
 * the label is exactly the measured layout for this toy, its text and QR
 * carry this toy's setup code and check string (with `render`, also as
 * rendered to pixels: ink inside the margins, the QR decoding). Across the batch: toy ids,
 * keys (X25519 and NVS), setup secrets, passwords, salts and check strings
 * (in the toy directories and across the registry) are unique; batch.json,
 * registry.jsonl, mosquitto.passwd and audit.log contain no secret of any toy.
 *
 * Problems are strings naming the toy and the check, never a secret value.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadIdentity, IdentityError, IDENTITY_NAMESPACE, toyCheckString, type Identity } from '../src/identity.js';
import { nodeCrypto } from './node-crypto.js';
import type { StoragePort } from '../hal/ports.js';
import { PortError } from '../hal/ports.js';
import { parseNvsCsv } from './nvs-csv.js';
import { buildNvsImage, nvsItemBytes, parseNvsImage, type NvsItem } from './nvs-image.js';
import { parseMosquittoPasswdLine, verifyMosquittoPassword } from './mosquitto-passwd.js';
import { makeLabel, modulesFromLabelSvg, qrModules } from './label.js';
import { checkRenderedLabel } from './label-render.js';
import { findSecrets, parseRegistry, type RegistryEntry } from './registry.js';
import { ENCRYPTED_TOY_FILES, TOY_FILES } from './provision-batch.js';
import { decryptNvsImage, encryptNvsImage, parseNvsKeysPartition } from './nvs-encryption.js';

/** A read-only StoragePort over the items of one NVS namespace (bytes as documented in src/identity.ts). */
export class NvsItemsStorage implements StoragePort {
  private readonly map = new Map<string, Uint8Array>();
  constructor(items: readonly NvsItem[], namespace = IDENTITY_NAMESPACE) {
    for (const it of items) if (it.namespace === namespace) this.map.set(it.key, nvsItemBytes(it));
  }
  read(key: string): Uint8Array | undefined {
    return this.map.get(key)?.slice();
  }
  write(): void {
    throw new PortError('NOSUPPORT', 'factory storage is read-only');
  }
  remove(): void {
    throw new PortError('NOSUPPORT', 'factory storage is read-only');
  }
  keys(prefix = ''): string[] {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

export interface VerifyOptions {
  /** The maker public key to check signatures with (default: batch.json's). */
  makerPublicKey?: Uint8Array;
  /** Also render every label.svg to pixels and check ink and QR there (factory/label-render.ts; ~0.1 s per toy). */
  render?: boolean;
  /** Earlier registries ([name, registry.jsonl text]): check strings must not repeat across them and this batch. */
  priorRegistries?: [string, string][];
}

export interface VerifyReport {
  toys: number;
  problems: string[];
}

const TOY_DIR_RE = /^[0-9a-f]{32}$/;
const BATCH_FILES = ['batch.json', 'registry.jsonl', 'mosquitto.passwd', 'audit.log'];

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Verifies the output set in `outDir`. Never throws for bad content: every finding is a problem line. */
export function verifyBatch(outDir: string, options: VerifyOptions = {}): VerifyReport {
  const problems: string[] = [];
  const bad = (m: string) => problems.push(m);
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) return { toys: 0, problems: [`${outDir}: not a directory`] };
  const read = (name: string): string | undefined => {
    try {
      return fs.readFileSync(path.join(outDir, name), 'utf8');
    } catch {
      bad(`${name}: missing or unreadable`);
      return undefined;
    }
  };

  // batch.json
  let makerPublicKey = options.makerPublicKey;
  let declaredCount: number | undefined;
  let nvsSize = 0x6000;
  // Batches from before NVS encryption have no nvsEncryption field: plain.
  let encrypted = true;
  const batchText = read('batch.json');
  if (batchText !== undefined) {
    try {
      const b = JSON.parse(batchText) as Record<string, unknown>;
      if (!('nvsEncryption' in b)) encrypted = false;
      if (typeof b.count === 'number') declaredCount = b.count;
      else bad('batch.json: count missing');
      if (typeof b.nvsSize === 'number') nvsSize = b.nvsSize;
      else bad('batch.json: nvsSize missing');
      if (b.nvsEncryption === 'none') encrypted = false;
      else if (b.nvsEncryption !== undefined && typeof b.nvsEncryption !== 'string') bad('batch.json: nvsEncryption malformed');
      if (typeof b.makerPublicKey === 'string' && /^[0-9a-f]{64}$/.test(b.makerPublicKey)) {
        const pk = new Uint8Array(Buffer.from(b.makerPublicKey, 'hex'));
        if (makerPublicKey && !eq(pk, makerPublicKey)) bad('batch.json: makerPublicKey differs from the given maker public key');
        makerPublicKey ??= pk;
      } else bad('batch.json: makerPublicKey missing or malformed');
    } catch {
      bad('batch.json: not JSON (corrupt or truncated?)');
    }
  }

  // registry
  const byId = new Map<string, RegistryEntry>();
  const registryText = read('registry.jsonl');
  if (registryText !== undefined) {
    try {
      for (const e of parseRegistry(registryText)) {
        if (byId.has(e.toyId)) bad(`registry: toy ${e.toyId} listed twice`);
        byId.set(e.toyId, e);
      }
    } catch (e) {
      bad((e as Error).message);
    }
  }
  const passwdText = read('mosquitto.passwd');
  const passwdByUser = new Map<string, string>();
  if (passwdText !== undefined) {
    const lines = passwdText.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    lines.forEach((l, i) => {
      try {
        const p = parseMosquittoPasswdLine(l);
        if (passwdByUser.has(p.username)) bad(`mosquitto.passwd line ${i + 1}: user ${p.username} listed twice`);
        passwdByUser.set(p.username, l);
      } catch (e) {
        bad(`mosquitto.passwd line ${i + 1}: ${(e as Error).message}`);
      }
    });
  }
  const auditText = read('audit.log');

  // toy directories
  const entries = fs.readdirSync(outDir);
  const toyDirs = entries.filter((n) => TOY_DIR_RE.test(n) && fs.statSync(path.join(outDir, n)).isDirectory()).sort();
  for (const n of entries) if (!BATCH_FILES.includes(n) && !toyDirs.includes(n)) bad(`${n}: unexpected entry in the output set`);
  if (declaredCount !== undefined && toyDirs.length !== declaredCount) bad(`batch.json says ${declaredCount} toys, found ${toyDirs.length} toy directories`);
  for (const id of byId.keys()) if (!toyDirs.includes(id)) bad(`registry: toy ${id} has no directory`);
  // Check strings are 40 bits: across a fleet two toys can share one (about 0.45 expected pairs among a million toys),
  // and then a parent cannot tell them apart by the label. This batch and every earlier registry given must not collide.
  const checkOwner = new Map<string, string>();
  for (const [name, text] of options.priorRegistries ?? []) {
    try {
      for (const e of parseRegistry(text)) {
        const o = checkOwner.get(e.check);
        if (o !== undefined && o !== e.toyId) bad(`${name}: toys ${o} and ${e.toyId} share check string ${e.check}`);
        checkOwner.set(e.check, e.toyId);
      }
    } catch (e) {
      bad(`${name}: ${(e as Error).message}`);
    }
  }
  for (const e of byId.values()) {
    const o = checkOwner.get(e.check);
    if (o !== undefined && o !== e.toyId) bad(`registry: toys ${o} and ${e.toyId} share check string ${e.check}`);
    else checkOwner.set(e.check, e.toyId);
  }
  for (const u of passwdByUser.keys()) if (!byId.has(u)) bad(`mosquitto.passwd: user ${u} not in the registry`);

  const secrets: { label: string; value: Uint8Array | string }[] = [];
  const unique = new Map<string, Map<string, string>>();
  const once = (kind: string, value: string, toy: string) => {
    let m = unique.get(kind);
    if (!m) unique.set(kind, (m = new Map()));
    const other = m.get(value);
    if (other !== undefined) bad(`duplicate ${kind}: toys ${other} and ${toy}`);
    else m.set(value, toy);
  };

  for (const toy of toyDirs) {
    const dir = path.join(outDir, toy);
    const where = `toy ${toy}`;
    const files = fs.readdirSync(dir);
    const required: readonly string[] = encrypted ? ENCRYPTED_TOY_FILES : TOY_FILES;
    const optional = encrypted ? ['nvs.csv', 'label.png'] : ['label.png'];
    const missing = required.filter((f) => !files.includes(f));
    if (missing.length) {
      bad(`${where}: missing ${missing.join(', ')}`);
      continue;
    }
    for (const f of files) if (!required.includes(f) && !optional.includes(f)) bad(`${where}: unexpected file ${f}`);
    const image = new Uint8Array(fs.readFileSync(path.join(dir, 'nvs.bin')));
    let nvsKeys: Uint8Array | undefined;
    if (encrypted) {
      try {
        nvsKeys = parseNvsKeysPartition(new Uint8Array(fs.readFileSync(path.join(dir, 'nvs_keys.bin'))));
      } catch (e) {
        bad(`${where}: nvs_keys.bin: ${(e as { code?: string }).code ?? 'ERROR'} ${(e as Error).message}`);
        continue;
      }
    }
    let plainImage: Uint8Array = image;
    let items: NvsItem[];
    try {
      if (nvsKeys) plainImage = decryptNvsImage(image, nvsKeys);
      items = parseNvsImage(plainImage).items;
    } catch (e) {
      bad(`${where}: nvs.bin${nvsKeys ? ' (decrypted with nvs_keys.bin)' : ''}: ${(e as Error).message}`);
      continue;
    }
    let id: Identity;
    try {
      id = loadIdentity(new NvsItemsStorage(items), { crypto: nodeCrypto, makerPublicKey });
    } catch (e) {
      bad(`${where}: nvs.bin identity: ${e instanceof IdentityError ? `${e.code} ${e.message}` : (e as Error).message}`);
      continue;
    }
    if (id.toyId !== toy) bad(`${where}: nvs.bin holds toy id ${id.toyId}`);
    if (image.length !== nvsSize) bad(`${where}: nvs.bin is ${image.length} bytes, batch says ${nvsSize}`);
    if (nvsKeys) {
      // the image must be encrypted: the same entries in clear would be a plain image under an encrypted batch's name
      if (!eq(encryptNvsImage(plainImage, nvsKeys), image)) bad(`${where}: nvs.bin is not the encryption of its entries with nvs_keys.bin`);
      if (eq(plainImage, image)) bad(`${where}: nvs.bin is not encrypted`);
      once('NVS key', Buffer.from(nvsKeys).toString('hex'), toy);
    }
    if (files.includes('nvs.csv')) {
      try {
        const csvItems = parseNvsCsv(fs.readFileSync(path.join(dir, 'nvs.csv'), 'utf8'));
        const rebuilt = buildNvsImage(csvItems, image.length);
        if (!eq(nvsKeys ? encryptNvsImage(rebuilt, nvsKeys) : rebuilt, image)) bad(`${where}: nvs.csv does not rebuild nvs.bin byte for byte`);
      } catch (e) {
        bad(`${where}: nvs.csv: ${(e as Error).message}`);
      }
    }
    const check = toyCheckString(nodeCrypto, id.toyIdBytes, id.publicKey);
    const expectLabel = makeLabel({ toyId: id.toyId, setupSecret: id.setupSecret, checkString: check, toyPublicKey: id.publicKey });
    const payload = expectLabel.payload;
    if (fs.readFileSync(path.join(dir, 'label.txt'), 'utf8') !== expectLabel.text) bad(`${where}: label.txt does not carry this toy's setup code and check string`);
    const svgText = fs.readFileSync(path.join(dir, 'label.svg'), 'utf8');
    const svgModules = modulesFromLabelSvg(svgText);
    if (!svgModules || JSON.stringify(svgModules) !== JSON.stringify(qrModules(payload))) bad(`${where}: label.svg QR does not encode this toy's setup code`);
    else if (svgText !== expectLabel.svg) bad(`${where}: label.svg is not the measured layout for this toy (text or size changed)`);
    if (options.render) {
      for (const p of checkRenderedLabel(svgText, expectLabel.qrSize, payload).problems) bad(`${where}: label.svg rendered: ${p}`);
    }

    const reg = byId.get(toy);
    if (!reg) bad(`${where}: not in the registry`);
    else {
      if (reg.publicKey !== Buffer.from(id.publicKey).toString('hex')) bad(`${where}: registry public key differs from nvs.bin`);
      if (reg.makerSignature !== Buffer.from(id.makerSignature).toString('hex')) bad(`${where}: registry signature differs from nvs.bin`);
      if (reg.check !== check) bad(`${where}: registry check string is wrong`);
      if (makerPublicKey && reg.makerPublicKey !== Buffer.from(makerPublicKey).toString('hex')) bad(`${where}: registry names another maker key`);
      if (!verifyMosquittoPassword(reg.mqttPasswd, id.mqttPassword)) bad(`${where}: registry broker credential does not match nvs.bin's password`);
      if (passwdByUser.get(toy) !== reg.mqttPasswd) bad(`${where}: mosquitto.passwd line differs from the registry`);
      once('password salt', parseMosquittoPasswdLine(reg.mqttPasswd).salt.join(','), toy);
    }
    once('check string', check, toy);
    once('toy id', id.toyId, toy);
    once('public key', Buffer.from(id.publicKey).toString('hex'), toy);
    once('secret key', Buffer.from(id.secretKey).toString('hex'), toy);
    once('setup secret', Buffer.from(id.setupSecret).toString('hex'), toy);
    once('broker password', id.mqttPassword, toy);
    secrets.push(
      { label: `${toy} secret key`, value: id.secretKey },
      { label: `${toy} setup secret`, value: id.setupSecret },
      { label: `${toy} broker password`, value: id.mqttPassword },
      { label: `${toy} setup code`, value: payload },
    );
    if (nvsKeys) secrets.push({ label: `${toy} NVS keys`, value: nvsKeys.slice(0, 32) }, { label: `${toy} NVS tweak key`, value: nvsKeys.slice(32) });
  }

  for (const [name, text] of [['batch.json', batchText], ['registry.jsonl', registryText], ['mosquitto.passwd', passwdText], ['audit.log', auditText]] as const) {
    if (text === undefined) continue;
    for (const s of findSecrets(text, secrets)) bad(`${name}: contains a secret (${s})`);
  }
  return { toys: toyDirs.length, problems };
}
