/**
 * `npm test`: type checks, the ava tier (Node), the XS tier (@agoric/xsnap), the XS tier
 * with the device's C (tools/xs-native/) and the device tier,
 * then one closing line `N passed, N failed` over all of them.
 * Each tsc run counts as one check. Exit code 1 when anything failed.
 */
import { spawn } from 'node:child_process';

interface Tally { passed: number; failed: number; skipped: number }

function run(cmd: string, args: string[], onLine: (l: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let buf = '';
    const feed = (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    p.stdout.on('data', feed);
    p.stderr.on('data', feed);
    p.on('close', (code) => {
      if (buf) onLine(buf);
      resolve(code ?? 1);
    });
  });
}

const total: Tally = { passed: 0, failed: 0, skipped: 0 };
const bin = (n: string) => `node_modules/.bin/${n}`;

for (const [label, project] of [
  ['tsc (host: sim, factory, tests, tools)', 'tsconfig.json'],
  ['tsc (firmware: src, audio, hal with @moddable/typings)', 'tsconfig.firmware.json'],
] as const) {
  const lines: string[] = [];
  const code = await run(bin('tsc'), ['-p', project, '--noEmit'], (l) => lines.push(l));
  if (code === 0) {
    total.passed++;
    console.log(`  ✔ ${label}`);
  } else {
    total.failed++;
    console.log(`  ✘ ${label}\n${lines.join('\n')}`);
  }
}

// ava, TAP reporter so the counts can be read
{
  let pass = 0;
  let fail = 0;
  let skip = 0;
  const code = await run(bin('ava'), ['--tap', ...process.argv.slice(2)], (l) => {
    console.log(l);
    let m: RegExpMatchArray | null;
    if ((m = l.match(/^# pass (\d+)/))) pass = Number(m[1]);
    else if ((m = l.match(/^# fail (\d+)/))) fail = Number(m[1]);
    else if ((m = l.match(/^# skip (\d+)/))) skip = Number(m[1]);
  });
  if (code !== 0 && fail === 0) fail = 1; // ava itself failed (an uncaught error, a timeout)
  total.passed += pass;
  total.failed += fail;
  total.skipped += skip;
  console.log(`ava: ${pass} passed, ${fail} failed`);
}

// XS tier
{
  let pass = 0;
  let fail = 0;
  const code = await run(process.execPath, ['--import=tsx', 'tools/xs-test.ts'], (l) => {
    const m = l.match(/^xs: (\d+) passed, (\d+) failed$/);
    if (m) {
      pass = Number(m[1]);
      fail = Number(m[2]);
    }
    console.log(l);
  });
  if (code !== 0 && fail === 0) fail = 1;
  total.passed += pass;
  total.failed += fail;
}

// XS tier with the device's C (tools/xs-native/): crypto, envelope and pairing tests with the
// native CryptoPort, and the native-only tests. Skipped, with one line saying why, without gcc
// or the libsodium / libopus -dev packages. The worker is built once per source hash (cached).
{
  let pass = 0;
  let fail = 0;
  let skipped = false;
  const code = await run(process.execPath, ['--import=tsx', 'tools/xs-test.ts', '--native'], (l) => {
    const m = l.match(/^xs-native: (\d+) passed, (\d+) failed$/);
    if (m) {
      pass = Number(m[1]);
      fail = Number(m[2]);
    }
    if (l.startsWith('xs-native: skipped')) skipped = true;
    console.log(l);
  });
  if (code !== 0 && fail === 0) fail = 1;
  total.passed += pass;
  total.failed += fail;
  if (skipped) total.skipped++;
}

// Device tier: the firmware built by the real Moddable SDK, in the SDK's own runtime (tools/device-test.ts).
// Skipped, with one line saying why, when no built SDK, xvfb-run or mosquitto is present.
{
  let pass = 0;
  let fail = 0;
  let skipped = false;
  const code = await run(process.execPath, ['--import=tsx', 'tools/device-test.ts'], (l) => {
    const m = l.match(/^device: (\d+) passed, (\d+) failed$/);
    if (m) {
      pass = Number(m[1]);
      fail = Number(m[2]);
    }
    if (l.startsWith('device: skipped')) skipped = true;
    console.log(l);
  });
  if (code !== 0 && fail === 0) fail = 1;
  total.passed += pass;
  total.failed += fail;
  if (skipped) total.skipped++;
}

console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exitCode = total.failed > 0 ? 1 : 0;
