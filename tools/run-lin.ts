/**
 * `npm run lin` — the firmware on the Moddable SDK's `lin` simulator, headless,
 * the way a developer tries it: builds the product manifest (not the test build)
 * with mcconfig `-t build` into .build/lin (never a `-d` target that runs
 * `pkill mcsim`), with `config.file.root` set to this checkout's `.lin-data/`
 * (not the SDK's shared /tmp), provisions that flash from the factory's own code
 * on first use (a maker key, one toy, its NVS image mounted as ESP-IDF would and
 * written as lin's preference file), and runs mcsim under xvfb-run, printing the
 * firmware's trace until Ctrl-C.
 *
 *   npm run lin                      build if needed, provision if needed, run
 *   npm run lin -- --fresh           wipe .lin-data/ first (a factory-new toy)
 *   npm run lin -- --broker host:port  the broker the factory writes (default localhost:8883)
 *   npm run lin -- --build-only      build, print the CREATION line, exit
 *
 * The SDK: $MODDABLE, else the cache of tools/prepare-moddable.sh.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildFirmware, creationLine, findSdk, FirmwareRun, hasXvfb } from './moddable-runtime.js';
import { linPreferencesFromNvs } from './lin-nvs.js';
import { makerKeygen, readMakerSecretKey } from '../factory/maker-key.js';
import { provisionBatch } from '../factory/provision-batch.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { fresh: { type: 'boolean' }, broker: { type: 'string' }, 'build-only': { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: npm run lin [-- --fresh] [--broker host:port] [--build-only]');
    return 0;
  }
  const sdk = findSdk();
  if ('missing' in sdk) {
    console.error(`lin: ${sdk.missing}`);
    return 2;
  }
  const data = path.join(ROOT, '.lin-data');
  if (values.fresh) fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(data, { recursive: true, mode: 0o700 });
  const app = path.join(ROOT, '.build', 'lin-app');
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'manifest.json'), JSON.stringify({ include: [path.join(ROOT, 'manifest.json')], config: { file: { root: data + '/' } } }, null, 1));
  const built = buildFirmware(sdk, path.join(app, 'manifest.json'), path.join(ROOT, '.build', 'lin'));
  if (!built.ok) {
    console.error(built.output.split('\n').filter((l) => /error|Error/.test(l)).slice(0, 10).join('\n'));
    return 1;
  }
  console.log(`lin: built in ${built.seconds.toFixed(0)} s: ${creationLine(built.makefile) ?? ''}`);
  if (values['build-only']) return 0;
  const prefs = path.join(data, 'modpreferences.json');
  if (!fs.existsSync(prefs)) {
    const [host, port] = (values.broker ?? 'localhost:8883').split(':');
    const factory = path.join(data, 'factory');
    fs.mkdirSync(factory, { recursive: true, mode: 0o700 });
    makerKeygen(factory);
    const batch = path.join(factory, 'batch');
    await provisionBatch({ outDir: batch, count: 1, maker: readMakerSecretKey(path.join(factory, 'maker.key')), mqttHost: host!, mqttPort: Number(port ?? 8883) });
    const toy = fs.readdirSync(batch).find((d) => /^[0-9a-f]{32}$/.test(d))!;
    const keys = path.join(batch, toy, 'nvs_keys.bin');
    const p = linPreferencesFromNvs(new Uint8Array(fs.readFileSync(path.join(batch, toy, 'nvs.bin'))), fs.existsSync(keys) ? new Uint8Array(fs.readFileSync(keys)) : undefined);
    fs.writeFileSync(prefs, JSON.stringify(p), { mode: 0o600 });
    console.log(`lin: provisioned toy ${toy.slice(0, 8)}… (label and setup code in ${path.relative(ROOT, path.join(batch, toy))}/label.txt)`);
  }
  if (!hasXvfb()) {
    console.error('lin: xvfb-run is needed to start mcsim headless (Debian package xvfb)');
    return 2;
  }
  const run = await FirmwareRun.start(sdk, built.so, { onLine: (l) => console.log(l) });
  const stop = () => void run.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await run.waitExit(24 * 3600 * 1000);
  return run.exitCode ?? 0;
}

process.exitCode = await main();
