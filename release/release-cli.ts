/**
 * PawPost release command (issue 14): signs firmware update manifests.
 *
 *   keygen --dir <dir>                         create release.key (0600) and release.pub
 *   sign <firmware.bin> --key <release.key> --version X.Y.Z --security-version N
 *        [--board esp32/m5atom_echo] [--key-id 0] [--max-size <bytes>] [--out <file>] [--raw]
 *                                              write <firmware.bin>.manifest (156 bytes) and .manifest.json
 *   verify <firmware.bin> --manifest <file> --pub <release.pub> [--key-id 0]
 *   publish <firmware.bin> --manifest <file> --url <mqtt(s)://relay> --password-file <file> [--user pp-release] [--ca <pem>]
 *                                              retained chunks, then the retained manifest (release/update-publisher.ts)
 *
 * Exit status: 0 done, 1 verify found the manifest bad, 2 bad arguments or a typed error.
 * Nothing secret is ever printed. See docs/SECURITY.md "Firmware updates".
 */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import nacl from 'tweetnacl';
import { readReleasePublicKey, readReleaseSecretKey, releaseKeygen } from './release-key.js';
import {
  encodeManifestBody,
  formatVersion,
  joinManifest,
  manifestSignedMessage,
  MANIFEST_MAX_IMAGE_BYTES,
  parseVersion,
  verifyManifest,
} from '../src/update-manifest.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { publishRelease } from './update-publisher.js';

/** The OTA slot size in docs/HARDWARE.md's partition table (ota_0, ota_1): 1.5 MiB. */
export const OTA_SLOT_BYTES = 0x180000;
/** The first byte of an ESP-IDF app image (esp_image_header_t.magic). */
const ESP_IMAGE_MAGIC = 0xe9;

export const USAGE = `PawPost release signing

usage:
  npm run release -- keygen --dir <dir>
  npm run release -- sign <firmware.bin> --key <dir/release.key> --version X.Y.Z --security-version N
                      [--board esp32/m5atom_echo] [--key-id 0] [--max-size <bytes>] [--out <manifest>] [--raw]
  npm run release -- verify <firmware.bin> --manifest <file> --pub <dir/release.pub> [--key-id 0]
  npm run release -- publish <firmware.bin> --manifest <file> --url mqtts://<relay>:8883
                      --password-file <file> [--user pp-release] [--ca <ca.pem>]

sign writes <firmware.bin>.manifest (156 bytes, what the relay announces) and
<firmware.bin>.manifest.json (the same fields, for people). An esp32 board's image
must start with the ESP-IDF image magic 0xE9 (--raw skips that check).
--security-version only rises: raise it when the release fixes a vulnerability,
and toys then refuse every release below it.

defaults: --board esp32/m5atom_echo  --key-id 0  --max-size 0x${OTA_SLOT_BYTES.toString(16)} (one OTA slot)
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

class UsageError extends Error {
  readonly code = 'USAGE';
}

function intArg(v: string | undefined, name: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new UsageError(`--${name} must be an integer 0..${max}`);
  return n;
}

function readImage(file: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Runs the CLI with `argv` (without node and script). Returns the exit status. */
export async function runReleaseCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    if (command === 'keygen') {
      const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' } }, strict: true });
      if (!values.dir) throw new UsageError('keygen needs --dir');
      const r = releaseKeygen(values.dir);
      io.out(`release key written: ${r.keyFile} (0600, keep it offline), ${r.pubFile}\n`);
      return 0;
    }
    if (command === 'sign') {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          key: { type: 'string' }, version: { type: 'string' }, 'security-version': { type: 'string' },
          board: { type: 'string' }, 'key-id': { type: 'string' }, 'max-size': { type: 'string' }, out: { type: 'string' }, raw: { type: 'boolean' },
        },
        strict: true,
      });
      if (positionals.length !== 1) throw new UsageError('sign needs exactly one firmware file');
      const file = positionals[0]!;
      if (!values.key) throw new UsageError('sign needs --key');
      const version = values.version ? parseVersion(values.version) : undefined;
      if (!version) throw new UsageError('--version must be X.Y.Z (each 0..65535)');
      if (values['security-version'] === undefined) throw new UsageError('sign needs --security-version');
      const securityVersion = intArg(values['security-version'], 'security-version', 0, 0xffffffff);
      const keyId = intArg(values['key-id'], 'key-id', 0, 255);
      const maxSize = intArg(values['max-size'], 'max-size', OTA_SLOT_BYTES, MANIFEST_MAX_IMAGE_BYTES);
      const board = values.board ?? 'esp32/m5atom_echo';
      const image = readImage(file);
      if (image.length === 0) throw new UsageError(`${file} is empty`);
      if (image.length > maxSize) throw new UsageError(`${file} is ${image.length} bytes, more than --max-size ${maxSize} (one OTA slot)`);
      if (board.startsWith('esp32') && !values.raw && image[0] !== ESP_IMAGE_MAGIC) {
        throw new UsageError(`${file} is not an ESP-IDF app image (first byte 0x${image[0]!.toString(16)}, want 0xe9); --raw to sign anyway`);
      }
      const key = readReleaseSecretKey(values.key);
      const sha = new Uint8Array(createHash('sha256').update(image).digest());
      let body: Uint8Array;
      try {
        body = encodeManifestBody({ keyId, board, version, securityVersion, imageSize: image.length, sha256: sha, issuedAt: Math.floor(Date.now() / 1000) });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const manifest = joinManifest(body, nacl.sign.detached(manifestSignedMessage(body), key.secretKey));
      const out = values.out ?? `${file}.manifest`;
      fs.writeFileSync(out, manifest);
      const json = {
        format: 1, board, version: formatVersion(version), securityVersion, imageSize: image.length,
        sha256: Buffer.from(sha).toString('hex'), keyId, manifest: path.basename(out), manifestHex: Buffer.from(manifest).toString('hex'),
      };
      fs.writeFileSync(`${out}.json`, `${JSON.stringify(json, null, 2)}\n`);
      io.out(`signed ${path.basename(file)}: ${board} ${formatVersion(version)} security ${securityVersion}, ${image.length} bytes, sha256 ${json.sha256}\nmanifest: ${out}\n`);
      return 0;
    }
    if (command === 'verify') {
      const { values, positionals } = parseArgs({
        args: rest, allowPositionals: true,
        options: { manifest: { type: 'string' }, pub: { type: 'string' }, 'key-id': { type: 'string' } }, strict: true,
      });
      if (positionals.length !== 1 || !values.manifest || !values.pub) throw new UsageError('verify needs <firmware.bin> --manifest --pub');
      const image = readImage(positionals[0]!);
      const manifestBytes = readImage(values.manifest);
      const keys: Uint8Array[] = [];
      keys[intArg(values['key-id'], 'key-id', 0, 255)] = readReleasePublicKey(values.pub);
      const m = verifyManifest(manifestBytes, keys, naclCrypto);
      if (typeof m === 'string') {
        io.err(`manifest refused: ${m}\n`);
        return 1;
      }
      const sha = new Uint8Array(createHash('sha256').update(image).digest());
      if (image.length !== m.imageSize || Buffer.compare(Buffer.from(sha), Buffer.from(m.sha256)) !== 0) {
        io.err(`manifest refused: ${image.length !== m.imageSize ? 'TRUNCATED' : 'HASH'}\n`);
        return 1;
      }
      io.out(`ok: ${m.board} ${formatVersion(m.version)} security ${m.securityVersion}, ${m.imageSize} bytes\n`);
      return 0;
    }
    if (command === 'publish') {
      const { values, positionals } = parseArgs({
        args: rest, allowPositionals: true,
        options: { manifest: { type: 'string' }, url: { type: 'string' }, user: { type: 'string' }, 'password-file': { type: 'string' }, ca: { type: 'string' } }, strict: true,
      });
      if (positionals.length !== 1 || !values.manifest || !values.url || !values['password-file']) {
        throw new UsageError('publish needs <firmware.bin> --manifest --url --password-file');
      }
      const image = readImage(positionals[0]!);
      const manifestBytes = readImage(values.manifest);
      let password: string;
      try {
        password = fs.readFileSync(values['password-file'], 'utf8').trim();
      } catch (e) {
        throw new UsageError(`cannot read --password-file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const ca = values.ca ? fs.readFileSync(values.ca) : undefined;
      const r = await publishRelease(image, manifestBytes, { url: values.url, username: values.user ?? 'pp-release', password, connect: ca ? { ca } : undefined });
      io.out(`published ${r.chunks} chunks and the manifest on pp/fw/${r.board}/ (retained)\n`);
      return 0;
    }
    throw new UsageError(`unknown command "${command.slice(0, 20)}"`);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof UsageError || ((e as Error).name === 'TypeError' && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`release: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`release: error ${typeof code === 'string' ? code : 'INTERNAL'}: ${(e as Error).message}\n`);
    return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runReleaseCli(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  });
}
