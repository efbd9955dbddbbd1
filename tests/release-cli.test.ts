/**
 * The release command (issue 14): keygen, sign and verify; a manifest it signs
 * is accepted by the toy's UpdateClient and installs; its refusals; no secret
 * ever printed.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runReleaseCli, type CliIo } from '../release/release-cli.js';
import { readReleaseSecretKey } from '../release/release-key.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { jsSha256 } from '../src/sha256.js';
import { UpdateClient } from '../src/update-client.js';
import { MANIFEST_BYTES } from '../src/update-manifest.js';
import { FakeFlash } from './fakes/fake-update-slot.js';
import { MemoryStorage } from './fakes/memory-storage.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-release-'));
}
function io(): CliIo & { outText: string; errText: string } {
  const r = { outText: '', errText: '', out: (s: string) => void (r.outText += s), err: (s: string) => void (r.errText += s) };
  return r;
}
function espImage(size: number, seed = 1): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  b[0] = 0xe9;
  return b;
}

async function keys(dir: string) {
  const o = io();
  t0(await runReleaseCli(['keygen', '--dir', dir], o), 0, o.errText);
  return { key: path.join(dir, 'release.key'), pub: path.join(dir, 'release.pub') };
}
function t0(a: number, b: number, m: string): void {
  if (a !== b) throw new Error(`exit ${a}: ${m}`);
}

test('keygen, sign, verify; the toy accepts and installs what was signed', async (t) => {
  const dir = tmp();
  const k = await keys(dir);
  t.is(fs.statSync(k.key).mode & 0o777, 0o600);
  const fw = path.join(dir, 'firmware.bin');
  const image = espImage(20_000);
  fs.writeFileSync(fw, image);
  const o = io();
  t.is(await runReleaseCli(['sign', fw, '--key', k.key, '--version', '0.2.0', '--security-version', '2'], o), 0, o.errText);
  const manifest = new Uint8Array(fs.readFileSync(`${fw}.manifest`));
  t.is(manifest.length, MANIFEST_BYTES);
  const json = JSON.parse(fs.readFileSync(`${fw}.manifest.json`, 'utf8'));
  t.is(json.version, '0.2.0');
  t.is(json.securityVersion, 2);
  t.is(json.imageSize, 20_000);
  const v = io();
  t.is(await runReleaseCli(['verify', fw, '--manifest', `${fw}.manifest`, '--pub', k.pub], v), 0, v.errText);
  // no secret in any output
  const seedB64 = fs.readFileSync(k.key, 'utf8').trim().split(' ')[1]!;
  const secretHex = Buffer.from(readReleaseSecretKey(k.key).secretKey.subarray(0, 32)).toString('hex');
  for (const s of [o.outText, o.errText, v.outText, fs.readFileSync(`${fw}.manifest.json`, 'utf8')]) {
    t.false(s.includes(seedB64));
    t.false(s.includes(secretHex));
  }
  // the toy
  const flash = new FakeFlash(0x180000, espImage(1000, 9));
  flash.boot();
  const pub = new Uint8Array(Buffer.from(fs.readFileSync(k.pub, 'utf8').trim().split(' ')[1]!, 'hex'));
  const client = new UpdateClient({
    board: 'esp32/m5atom_echo', runningVersion: { major: 0, minor: 1, patch: 0 }, releaseKeys: [pub],
    crypto: naclCrypto, sha256: jsSha256, slot: flash.port(), storage: flash.storage(new MemoryStorage()),
  });
  t.is(client.offer(manifest), 'OK');
  t.is(client.begin(), 'OK');
  for (let off = 0; off < image.length; off += 4096) t.is(client.write(off, image.subarray(off, off + 4096)), 'OK');
  t.is(client.finish(), 'OK');
  flash.boot();
  t.deepEqual(flash.runningImage(), image);
});

test('sign refuses: no version, bad version, oversized, not an ESP image, a key readable by others; keygen never overwrites', async (t) => {
  const dir = tmp();
  const k = await keys(dir);
  const fw = path.join(dir, 'fw.bin');
  fs.writeFileSync(fw, espImage(5000));
  const run = async (args: string[]) => {
    const o = io();
    const code = await runReleaseCli(args, o);
    return { code, err: o.errText };
  };
  t.is((await run(['sign', fw, '--key', k.key, '--security-version', '1'])).code, 2);
  t.is((await run(['sign', fw, '--key', k.key, '--version', '1.2', '--security-version', '1'])).code, 2);
  t.is((await run(['sign', fw, '--key', k.key, '--version', '1.2.3', '--security-version', '-1'])).code, 2);
  const big = await run(['sign', fw, '--key', k.key, '--version', '1.2.3', '--security-version', '1', '--max-size', '4999']);
  t.is(big.code, 2);
  t.regex(big.err, /more than --max-size/);
  const plain = path.join(dir, 'plain.bin');
  fs.writeFileSync(plain, new Uint8Array(100));
  t.regex((await run(['sign', plain, '--key', k.key, '--version', '1.2.3', '--security-version', '1'])).err, /not an ESP-IDF app image/);
  t.is((await run(['sign', plain, '--key', k.key, '--version', '1.2.3', '--security-version', '1', '--board', 'lin'])).code, 0);
  fs.chmodSync(k.key, 0o644);
  t.regex((await run(['sign', fw, '--key', k.key, '--version', '1.2.3', '--security-version', '1'])).err, /PERMISSIONS/);
  t.regex((await run(['keygen', '--dir', dir])).err, /EXISTS/);
});

test('verify refuses another key, a tampered image and a truncated manifest', async (t) => {
  const dir = tmp();
  const k = await keys(dir);
  const k2 = await keys(path.join(dir, 'other'));
  const fw = path.join(dir, 'fw.bin');
  const image = espImage(5000);
  fs.writeFileSync(fw, image);
  t.is(await runReleaseCli(['sign', fw, '--key', k.key, '--version', '1.0.0', '--security-version', '1'], io()), 0);
  const run = async (args: string[]) => {
    const o = io();
    const code = await runReleaseCli(args, o);
    return { code, err: o.errText };
  };
  t.deepEqual(await run(['verify', fw, '--manifest', `${fw}.manifest`, '--pub', k2.pub]), { code: 1, err: 'manifest refused: SIGNATURE\n' });
  const bad = path.join(dir, 'bad.bin');
  const tampered = image.slice();
  tampered[100]! ^= 1;
  fs.writeFileSync(bad, tampered);
  t.deepEqual(await run(['verify', bad, '--manifest', `${fw}.manifest`, '--pub', k.pub]), { code: 1, err: 'manifest refused: HASH\n' });
  fs.writeFileSync(bad, image.subarray(0, 4000));
  t.deepEqual(await run(['verify', bad, '--manifest', `${fw}.manifest`, '--pub', k.pub]), { code: 1, err: 'manifest refused: TRUNCATED\n' });
  fs.writeFileSync(`${fw}.short`, fs.readFileSync(`${fw}.manifest`).subarray(0, 100));
  t.deepEqual(await run(['verify', fw, '--manifest', `${fw}.short`, '--pub', k.pub]), { code: 1, err: 'manifest refused: FORMAT\n' });
});
