/**
 * The simulator's command line (`npm start -- ...`, sim/start.ts): parsing and the
 * one-line explanation of a start-up failure. Kept apart from start.ts so tests
 * can check them without starting anything.
 *
 * parseStartArgs never throws: unknown options, a missing value, a port that is not
 * an integer 0..65535 are { kind: 'error', message } in words.
 */
import type { SimulatorOptions } from './simulator.js';

export const START_USAGE = `PawPost simulator: the toy's firmware, its relay and the family's phones on this computer.

Usage: npm start -- [options]

Options:
  --port N          web page port on 127.0.0.1 (default 8080; 0 picks a free one)
  --broker-port N   embedded MQTT broker port on 127.0.0.1 (default 18830; 0 picks a free one)
  --radio-port N    the simulated radio and relay stand-in for \`npm run parent\` (default 18831; 0 picks a free one)
  --data DIR        where the toy's flash, the factory output and the phones' keys live
                    (default .sim-data; delete it for a factory-new toy)
  --trace           print the toy's trace lines
  -h, --help        this text

Then open http://127.0.0.1:8080/ (docs/USER-GUIDE.md, "The simulator").
`;

export type StartArgs = { kind: 'ok'; args: SimulatorOptions } | { kind: 'help' } | { kind: 'error'; message: string };

function port(name: string, v: string | undefined): number | string {
  if (v === undefined || v.startsWith('--')) return `--${name} needs a port number`;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) return `--${name} must be a port number 0..65535, not "${v.slice(0, 20)}"`;
  return Number(v);
}

export function parseStartArgs(argv: readonly string[]): StartArgs {
  const args: SimulatorOptions = { dataDir: '.sim-data', webPort: 8080, brokerPort: 18830, trace: false, radioPort: 18831 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '-h':
      case '--help':
        return { kind: 'help' };
      case '--trace':
        args.trace = true;
        break;
      case '--port':
      case '--broker-port':
      case '--radio-port': {
        const p = port(a.slice(2), argv[++i]);
        if (typeof p === 'string') return { kind: 'error', message: p };
        if (a === '--port') args.webPort = p;
        else if (a === '--radio-port') args.radioPort = p;
        else args.brokerPort = p;
        break;
      }
      case '--data': {
        const d = argv[++i];
        if (d === undefined || d === '' || d.startsWith('--')) return { kind: 'error', message: '--data needs a directory' };
        args.dataDir = d;
        break;
      }
      default:
        return { kind: 'error', message: `unknown option "${a.slice(0, 40)}"` };
    }
  }
  if (args.webPort !== 0 && args.webPort === args.brokerPort) return { kind: 'error', message: `--port and --broker-port are both ${args.webPort}` };
  return { kind: 'ok', args };
}

/** One line saying why the simulator could not start, and what to do. */
export function explainStartError(e: unknown, args: SimulatorOptions): string {
  const err = e as NodeJS.ErrnoException & { port?: number; address?: string; path?: string };
  switch (err?.code) {
    case 'EADDRINUSE': {
      const which = err.port === args.brokerPort && args.brokerPort !== 0 ? '--broker-port N' : err.port === args.radioPort && args.radioPort !== 0 ? '--radio-port N' : '--port N';
      return `port ${err.port ?? '?'} on 127.0.0.1 is in use (another simulator running?): stop it, or choose another port with ${which} (0: any free port)`;
    }
    case 'EACCES':
      if (err.syscall === 'listen') return `not allowed to listen on port ${err.port ?? '?'}: choose a port above 1023`;
      return `cannot write the data directory "${args.dataDir}" (${err.path ?? 'permission denied'}): choose another with --data DIR`;
    case 'ENOENT': // a parent of the data directory cannot be made (another ENOENT is not the data directory's)
    case 'EROFS':
    case 'ENOTDIR':
    case 'EEXIST':
    case 'ENOSPC':
    case 'EPERM':
      if (err.code !== 'ENOENT' || err.syscall === 'mkdir')
        return `cannot write the data directory "${args.dataDir}" (${err.code}${err.path ? `: ${err.path}` : ''}): choose another with --data DIR`;
  }
  return `could not start: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
}
