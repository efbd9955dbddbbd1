/**
 * Factory provisioning throughput: toys provisioned per second (a batch of
 * 1000 with encrypted NVS and SVG labels, files on a temp dir; the same with
 * plain NVS), the same with PNG labels (100 toys),
 * the cost of the parts (X25519 key pair + Ed25519 signature, PBKDF2 hash,
 * NVS image, QR label), `verify` throughput, and the firmware's start-up
 * identity load as XS compute steps. All measured in this run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { BenchRow, BenchSection } from './table.js';
import { generateToy, provisionBatch, toyNvsItems } from '../factory/provision-batch.js';
import { verifyBatch } from '../factory/verify-batch.js';
import { buildNvsImage } from '../factory/nvs-image.js';
import { encryptNvsImage, generateNvsKeys } from '../factory/nvs-encryption.js';
import { mosquittoPasswdLine } from '../factory/mosquitto-passwd.js';
import { makeLabel } from '../factory/label.js';
import { ed25519Signer } from '../factory/node-crypto.js';
import { XsSession } from '../tools/xs-worker.js';

function perSecond(n: number, fn: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (n * 1000) / (performance.now() - t0);
}

export const section: BenchSection = {
  title: 'Factory provisioning (Node, one process)',
  async run(): Promise<BenchRow[]> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pawpost-bench-'));
    try {
      const seed = randomBytes(32);
      const maker = { publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey, seed };
      const signer = ed25519Signer(seed);
      const rows: BenchRow[] = [];
      const N = 1000;
      let t0 = performance.now();
      await provisionBatch({ outDir: path.join(tmp, 'svg'), count: N, maker, mqttHost: 'mqtt.example', mqttPort: 8883 });
      const svgSecs = (performance.now() - t0) / 1000;
      rows.push({ what: `provision ${N} toys, NVS encrypted (XTS-AES, per-toy keys), SVG labels, files written`, value: N / svgSecs, unit: 'toys / s', note: `${svgSecs.toFixed(2)} s for the batch` });
      t0 = performance.now();
      await provisionBatch({ outDir: path.join(tmp, 'plain'), count: N, maker, mqttHost: 'mqtt.example', mqttPort: 8883, plain: true });
      const plainSecs = (performance.now() - t0) / 1000;
      rows.push({ what: `provision ${N} toys, plain NVS (--plain, development)`, value: N / plainSecs, unit: 'toys / s', note: `${plainSecs.toFixed(2)} s for the batch` });
      const P = 100;
      t0 = performance.now();
      await provisionBatch({ outDir: path.join(tmp, 'png'), count: P, maker, mqttHost: 'mqtt.example', mqttPort: 8883, png: true });
      rows.push({ what: `provision ${P} toys with PNG labels too`, value: P / ((performance.now() - t0) / 1000), unit: 'toys / s' });
      t0 = performance.now();
      const report = verifyBatch(path.join(tmp, 'svg'));
      if (report.problems.length) throw new Error(`verify found ${report.problems.length} problems`);
      rows.push({ what: `verify ${N} encrypted toys`, value: N / ((performance.now() - t0) / 1000), unit: 'toys / s', note: 'keys check, decrypt + re-encrypt, parse, identity + signature check, label, secret scan' });
      t0 = performance.now();
      const rendered = verifyBatch(path.join(tmp, 'png'), { render: true });
      if (rendered.problems.length) throw new Error(`verify --render found ${rendered.problems.length} problems`);
      rows.push({ what: `verify --render ${P} toys (labels rasterized, QR decoded from pixels)`, value: P / ((performance.now() - t0) / 1000), unit: 'toys / s' });
      rows.push({ what: 'generate identity (X25519 + Ed25519 sign, node:crypto)', value: perSecond(300, () => generateToy(signer)), unit: 'toys / s' });
      const tn = nacl.sign.keyPair.fromSeed(seed).secretKey;
      rows.push({ what: 'same with tweetnacl (for comparison)', value: perSecond(100, () => { nacl.box.keyPair.fromSecretKey(randomBytes(32)); nacl.sign.detached(randomBytes(62), tn); }), unit: 'toys / s' });
      rows.push({ what: 'mosquitto $7$ hash (PBKDF2-SHA512, 101 it.)', value: perSecond(2000, () => mosquittoPasswdLine('u'.repeat(32), 'p'.repeat(32))), unit: 'lines / s' });
      const t = generateToy(signer);
      const items = toyNvsItems(t, 'mqtt.example', 8883);
      rows.push({ what: 'NVS image 0x6000 bytes', value: perSecond(2000, () => buildNvsImage(items, 0x6000)), unit: 'images / s' });
      const plainImage = buildNvsImage(items, 0x6000);
      const nvsKeys = generateNvsKeys(randomBytes);
      rows.push({ what: 'encrypt that image (XTS-AES-256 per written entry, node:crypto)', value: perSecond(2000, () => encryptNvsImage(plainImage, nvsKeys)), unit: 'images / s' });
      rows.push({ what: 'label (QR alphanumeric, measured text as outlines, SVG)', value: perSecond(1000, () => makeLabel({ toyId: t.toyId, setupSecret: t.setupSecret, checkString: t.check })), unit: 'labels / s' });
      const xs = await XsSession.start(new URL('./xs/identity-entry.ts', import.meta.url).pathname);
      try {
        await xs.call('setup');
        await xs.call('load');
        const plain = await xs.call('load');
        if (plain.result !== 32) throw new Error('identity did not load in XS');
        rows.push({ what: 'firmware start-up: loadIdentity in XS (11 keys, validation)', value: plain.compute, unit: 'XS steps', note: 'ESP32 ~70-100x slower than desktop XS' });
        const checked = await xs.call('load-checked');
        rows.push({ what: 'same + key-pair and maker signature check (tweetnacl)', value: checked.compute, unit: 'XS steps', note: 'one X25519 + one Ed25519 verify' });
      } finally {
        await xs.close();
      }
      return rows;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
};
