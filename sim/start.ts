/**
 * `npm start`: the PawPost simulator. Opens http://127.0.0.1:8080 with the toy,
 * the parent's phone and the log. Options: --port N (web page), --broker-port N,
 * --data DIR (default .sim-data; delete it for a factory-new toy), --trace.
 * Run through `node --import tsx --import ./sim/moddable-register.ts` (npm start does).
 */
import { startSimulator } from './simulator.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const sim = await startSimulator({
  dataDir: arg('data', '.sim-data'),
  webPort: Number(arg('port', '8080')),
  brokerPort: Number(arg('broker-port', '18830')),
  trace: process.argv.includes('--trace'),
  radioPort: Number(arg('radio-port', '18831')),
});
console.log(`PawPost simulator: open http://127.0.0.1:${sim.webPort}/`);
console.log(`  broker (aedes) on 127.0.0.1:${sim.brokerPort}; toy label code ${sim.setupCode.slice(0, 8)}… (the parent app scans it)`);
console.log(`  parent command line: npm run parent -- --radio http://127.0.0.1:${sim.radioPort} --broker mqtt://127.0.0.1:${sim.brokerPort} ...`);
console.log('  hold the paw 3 s to pair a new toy; Ctrl-C to stop');
const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
