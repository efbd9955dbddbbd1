/**
 * The factory's NVS image in the form the SDK's `lin` `preference` module reads:
 * `<file.root>modpreferences.json`, `{ "<namespace>": { "<key>": value } }` with
 * strings as strings, blobs as `{ "buffer": "1,2,3" }` (modules/files/preference/lin),
 * a u8 as a boolean (the ESP32 preference module reads a u8 back as a boolean)
 * and other integers as numbers. The image is mounted by the factory's own
 * model of ESP-IDF's NVS (factory/nvs-mount.ts: decrypted with its nvs_keys
 * partition when the batch is encrypted, as ESP-IDF does below `preference`),
 * so a lin toy is provisioned with exactly the entries an ESP32 would read.
 */
import { mountNvsPartition } from '../factory/nvs-mount.js';

export type LinPreferences = Record<string, Record<string, string | number | boolean | { buffer: string }>>;

export function linPreferencesFromNvs(image: Uint8Array, keysPartition?: Uint8Array): LinPreferences {
  const mounted = mountNvsPartition(image, { keysPartition });
  if (mounted.status !== 'MOUNTED') throw new Error(`the NVS image does not mount: ${mounted.status}`);
  const out: LinPreferences = {};
  for (const item of mounted.items) {
    const ns = (out[item.namespace] ??= {});
    if (item.type === 'blob') ns[item.key] = { buffer: Array.from(item.value).join(',') };
    else if (item.type === 'string') ns[item.key] = item.value;
    else if (item.type === 'u8') ns[item.key] = item.value !== 0;
    else ns[item.key] = item.value;
  }
  return out;
}
