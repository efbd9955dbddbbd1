/**
 * `npm start` (sim/start.ts, sim/start-args.ts): --help, and one line on stderr with
 * exit code 2 (no stack trace) for a bad argument, a port in use and a data
 * directory that cannot be written.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainStartError, parseStartArgs } from '../sim/start-args.js';

function start(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './sim/moddable-register.ts', 'sim/start.ts', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function oneLine(t: import('ava').ExecutionContext, stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  t.is(lines.length, 1, `one line: ${stderr}`);
  t.notRegex(stderr, /^\s+at /m, 'no stack');
  return lines[0]!;
}

test('arguments are parsed or refused in words', (t) => {
  t.deepEqual(parseStartArgs([]), { kind: 'ok', args: { dataDir: '.sim-data', webPort: 8080, brokerPort: 18830, trace: false, radioPort: 18831 } });
  t.deepEqual(parseStartArgs(['--port', '0', '--broker-port', '1884', '--data', 'd', '--trace', '--radio-port', '0']), { kind: 'ok', args: { dataDir: 'd', webPort: 0, brokerPort: 1884, trace: true, radioPort: 0 } });
  t.deepEqual(parseStartArgs(['--radio-port', 'abc']), { kind: 'error', message: '--radio-port must be a port number 0..65535, not "abc"' });
  t.deepEqual(parseStartArgs(['-h']), { kind: 'help' });
  for (const [argv, re] of [
    [['--port', 'abc'], /--port must be a port number 0..65535, not "abc"/],
    [['--port', '70000'], /--port must be a port number/],
    [['--port', '-1'], /--port must be a port number/],
    [['--port'], /--port needs a port number/],
    [['--broker-port', '1.5'], /--broker-port must be a port number/],
    [['--data'], /--data needs a directory/],
    [['--data', '--trace'], /--data needs a directory/],
    [['--prot', '80'], /unknown option "--prot"/],
    [['--port', '9000', '--broker-port', '9000'], /both 9000/],
  ] as const) {
    const r = parseStartArgs(argv);
    t.is(r.kind, 'error', argv.join(' '));
    if (r.kind === 'error') t.regex(r.message, re);
  }
  const args = { dataDir: 'x', webPort: 8080, brokerPort: 18830 };
  t.regex(explainStartError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', port: 18830 }), args), /port 18830 .* in use .* --broker-port N/);
  t.regex(explainStartError(Object.assign(new Error('EROFS'), { code: 'EROFS', path: 'x' }), args), /cannot write the data directory "x"/);
  t.regex(explainStartError(new Error('boom\n  at x'), args), /^could not start: boom$/);
});

test('npm start -- --help', (t) => {
  const r = start(['--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Usage: npm start -- \[options\]/);
  t.regex(r.stdout, /--broker-port N/);
  t.is(r.stderr, '');
});

test('a bad argument: one line, exit 2', (t) => {
  const r = start(['--port', 'abc']);
  t.is(r.code, 2);
  t.regex(oneLine(t, r.stderr), /^pawpost simulator: --port must be a port number 0..65535, not "abc"/);
});

test('a port in use: one line, exit 2', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as net.AddressInfo).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-start-'));
  try {
    for (const [args, flag] of [
      [['--port', String(port), '--broker-port', '0'], '--port N'],
      [['--port', '0', '--broker-port', String(port)], '--broker-port N'],
    ] as const) {
      // spawnSync would block this process's event loop, and with it the listener: run the child asynchronously
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        import('node:child_process').then(({ spawn }) => {
          const c = spawn(process.execPath, ['--import', 'tsx', '--import', './sim/moddable-register.ts', 'sim/start.ts', '--data', dir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          c.on('close', (code) => resolve({ code, stderr }));
        });
      });
      t.is(r.code, 2);
      const line = oneLine(t, r.stderr);
      t.regex(line, new RegExp(`port ${port} on 127.0.0.1 is in use`));
      t.true(line.includes(flag), line);
    }
  } finally {
    busy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a data directory that cannot be written: one line, exit 2', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-start-'));
  try {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    const r = start(['--data', path.join(file, 'sim'), '--port', '0', '--broker-port', '0']);
    t.is(r.code, 2);
    t.regex(oneLine(t, r.stderr), /cannot write the data directory ".*a-file\/sim" \(ENOTDIR/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
