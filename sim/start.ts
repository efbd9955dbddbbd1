/**
 * `npm start`: the PawPost simulator. Opens http://127.0.0.1:8080 with the toy,
 * Mum's and Dad's phones and the log. `npm start -- --help` lists the options
 * (sim/start-args.ts). Errors a user can fix (a port in use, a bad argument, a
 * data directory that cannot be written) are one line on stderr and exit code 2,
 * never a stack trace.
 * Run through `node --import tsx --import ./sim/moddable-register.ts` (npm start does).
 */
import { explainStartError, parseStartArgs, START_USAGE } from './start-args.js';
import { startSimulator } from './simulator.js';

const fail = (line: string): never => {
  process.stderr.write(`pawpost simulator: ${line}\n`);
  process.exit(2);
};

const parsed = parseStartArgs(process.argv.slice(2));
if (parsed.kind === 'help') {
  process.stdout.write(START_USAGE);
  process.exit(0);
}
if (parsed.kind === 'error') fail(`${parsed.message} (npm start -- --help lists the options)`);
const args = parsed.kind === 'ok' ? parsed.args : fail('no arguments');

let sim;
try {
  sim = await startSimulator(args);
} catch (e) {
  fail(explainStartError(e, args));
}
console.log(`PawPost simulator: open http://127.0.0.1:${sim!.webPort}/`);
console.log(`  broker (aedes) on 127.0.0.1:${sim!.brokerPort}; toy label code ${sim!.setupCode.slice(0, 8)}… (the parent app scans it)`);
console.log(`  parent command line: npm run parent -- --radio http://127.0.0.1:${sim!.radioPort} --broker mqtt://127.0.0.1:${sim!.brokerPort} ...`);
console.log('  hold the paw 3 s to pair a new toy; Ctrl-C to stop');
const stop = async () => {
  await sim!.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
