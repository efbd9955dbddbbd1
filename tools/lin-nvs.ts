/**
 * The factory's NVS image in the form the SDK's `lin` `preference` module reads:
 * `<file.root>modpreferences.json`, `{ "<namespace>": { "<key>": value } }` with
 * strings as strings, blobs as `{ "buffer": "1,2,3" }` (modules/files/preference/lin),
 * a u8 as a boolean (the ESP32 preference module reads a u8 back as a boolean)
 * and other integers as numbers. The image is parsed and checked by the
 * factory's own reader (factory/nvs-image.ts), so a lin toy is provisioned with
 * exactly the entries an ESP32 would read from flash.
 */
import { parseNvsImage } from '../factory/nvs-image.js';

export type LinPreferences = Record<string, Record<string, string | number | boolean | { buffer: string }>>;

export function linPreferencesFromNvs(image: Uint8Array): LinPreferences {
  const out: LinPreferences = {};
  for (const item of parseNvsImage(image).items) {
    const ns = (out[item.namespace] ??= {});
    if (item.type === 'blob') ns[item.key] = { buffer: Array.from(item.value).join(',') };
    else if (item.type === 'string') ns[item.key] = item.value;
    else if (item.type === 'u8') ns[item.key] = item.value !== 0;
    else ns[item.key] = item.value;
  }
  return out;
}
