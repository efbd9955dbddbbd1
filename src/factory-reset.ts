/**
 * Factory reset: wipes the toy's data StoragePort (family roster, network
 * settings, stored messages, replay counters, everything) and keeps the factory
 * identity, which lives in a separate read-only NVS StoragePort this function
 * never sees. Portable.
 *
 * Kept on purpose (KEPT_KEYS): the enrollment notice counter ('eg.seq',
 * src/enrollment-notices.ts: the relay refuses notices whose number does not
 * rise), and the family note counter ('fn.seq', src/family-service.ts: phones
 * refuse a receipt or notice whose number does not rise). The toy's own send counter ('rp.tx',
 * src/replay-guard.ts): the identity survives the reset, and phones keep their
 * replay record for it, so its counter must keep rising or a re-paired phone
 * would refuse the toy's messages as replays. The receive replay record ('rp.rx'):
 * a phone paired again keeps its key, so without it every captured message from
 * that phone would play once more (docs/PROTOCOL.md; it holds public keys and
 * counters, no names, no audio). And the pairing lockout record ('pairlock',
 * src/pairing-lockout.ts). A reset needs only a local press, so without this an
 * attacker holding the toy could reset it to get five fresh guesses every ten
 * minutes x restarts; the lockout expires by itself within LOCKOUT_MS, so keeping
 * it never bricks the toy. The firmware update's stored security version and
 * pending record ('upd.secver', 'upd.pending', src/update-client.ts): anti-rollback
 * must not be undone by a local press.
 *
 * Power cuts: the reset first writes a marker (RESET_MARKER_KEY), removes every
 * other key, then removes the marker. If the power fails in between, the marker
 * survives and `resumeFactoryReset` (call it at boot, before anything reads the
 * data storage) finishes the job. The order of removal puts the roster and the
 * network settings first (who may talk to the child, and the Wi-Fi passphrase).
 *
 * The caller must afterwards drop its in-memory copies (Roster.reload(), the
 * MQTT session's settings, the message queue): this function only touches storage.
 *
 * Errors: FactoryResetError('IO') when some keys could not be removed (their
 * count in `failed`); the marker then stays, so the next boot retries. Never
 * logs or returns values.
 */
import type { StoragePort } from '../hal/ports.js';
import { LOCKOUT_KEY } from './pairing-lockout.js';
import { NOTICE_SEQ_KEY } from './enrollment-notices.js';
import { NOTE_SEQ_KEY as FAMILY_NOTE_SEQ_KEY } from './family-service.js';
import { NETWORK_SETTINGS_KEY } from './network-settings.js';
import { ROSTER_KEY } from './roster.js';
import { RECEIVE_RECORD_KEY, SEND_COUNTER_KEY } from './replay-guard.js';
import { PENDING_KEY, SECURITY_VERSION_KEY } from './update-client.js';

export const RESET_MARKER_KEY = 'reset.pending';
/** Keys that survive a factory reset. */
export const KEPT_KEYS: readonly string[] = [LOCKOUT_KEY, SEND_COUNTER_KEY, RECEIVE_RECORD_KEY, NOTICE_SEQ_KEY, SECURITY_VERSION_KEY, PENDING_KEY, FAMILY_NOTE_SEQ_KEY];

export class FactoryResetError extends Error {
  override readonly name = 'FactoryResetError';
  readonly code = 'IO' as const;
  constructor(readonly failed: number) {
    super(`factory reset: ${failed} key(s) could not be removed`);
  }
}

/**
 * Removes every key of `dataStorage` except KEPT_KEYS. Returns the number of keys
 * removed. Idempotent. Throws FactoryResetError when any removal failed (it still
 * tries every key), or the storage's PortError when even the marker cannot be written.
 */
export function factoryReset(dataStorage: StoragePort): number {
  dataStorage.write(RESET_MARKER_KEY, Uint8Array.of(1));
  return wipeAll(dataStorage);
}

/** At boot: finishes a reset a power cut interrupted. Returns true when one was pending. Throws like factoryReset. */
export function resumeFactoryReset(dataStorage: StoragePort): boolean {
  if (dataStorage.read(RESET_MARKER_KEY) === undefined) return false;
  wipeAll(dataStorage);
  return true;
}

function wipeAll(s: StoragePort): number {
  const first = [ROSTER_KEY, NETWORK_SETTINGS_KEY];
  const all = s.keys().filter((k) => k !== RESET_MARKER_KEY && !KEPT_KEYS.includes(k));
  const order = [...first.filter((k) => all.includes(k)), ...all.filter((k) => !first.includes(k))];
  let removed = 0;
  let failed = 0;
  for (const k of order) {
    try {
      s.remove(k);
      removed++;
    } catch {
      failed++;
    }
  }
  if (failed > 0) throw new FactoryResetError(failed);
  s.remove(RESET_MARKER_KEY);
  return removed;
}
