/**
 * The registry the company keeps: one JSON object per line (registry.jsonl),
 * PUBLIC data only, plus the broker's hashed credential. Nothing here lets
 * anyone read a message (no X25519 secret key) or pair with a toy (no setup
 * secret), and the broker password appears only as a PBKDF2-SHA512 hash.
 *
 * Fields (all strings): v ("1"), toyId (32 lowercase hex), publicKey (X25519,
 * 64 hex), makerSignature (Ed25519, 128 hex), makerPublicKey (64 hex), check
 * ("XXXX-XXXX"), mqttUser (= toyId), mqttPasswd (the mosquitto password-file
 * line), batch, provisionedAt (ISO 8601 UTC).
 */
import { parseMosquittoPasswdLine } from './mosquitto-passwd.js';

export interface RegistryEntry {
  v: '1';
  toyId: string;
  publicKey: string;
  makerSignature: string;
  makerPublicKey: string;
  check: string;
  mqttUser: string;
  mqttPasswd: string;
  batch: string;
  provisionedAt: string;
}

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code = 'REGISTRY' as const;
  readonly line: number;
  constructor(line: number, message: string) {
    super(`registry line ${line}: ${message}`);
    this.line = line;
  }
}

const FIELDS: Record<keyof RegistryEntry, RegExp> = {
  v: /^1$/,
  toyId: /^[0-9a-f]{32}$/,
  publicKey: /^[0-9a-f]{64}$/,
  makerSignature: /^[0-9a-f]{128}$/,
  makerPublicKey: /^[0-9a-f]{64}$/,
  check: /^[A-Z2-7]{4}-[A-Z2-7]{4}$/,
  mqttUser: /^[0-9a-f]{32}$/,
  mqttPasswd: /^[0-9a-f]{32}:\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
  batch: /^[A-Za-z0-9._-]{1,64}$/,
  provisionedAt: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
};

/** One registry line (no newline). Field order is fixed. */
export function formatRegistryEntry(e: RegistryEntry): string {
  const o: Record<string, string> = {};
  for (const k of Object.keys(FIELDS) as (keyof RegistryEntry)[]) o[k] = e[k];
  return JSON.stringify(o);
}

/** Parses and checks one registry line (every field present, well-formed, nothing extra). */
export function parseRegistryLine(text: string, line: number): RegistryEntry {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new RegistryError(line, 'not JSON (corrupt or truncated?)');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RegistryError(line, 'not a JSON object');
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (!(k in FIELDS)) throw new RegistryError(line, `unexpected field "${k.slice(0, 32)}"`);
  for (const [k, re] of Object.entries(FIELDS)) {
    const v = rec[k];
    if (typeof v !== 'string' || !re.test(v)) throw new RegistryError(line, `field ${k} missing or malformed`);
  }
  const e = rec as unknown as RegistryEntry;
  if (e.mqttUser !== e.toyId) throw new RegistryError(line, 'mqttUser must equal toyId');
  try {
    const p = parseMosquittoPasswdLine(e.mqttPasswd);
    if (p.username !== e.toyId) throw new RegistryError(line, 'mqttPasswd user must equal toyId');
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError(line, `mqttPasswd: ${(err as Error).message}`);
  }
  return e;
}

/** Parses registry.jsonl text (blank last line allowed). */
export function parseRegistry(text: string): RegistryEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => parseRegistryLine(l, i + 1));
}

/**
 * Every spelling under which a secret could leak into a text file: hex (both
 * cases), base64, base64url, base32 (uppercase, no padding) and the raw string.
 */
export function secretSpellings(secret: Uint8Array | string): string[] {
  if (typeof secret === 'string') return [secret];
  const b = Buffer.from(secret);
  const b64 = b.toString('base64');
  const out = [b.toString('hex'), b.toString('hex').toUpperCase(), b64, b64.replace(/=+$/, ''), b.toString('base64url')];
  // base32 (RFC 4648) without padding
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let acc = 0;
  let s = '';
  for (const x of b) {
    acc = ((acc << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      s += A[(acc >>> bits) & 31];
    }
  }
  if (bits) s += A[(acc << (5 - bits)) & 31];
  out.push(s);
  return out;
}

/**
 * Names of the secrets (by label) that occur in `text` under any spelling.
 * Linear in text and secrets: every 8-character window of the text is indexed
 * once, and only spellings whose first 8 characters occur are searched in full.
 */
export function findSecrets(text: string, secrets: { label: string; value: Uint8Array | string }[]): string[] {
  const W = 8;
  const windows = new Set<string>();
  for (let i = 0; i + W <= text.length; i++) windows.add(text.slice(i, i + W));
  const found: string[] = [];
  for (const s of secrets) {
    if (secretSpellings(s.value).some((sp) => sp.length >= W && windows.has(sp.slice(0, W)) && text.includes(sp))) found.push(s.label);
  }
  return found;
}
