/**
 * Mosquitto `$7$` password lines: a vector written by the real mosquitto_passwd,
 * the format of ours, and a real mosquitto (2.0.x) that accepts the credentials
 * the factory generates and refuses wrong ones (started on a free loopback port
 * with a temp config; killed at the end).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, hasMosquitto, startMosquitto, stopMosquitto } from './mosquitto-broker-rig.js';
import {
  MosquittoPasswdError, mosquittoPasswdLine, parseMosquittoPasswdLine, verifyMosquittoPassword,
} from '../factory/mosquitto-passwd.js';

/** Written by `mosquitto_passwd -b -c f pawpost-test 'throwaway password 1'` (mosquitto 2.0.11); a throwaway password. */
const REAL_LINE = 'pawpost-test:$7$101$pmYT6ujMAOFxyWaV$ln29yZnlBxQysp68suQ8FIIUm6uRAzRUsfxRtd5BpY7dLJLcyzsGAIfiLtTV9qfsMFrB/1YWwEqHcNrVXK35RA==';

test('a line written by mosquitto_passwd verifies, and only with its password', (t) => {
  t.true(verifyMosquittoPassword(REAL_LINE, 'throwaway password 1'));
  t.false(verifyMosquittoPassword(REAL_LINE, 'throwaway password 2'));
  const p = parseMosquittoPasswdLine(REAL_LINE);
  t.is(p.username, 'pawpost-test');
  t.is(p.iterations, 101);
  // Same salt, same password: our line is the same line.
  t.is(mosquittoPasswdLine('pawpost-test', 'throwaway password 1', p.salt), REAL_LINE);
});

test('our lines have the mosquitto_passwd shape: $7$101$, 12-byte salt, 64-byte hash, random salt', (t) => {
  const a = mosquittoPasswdLine('0123456789abcdef0123456789abcdef', 'pw');
  const b = mosquittoPasswdLine('0123456789abcdef0123456789abcdef', 'pw');
  t.regex(a, /^0123456789abcdef0123456789abcdef:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  t.not(a, b, 'fresh salt each time');
});

test('bad lines and names are typed errors', (t) => {
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'none';
    } catch (e) {
      return e instanceof MosquittoPasswdError ? e.code : 'untyped';
    }
  };
  t.is(code(() => mosquittoPasswdLine('a:b', 'pw')), 'USERNAME');
  t.is(code(() => mosquittoPasswdLine('', 'pw')), 'USERNAME');
  t.is(code(() => mosquittoPasswdLine('u', '')), 'PASSWORD');
  t.is(code(() => parseMosquittoPasswdLine('no colon')), 'FORMAT');
  t.is(code(() => parseMosquittoPasswdLine('u:$6$salt$hash')), 'FORMAT');
  t.is(code(() => parseMosquittoPasswdLine(REAL_LINE.slice(0, -10))), 'FORMAT', 'truncated');
  t.is(code(() => parseMosquittoPasswdLine(REAL_LINE.replace('$101$', '$x$'))), 'FORMAT');
});

(hasMosquitto ? test : test.skip)('a real mosquitto accepts the generated credentials and refuses wrong ones', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-mosq-'));
  const toys = [0, 1, 2].map(() => ({ user: randomBytes(16).toString('hex'), password: randomBytes(24).toString('base64url') }));
  const passwd = path.join(dir, 'passwd');
  fs.writeFileSync(passwd, toys.map((x) => mosquittoPasswdLine(x.user, x.password) + '\n').join(''), { mode: 0o600 });
  const { port, proc } = await startMosquitto(dir, passwd);
  try {
    for (const x of toys) t.is(await connect(port, x.user, x.password), 'ok', 'right password');
    t.regex(await connect(port, toys[0]!.user, toys[1]!.password), /^refused:(4|5)$/, "another toy's password");
    t.regex(await connect(port, toys[0]!.user, toys[0]!.password + 'x'), /^refused:(4|5)$/, 'password with a byte added');
    t.regex(await connect(port, 'nobody', toys[0]!.password), /^refused:(4|5)$/, 'unknown user');
  } finally {
    await stopMosquitto(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
