/**
 * Factory provisioning end to end: the CLI (keygen, provision, verify), a
 * batch of 1,000 toys, secrets never shared and never in the registry, a real
 * mosquitto accepting the generated credentials, and `verify` catching
 * corrupt, truncated, incomplete, duplicated and leaking output sets.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { runCli, type CliIo } from '../factory/provision.js';
import { provisionBatch, generateToy, ENCRYPTED_TOY_FILES, TOY_FILES } from '../factory/provision-batch.js';
import { decryptNvsImage, parseNvsKeysPartition } from '../factory/nvs-encryption.js';
import { verifyBatch, NvsItemsStorage } from '../factory/verify-batch.js';
import { parseNvsImage } from '../factory/nvs-image.js';
import { parseNvsCsv } from '../factory/nvs-csv.js';
import { findSecrets, parseRegistry } from '../factory/registry.js';
import { verifyMosquittoPassword } from '../factory/mosquitto-passwd.js';
import { ed25519Signer, x25519PublicKey } from '../factory/node-crypto.js';
import { qrModules, modulesFromLabelSvg } from '../factory/label.js';
import { loadIdentity, makerSignedMessage, type Identity } from '../src/identity.js';
import { naclCrypto } from '../src/nacl-crypto.js';
import { parseSetupCode } from '../src/setup-code.js';
import { connect, hasMosquitto, startMosquitto, stopMosquitto } from './mosquitto-broker-rig.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-prov-'));
}

function io(isTTY = false): CliIo & { outText: string; errText: string } {
  const r = { outText: '', errText: '', isTTY, out: (s: string) => void (r.outText += s), err: (s: string) => void (r.errText += s) };
  return r;
}

function maker(): { publicKey: Uint8Array; seed: Uint8Array } {
  const seed = new Uint8Array(randomBytes(32));
  return { publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey, seed };
}

/** Every toy of an output set, read back from its nvs.bin (decrypted with its nvs_keys.bin when there is one). */
function toysOf(dir: string): Identity[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^[0-9a-f]{32}$/.test(n))
    .map((n) => {
      let image: Uint8Array = new Uint8Array(fs.readFileSync(path.join(dir, n, 'nvs.bin')));
      const keys = path.join(dir, n, 'nvs_keys.bin');
      if (fs.existsSync(keys)) image = decryptNvsImage(image, parseNvsKeysPartition(new Uint8Array(fs.readFileSync(keys))));
      return loadIdentity(new NvsItemsStorage(parseNvsImage(image).items));
    });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('CLI: keygen, provision (no progress bar off a TTY), verify', async (t) => {
  const dir = tmp();
  const keys = path.join(dir, 'keys');
  const a = io();
  t.is(await runCli(['keygen', '--dir', keys], a), 0, a.errText);
  t.is(fs.statSync(path.join(keys, 'maker.key')).mode & 0o777, 0o600);
  const b = io();
  t.is(await runCli(['keygen', '--dir', keys], b), 2, 'keygen refuses to overwrite');
  t.regex(b.errText, /EXISTS/);

  const out = path.join(dir, 'batch');
  const c = io();
  // a firmware manifest with a real security contact: no --dev-batch, no warning (issue 11)
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify({ config: { device: { model: 'PawPost PP-1', securityContact: 'https://security.pawpost-toys.com/', securityUpdatesUntil: '2031-12-31' } } }));
  t.is(await runCli(['provision', '--manifest', manifest, '--out', out, '--count', '5', '--maker-key', path.join(keys, 'maker.key'), '--broker-host', 'broker.example', '--broker-port', '8884', '--png'], c), 0, c.errText);
  t.is(c.errText, '', 'no progress bar and no noise when stderr is not a TTY');
  t.regex(c.outText, /5 toys in /);
  const toyDirs = fs.readdirSync(out).filter((n) => /^[0-9a-f]{32}$/.test(n));
  t.is(toyDirs.length, 5);
  t.deepEqual(fs.readdirSync(out).filter((n) => !toyDirs.includes(n)).sort(), ['audit.log', 'batch.json', 'mosquitto.passwd', 'registry.jsonl']);
  for (const d of toyDirs) {
    t.deepEqual(fs.readdirSync(path.join(out, d)).sort(), [...ENCRYPTED_TOY_FILES, 'label.png'].sort(), 'encrypted by default: no plain CSV');
    t.is(fs.statSync(path.join(out, d, 'nvs.bin')).mode & 0o077, 0, 'device data is private');
    t.is(fs.statSync(path.join(out, d, 'nvs_keys.bin')).mode & 0o077, 0, 'keys are private');
    const png = fs.readFileSync(path.join(out, d, 'label.png'));
    t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  }
  const ids = toysOf(out);
  t.true(ids.every((x) => x.mqttHost === 'broker.example' && x.mqttPort === 8884));

  const v = io();
  t.is(await runCli(['verify', '--out', out, '--maker-pub', path.join(keys, 'maker.pub')], v), 0, v.errText);
  t.regex(v.outText, /5 toys checked, 0 problems/);

  // refuses to overwrite an existing output set, and changes nothing in it
  const before = fs.readFileSync(path.join(out, 'registry.jsonl'), 'utf8');
  const d = io();
  t.is(await runCli(['provision', '--dev-batch', '--out', out, '--count', '1', '--maker-key', path.join(keys, 'maker.key')], d), 2);
  t.regex(d.errText, /EXISTS.*not empty/);
  t.is(fs.readFileSync(path.join(out, 'registry.jsonl'), 'utf8'), before);

  // verify with another maker's public key: every signature fails
  const other = path.join(dir, 'other');
  await runCli(['keygen', '--dir', other], io());
  const w = io();
  t.is(await runCli(['verify', '--out', out, '--maker-pub', path.join(other, 'maker.pub')], w), 1);
  t.regex(w.errText, /SIGNATURE/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('CLI: bad arguments and bad maker key files are clear errors that print no secret', async (t) => {
  const dir = tmp();
  const keys = path.join(dir, 'keys');
  await runCli(['keygen', '--dir', keys], io());
  const keyFile = path.join(keys, 'maker.key');
  const keyText = fs.readFileSync(keyFile, 'utf8');
  const run = async (args: string[]) => {
    const x = io();
    const code = await runCli(args, x);
    t.false((x.outText + x.errText).includes(keyText.split(' ')[1]!.trim()), 'the maker secret is never printed');
    return { code, err: x.errText };
  };
  t.is((await run([])).code, 2);
  t.regex((await run(['bogus'])).err, /unknown command/);
  t.regex((await run(['provision', '--out', path.join(dir, 'o')])).err, /needs --out, --count and --maker-key/);
  t.regex((await run(['provision', '--dev-batch', '--out', path.join(dir, 'o'), '--count', '0', '--maker-key', keyFile])).err, /ARGS: count must be/);
  t.regex((await run(['provision', '--out', path.join(dir, 'o'), '--count', 'x', '--maker-key', keyFile])).err, /--count must be an integer/);
  t.regex((await run(['provision', '--dev-batch', '--out', path.join(dir, 'o'), '--count', '1', '--maker-key', keyFile, '--nvs-size', '0x1000'])).err, /NVS size/);
  t.regex((await run(['provision', '--dev-batch', '--out', path.join(dir, 'o'), '--count', '1', '--maker-key', keyFile, '--broker-host', 'a/b'])).err, /broker host/);
  t.regex((await run(['provision', '--out', path.join(dir, 'o'), '--count', '1', '--maker-key', path.join(dir, 'nope.key')])).err, /IO: cannot read maker key/);
  t.regex((await run(['provision', '--unknown-flag'])).err, /Unknown option/);
  fs.chmodSync(keyFile, 0o644);
  t.regex((await run(['provision', '--out', path.join(dir, 'o'), '--count', '1', '--maker-key', keyFile])).err, /PERMISSIONS/);
  fs.chmodSync(keyFile, 0o600);
  fs.writeFileSync(keyFile, keyText.slice(0, 30) + '\n');
  t.regex((await run(['provision', '--out', path.join(dir, 'o'), '--count', '1', '--maker-key', keyFile])).err, /FORMAT: .*corrupt or truncated/);
  fs.writeFileSync(path.join(keys, 'maker.pub'), 'PAWPOST-MAKER-PUBLIC-V1 1234\n');
  t.regex((await run(['verify', '--out', dir, '--maker-pub', path.join(keys, 'maker.pub')])).err, /FORMAT/);
  t.false(fs.existsSync(path.join(dir, 'o')), 'nothing written by failed runs');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('1,000 toys: verified, every secret unique, the registry holds no secret', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'b');
  const m = maker();
  let progress = 0;
  const summary = await provisionBatch({ outDir: out, count: 1000, maker: m, mqttHost: 'mqtt.example', mqttPort: 8883, onProgress: (n) => (progress = n) });
  t.is(summary.toys.length, 1000);
  t.is(progress, 1000);
  const report = verifyBatch(out);
  t.deepEqual(report.problems, []);
  t.is(report.toys, 1000);

  const ids = toysOf(out);
  t.is(ids.length, 1000);
  for (const [what, values] of [
    ['toy id', ids.map((x) => x.toyId)],
    ['secret key', ids.map((x) => hex(x.secretKey))],
    ['public key', ids.map((x) => hex(x.publicKey))],
    ['setup secret', ids.map((x) => hex(x.setupSecret))],
    ['broker password', ids.map((x) => x.mqttPassword)],
  ] as const) {
    t.is(new Set(values).size, 1000, `${what}s are unique`);
  }
  // no secret value of one kind equals a secret of another kind either
  const all = ids.flatMap((x) => [hex(x.secretKey), hex(x.setupSecret), x.mqttPassword]);
  t.is(new Set(all).size, 3000);

  // scan the company's files (independently of verify) for every secret
  const secrets = ids.flatMap((x) => [
    { label: 'secret key', value: x.secretKey },
    { label: 'setup secret', value: x.setupSecret },
    { label: 'password', value: x.mqttPassword },
  ]);
  for (const f of ['registry.jsonl', 'mosquitto.passwd', 'audit.log', 'batch.json']) {
    t.deepEqual(findSecrets(fs.readFileSync(path.join(out, f), 'utf8'), secrets), [], `${f} holds no secret`);
  }
  const registry = parseRegistry(fs.readFileSync(path.join(out, 'registry.jsonl'), 'utf8'));
  t.is(registry.length, 1000);
  t.deepEqual(Object.keys(registry[0]!).sort(), ['batch', 'check', 'makerPublicKey', 'makerSignature', 'mqttPasswd', 'mqttUser', 'provisionedAt', 'publicKey', 'toyId', 'v']);
  const byId = new Map(ids.map((x) => [x.toyId, x]));
  for (const e of registry.slice(0, 50)) {
    const id = byId.get(e.toyId)!;
    t.is(e.publicKey, hex(id.publicKey));
    t.true(nacl.sign.detached.verify(makerSignedMessage(id.toyIdBytes, id.publicKey), Buffer.from(e.makerSignature, 'hex'), m.publicKey), 'genuine toy per tweetnacl');
    t.true(verifyMosquittoPassword(e.mqttPasswd, id.mqttPassword));
  }
  const audit = fs.readFileSync(path.join(out, 'audit.log'), 'utf8').trim().split('\n');
  t.is(audit.filter((l) => / toy seq=\d+ id=[0-9a-f]{32} .* ok$/.test(l)).length, 1000, 'one audit line per toy');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two batches share no secret and no toy id', async (t) => {
  const dir = tmp();
  const m = maker();
  await provisionBatch({ outDir: path.join(dir, 'a'), count: 20, maker: m, mqttHost: 'h', mqttPort: 1 });
  await provisionBatch({ outDir: path.join(dir, 'b'), count: 20, maker: m, mqttHost: 'h', mqttPort: 1 });
  const ids = [...toysOf(path.join(dir, 'a')), ...toysOf(path.join(dir, 'b'))];
  const values = ids.flatMap((x) => [x.toyId, hex(x.secretKey), hex(x.setupSecret), x.mqttPassword]);
  t.is(new Set(values).size, 160);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('generated keys and signatures are exactly tweetnacl\'s (nacl.box.keyPair, nacl.sign)', (t) => {
  const seed = new Uint8Array(randomBytes(32));
  const signer = ed25519Signer(seed);
  const naclMaker = nacl.sign.keyPair.fromSeed(seed);
  t.deepEqual(signer.publicKey, naclMaker.publicKey);
  for (let i = 0; i < 20; i++) {
    const sk = new Uint8Array(randomBytes(32));
    t.deepEqual(x25519PublicKey(sk), nacl.box.keyPair.fromSecretKey(sk).publicKey);
    t.deepEqual(naclCrypto.boxKeyPairFromSecret(sk).publicKey, x25519PublicKey(sk));
    const toy = generateToy(signer);
    t.deepEqual(toy.publicKey, nacl.box.keyPair.fromSecretKey(toy.secretKey).publicKey);
    t.deepEqual(toy.makerSignature, nacl.sign.detached(makerSignedMessage(toy.toyIdBytes, toy.publicKey), naclMaker.secretKey));
  }
});

test('label: the QR encodes the setup code the firmware holds; label text carries the check string', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'b');
  await provisionBatch({ outDir: out, count: 3, maker: maker(), mqttHost: 'h', mqttPort: 1, csv: true });
  t.deepEqual(verifyBatch(out, { render: true }).problems, [], 'an encrypted batch with nvs.csv verifies, labels rendered to pixels too');
  for (const id of toysOf(out)) {
    const text = fs.readFileSync(path.join(out, id.toyId, 'label.txt'), 'utf8');
    const code = /setup code: (\S+)/.exec(text)![1]!;
    t.regex(code, /^PP2:[0-9A-F]{32}:[A-Z2-7]{26}:[A-Z2-7]{26}$/);
    const parsed = parseSetupCode(code);
    t.is(parsed.toyId, id.toyId);
    t.deepEqual(parsed.setupSecret, id.setupSecret);
    t.regex(text, /check: [A-Z2-7]{4}-[A-Z2-7]{4}\n/);
    const svg = fs.readFileSync(path.join(out, id.toyId, 'label.svg'), 'utf8');
    t.deepEqual(modulesFromLabelSvg(svg), qrModules(code));
    t.notDeepEqual(modulesFromLabelSvg(svg), qrModules(code.replace(/.$/, code.endsWith('A') ? 'B' : 'A')));
    // the CSV is the same data as the (decrypted) binary image
    const keys = parseNvsKeysPartition(new Uint8Array(fs.readFileSync(path.join(out, id.toyId, 'nvs_keys.bin'))));
    t.deepEqual(parseNvsCsv(fs.readFileSync(path.join(out, id.toyId, 'nvs.csv'), 'utf8')), parseNvsImage(decryptNvsImage(new Uint8Array(fs.readFileSync(path.join(out, id.toyId, 'nvs.bin'))), keys)).items);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

(hasMosquitto ? test : test.skip)('a real mosquitto with the batch password file accepts each toy\'s NVS credentials, refuses wrong ones', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'b');
  await provisionBatch({ outDir: out, count: 3, maker: maker(), mqttHost: 'h', mqttPort: 1 });
  const ids = toysOf(out);
  const { port, proc } = await startMosquitto(dir, path.join(out, 'mosquitto.passwd'));
  try {
    for (const id of ids) t.is(await connect(port, id.mqttUser, id.mqttPassword), 'ok');
    t.regex(await connect(port, ids[0]!.mqttUser, ids[1]!.mqttPassword), /^refused:/, "another toy's password");
    const pw = ids[0]!.mqttPassword;
    const wrong = (pw[0] === 'x' ? 'y' : 'x') + pw.slice(1); // differs in the first character, always
    t.regex(await connect(port, ids[0]!.mqttUser, wrong), /^refused:/, 'wrong password');
  } finally {
    await stopMosquitto(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('verify catches corrupt, truncated, missing, duplicated and leaking output', async (t) => {
  const dir = tmp();
  const m = maker();
  const fresh = async (name: string, extra: { csv?: boolean; plain?: boolean } = {}) => {
    const out = path.join(dir, name);
    await provisionBatch({ outDir: out, count: 3, maker: m, mqttHost: 'h', mqttPort: 1, ...extra });
    const toys = fs.readdirSync(out).filter((n) => /^[0-9a-f]{32}$/.test(n));
    return { out, toys };
  };
  const problems = (out: string) => verifyBatch(out).problems.join('\n');

  let s = await fresh('flip');
  const bin = path.join(s.out, s.toys[0]!, 'nvs.bin');
  const b = fs.readFileSync(bin);
  b[64 + 32 + 24] ^= 1;
  fs.writeFileSync(bin, b);
  t.regex(problems(s.out), /nvs\.bin \(decrypted with nvs_keys\.bin\): .*CRC mismatch/);

  s = await fresh('trunc');
  fs.truncateSync(path.join(s.out, s.toys[1]!, 'nvs.bin'), 5000);
  t.regex(problems(s.out), /not a positive multiple of 4096 \(truncated\?\)/);

  s = await fresh('missing');
  fs.rmSync(path.join(s.out, s.toys[2]!, 'label.txt'));
  t.regex(problems(s.out), /missing label\.txt/);

  s = await fresh('dup');
  fs.cpSync(path.join(s.out, s.toys[0]!), path.join(s.out, 'f'.repeat(32)), { recursive: true });
  const dup = problems(s.out);
  t.regex(dup, /duplicate secret key/);
  t.regex(dup, /holds toy id/);
  t.regex(dup, /not in the registry/);

  s = await fresh('leak');
  const leaked = parseSetupCode(/setup code: (\S+)/.exec(fs.readFileSync(path.join(s.out, s.toys[0]!, 'label.txt'), 'utf8'))![1]!);
  fs.appendFileSync(path.join(s.out, 'audit.log'), `oops ${Buffer.from(leaked.setupSecret).toString('hex')}\n`);
  t.regex(problems(s.out), /audit\.log: contains a secret/);

  s = await fresh('registry');
  const reg = path.join(s.out, 'registry.jsonl');
  fs.writeFileSync(reg, fs.readFileSync(reg, 'utf8').slice(0, -40));
  t.regex(problems(s.out), /registry line 3: not JSON \(corrupt or truncated\?\)/);

  s = await fresh('swap');
  const lines = fs.readFileSync(path.join(s.out, 'registry.jsonl'), 'utf8').split('\n');
  const e0 = JSON.parse(lines[0]!);
  const e1 = JSON.parse(lines[1]!);
  [e0.publicKey, e1.publicKey] = [e1.publicKey, e0.publicKey];
  lines[0] = JSON.stringify(e0);
  lines[1] = JSON.stringify(e1);
  fs.writeFileSync(path.join(s.out, 'registry.jsonl'), lines.join('\n'));
  t.regex(problems(s.out), /registry public key differs from nvs\.bin/);

  s = await fresh('csv', { csv: true });
  const csv = path.join(s.out, s.toys[0]!, 'nvs.csv');
  fs.writeFileSync(csv, fs.readFileSync(csv, 'utf8').replace('mqtt_port,data,i32,1', 'mqtt_port,data,i32,2'));
  t.regex(problems(s.out), /nvs\.csv does not rebuild nvs\.bin/);

  // encryption: keys swapped between two toys, a keys partition with a bad CRC, a truncated one,
  // a plain image under an encrypted batch, the keys leaked into the audit log
  s = await fresh('swapkeys');
  const k0 = path.join(s.out, s.toys[0]!, 'nvs_keys.bin');
  const k1 = path.join(s.out, s.toys[1]!, 'nvs_keys.bin');
  const kb0 = fs.readFileSync(k0);
  fs.writeFileSync(k0, fs.readFileSync(k1));
  fs.writeFileSync(k1, kb0);
  const swapped = problems(s.out);
  t.regex(swapped, new RegExp(`toy ${s.toys[0]}: nvs\\.bin \\(decrypted with nvs_keys\\.bin\\): .*CRC mismatch`));
  t.regex(swapped, new RegExp(`toy ${s.toys[1]}: nvs\\.bin \\(decrypted with nvs_keys\\.bin\\): .*CRC mismatch`));

  s = await fresh('keycrc');
  const kc = path.join(s.out, s.toys[2]!, 'nvs_keys.bin');
  const kcb = fs.readFileSync(kc);
  kcb[5] ^= 0x40;
  fs.writeFileSync(kc, kcb);
  t.regex(problems(s.out), /nvs_keys\.bin: CORRUPT_KEY_PART/);

  s = await fresh('keytrunc');
  fs.truncateSync(path.join(s.out, s.toys[0]!, 'nvs_keys.bin'), 64);
  t.regex(problems(s.out), /nvs_keys\.bin: SIZE .*truncated/);

  s = await fresh('plainbin');
  const pt = path.join(s.out, s.toys[1]!);
  fs.writeFileSync(path.join(pt, 'nvs.bin'), decryptNvsImage(new Uint8Array(fs.readFileSync(path.join(pt, 'nvs.bin'))), parseNvsKeysPartition(new Uint8Array(fs.readFileSync(path.join(pt, 'nvs_keys.bin'))))));
  t.regex(problems(s.out), /nvs\.bin \(decrypted with nvs_keys\.bin\): .*CRC mismatch/, 'a plain image does not pass as encrypted');

  s = await fresh('keyleak');
  const leakedKeys = fs.readFileSync(path.join(s.out, s.toys[0]!, 'nvs_keys.bin')).subarray(0, 32);
  fs.appendFileSync(path.join(s.out, 'audit.log'), `debug ${leakedKeys.toString('base64')}\n`);
  t.regex(problems(s.out), /audit\.log: contains a secret \(.* NVS keys\)/);

  // two toys sharing a check string (40 bits: it happens in a large fleet)
  s = await fresh('checkdup');
  const regFile = path.join(s.out, 'registry.jsonl');
  const regLines = fs.readFileSync(regFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const prior = path.join(dir, 'prior-registry.jsonl');
  fs.writeFileSync(prior, JSON.stringify({ ...regLines[2], toyId: 'e'.repeat(32), mqttUser: 'e'.repeat(32), mqttPasswd: regLines[2].mqttPasswd.replace(/^[0-9a-f]{32}/, 'e'.repeat(32)) }) + '\n');
  t.regex(verifyBatch(s.out, { priorRegistries: [['prior-registry.jsonl', fs.readFileSync(prior, 'utf8')]] }).problems.join('\n'), new RegExp(`registry: toys e{32} and ${regLines[2].toyId} share check string ${regLines[2].check}`), 'against an earlier registry');
  regLines[1].check = regLines[0].check;
  fs.writeFileSync(regFile, regLines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  t.regex(problems(s.out), new RegExp(`registry: toys ${regLines[0].toyId} and ${regLines[1].toyId} share check string ${regLines[0].check}`));

  s = await fresh('plain', { plain: true });
  t.deepEqual(fs.readdirSync(path.join(s.out, s.toys[0]!)).sort(), [...TOY_FILES].sort());
  t.deepEqual(verifyBatch(s.out).problems, [], 'a plain (development) batch verifies');

  // a label squeezed onto a narrower page: its text would be cut off in print
  s = await fresh('narrow');
  const svgFile = path.join(s.out, s.toys[0]!, 'label.svg');
  fs.writeFileSync(svgFile, fs.readFileSync(svgFile, 'utf8').replace('viewBox="0 0 41 ', 'viewBox="0 0 35 '));
  t.regex(problems(s.out), /label\.svg is not the measured layout/);
  t.regex(verifyBatch(s.out, { render: true }).problems.join('\n'), /label\.svg rendered: \d+ dark pixels outside the label margins/);

  s = await fresh('clean');
  t.deepEqual(verifyBatch(s.out).problems, []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a toy whose check string is already taken (this batch or an earlier registry) is made again', async (t) => {
  const dir = tmp();
  const m = maker();
  /** A repeatable random source: the same seed gives the same toys. */
  const seeded = (seed: number) => {
    let s = seed >>> 0;
    return (n: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        b[i] = s >>> 24;
      }
      return b;
    };
  };
  const first = generateToy(ed25519Signer(m.seed), seeded(42));
  const out = path.join(dir, 'b');
  const summary = await provisionBatch({ outDir: out, count: 3, maker: m, mqttHost: 'h', mqttPort: 1, batchId: 'b1', random: seeded(42), knownChecks: new Set([first.check]) });
  t.false(summary.toys.some((x) => x.check === first.check), 'the taken check string is not issued again');
  t.false(summary.toys.some((x) => x.toyId === first.toyId));
  t.regex(fs.readFileSync(path.join(out, 'audit.log'), 'utf8'), /regenerate seq=1 reason=check-string-taken/);
  t.deepEqual(verifyBatch(out).problems, []);
  // the CLI reads earlier registries for both provision and verify
  const keys = path.join(dir, 'keys');
  await runCli(['keygen', '--dir', keys], io());
  const c = io();
  t.is(await runCli(['provision', '--dev-batch', '--out', path.join(dir, 'c'), '--count', '2', '--maker-key', path.join(keys, 'maker.key'), '--registry', path.join(out, 'registry.jsonl')], c), 0, c.errText);
  const v = io();
  t.is(await runCli(['verify', '--out', path.join(dir, 'c'), '--registry', path.join(out, 'registry.jsonl')], v), 0, v.errText);
  const v2 = io();
  t.is(await runCli(['verify', '--out', path.join(dir, 'c'), '--registry', path.join(dir, 'c', 'registry.jsonl')], v2), 0, 'a registry listing the same toys is no collision');
  const p = io();
  t.is(await runCli(['provision', '--dev-batch', '--out', path.join(dir, 'd'), '--count', '1', '--maker-key', path.join(keys, 'maker.key'), '--plain'], p), 0, p.errText);
  t.true(fs.readdirSync(path.join(dir, 'd')).filter((n) => /^[0-9a-f]{32}$/.test(n)).every((n) => fs.existsSync(path.join(dir, 'd', n, 'nvs.csv')) && !fs.existsSync(path.join(dir, 'd', n, 'nvs_keys.bin'))));
  t.regex(fs.readFileSync(path.join(dir, 'd', 'batch.json'), 'utf8'), /"nvsEncryption": "none"/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('provision refuses a reserved or example security contact unless it is a development batch (issue 11)', async (t) => {
  const dir = tmp();
  const keys = path.join(dir, 'keys');
  await runCli(['keygen', '--dir', keys], io());
  const manifest = (contact: string) => {
    const f = path.join(dir, `m-${Math.random().toString(16).slice(2)}.json`);
    fs.writeFileSync(f, JSON.stringify({ config: { firmwareVersion: '1.0.0', device: { model: 'PawPost PP-1', securityContact: contact, securityUpdatesUntil: '2031-12-31' } } }));
    return f;
  };
  const prov = async (m: string, extra: string[] = []) => {
    const x = io();
    const out = path.join(dir, `o-${Math.random().toString(16).slice(2)}`);
    const code = await runCli(['provision', '--out', out, '--count', '1', '--maker-key', path.join(keys, 'maker.key'), '--manifest', m, '--no-progress', ...extra], x);
    return { code, err: x.errText, wrote: fs.existsSync(path.join(out, 'registry.jsonl')) };
  };
  for (const c of ['https://pawpost.example/security', 'mailto:security@example.com', 'https://sec.example.org/', 'https://example.net', 'https://toys.test/sec', 'https://x.invalid', 'http://localhost:8080/', 'mailto:bob@shop.example']) {
    const r = await prov(manifest(c));
    t.is(r.code, 2, c);
    t.regex(r.err, /CONTACT: .*reserved or example name/, c);
    t.false(r.wrote, `nothing written for ${c}`);
  }
  // the repository's own manifest carries pawpost.example: refused by default
  const def = await prov(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'manifest.json'));
  t.is(def.code, 2);
  t.regex(def.err, /pawpost\.example/);
  // a development batch is allowed, with a warning
  const dev = await prov(manifest('https://pawpost.example/security'), ['--dev-batch']);
  t.is(dev.code, 0, dev.err);
  t.regex(dev.err, /development batch/);
  t.true(dev.wrote);
  // a real contact needs no flag; a malformed device block is a clear error
  const real = await prov(manifest('https://security.pawpost-toys.com/report'));
  t.is(real.code, 0, real.err);
  t.regex(real.err, /^$/);
  const badDate = manifest('https://security.pawpost-toys.com/report').replace('.json', '-bad.json');
  fs.writeFileSync(badDate, JSON.stringify({ config: { device: { model: 'PawPost PP-1', securityContact: 'https://security.pawpost-toys.com/', securityUpdatesUntil: 'soon' } } }));
  const bad = await prov(badDate);
  t.is(bad.code, 2);
  t.regex(bad.err, /ARGS: device information/);
  fs.rmSync(dir, { recursive: true, force: true });
});
