/**
 * `provision --broker-ca`: the broker's CA certificate (DER) goes into every toy's
 * NVS as `mqtt_ca`, the toy's identity loader reads it back, `verify` accepts the
 * batch, and a file that is not a certificate is refused before anything is written.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makerKeygen, readMakerSecretKey } from '../factory/maker-key.js';
import { ProvisionError, provisionBatch } from '../factory/provision-batch.js';
import { mountNvsPartition } from '../factory/nvs-mount.js';
import { NvsItemsStorage, verifyBatch } from '../factory/verify-batch.js';
import { loadIdentity } from '../src/identity.js';

const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;

test('the broker CA reaches every toy as mqtt_ca and loads; a non-certificate is refused', async (t) => {
  if (!hasOpenssl) return t.pass('openssl missing: skipped');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ca-'));
  try {
    spawnSync('sh', ['-c', 'openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=t" 2>/dev/null && openssl x509 -in ca.crt -outform DER -out ca.der'], { cwd: dir });
    const der = new Uint8Array(fs.readFileSync(path.join(dir, 'ca.der')));
    makerKeygen(dir);
    const maker = readMakerSecretKey(path.join(dir, 'maker.key'));
    const out = path.join(dir, 'batch');
    await provisionBatch({ outDir: out, count: 2, maker, mqttHost: 'relay.example', mqttPort: 8883, mqttCa: der });
    for (const id of fs.readdirSync(out).filter((d) => /^[0-9a-f]{32}$/.test(d))) {
      const mounted = mountNvsPartition(new Uint8Array(fs.readFileSync(path.join(out, id, 'nvs.bin'))), { keysPartition: new Uint8Array(fs.readFileSync(path.join(out, id, 'nvs_keys.bin'))) });
      t.deepEqual(loadIdentity(new NvsItemsStorage(mounted.items)).mqttCa, der);
    }
    const v = verifyBatch(out);
    t.is(v.problems.length, 0, v.problems.join('; '));
    const err = await t.throwsAsync(provisionBatch({ outDir: path.join(dir, 'b2'), count: 1, maker, mqttHost: 'relay.example', mqttPort: 8883, mqttCa: new Uint8Array(100).fill(0x41) }));
    t.true(err instanceof ProvisionError && err.code === 'ARGS');
    t.false(fs.existsSync(path.join(dir, 'b2', 'registry.jsonl')), 'nothing written');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
