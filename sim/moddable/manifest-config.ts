/**
 * The firmware's build configuration as mcconfig would give it to the device:
 * manifest.json's top-level "config"/"defines" merged with the "esp32"
 * platform's (the simulator models the device). Read once from the repo's
 * manifest.json, so the simulator and the device share one source of pins,
 * queue lengths and sample rates.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

type Json = Record<string, unknown>;

function merge(into: Json, from: unknown): Json {
  if (!from || typeof from !== 'object') return into;
  for (const [k, v] of Object.entries(from as Json)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) into[k] = merge((into[k] as Json) ?? {}, v);
    else into[k] = v;
  }
  return into;
}

const manifest = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../manifest.json', import.meta.url)), 'utf8')) as {
  config?: Json;
  defines?: Json;
  platforms?: Record<string, { config?: Json; defines?: Json }>;
};

/** mc/config as the device sees it (file.root is LittleFS's "/"). */
export const deviceConfig: Json = merge(merge(merge({}, manifest.config), manifest.platforms?.esp32?.config), { file: { root: '/' } });

/** The manifest "defines" (MODDEF_* on the device). */
export const deviceDefines: Json = merge(merge({}, manifest.defines), manifest.platforms?.esp32?.defines);
