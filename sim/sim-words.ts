/**
 * The simulator's words: what the page tells a parent or a developer instead of
 * event keys and error codes. Three tables, each with a fallback so nothing new
 * is lost:
 *
 * - toyLogInWords(line): one trace line of the toy (`level event key=value ...`,
 *   hal/moddable-log.ts) → a sentence, or undefined for a line only the technical
 *   log keeps (timers, retries). Unknown events come back as "toy: <event>".
 * - pairingErrorInWords(e): a pairing failure (PairingError, SetupCodeError or a
 *   transport Error) → what the parent can do about it.
 * - COUNTER_NOTICES: toy counters whose increase is a silent case on the device
 *   (a squeeze too short, a paw press during playback, the 60 s cap, ...) → the
 *   feedback the page shows.
 *
 * No secrets pass through here: trace lines never carry them (LogPort contract)
 * and error messages never hold a code or a key (phone/phone-pairing.ts).
 */
import { PairingError } from '../src/pairing-protocol.js';
import { SetupCodeError } from '../src/setup-code.js';

type Fields = Record<string, string>;

/** Parses `level event k=v k=v` (values have no spaces: the log adapter prints numbers and short tokens). */
export function parseTraceLine(line: string): { level: string; event: string; fields: Fields } | undefined {
  const parts = line.trim().split(' ');
  if (parts.length < 2 || !/^(debug|info|warn|error)$/.test(parts[0]!)) return undefined;
  const fields: Fields = {};
  for (const p of parts.slice(2)) {
    const i = p.indexOf('=');
    if (i > 0) fields[p.slice(0, i)] = p.slice(i + 1);
  }
  return { level: parts[0]!, event: parts[1]!, fields };
}

const plural = (n: string | undefined, one: string, many = one + 's') => `${n ?? '?'} ${n === '1' ? one : many}`;

const MQTT_STATE: Record<string, string | undefined> = {
  online: 'toy: connected to the relay',
  waiting: 'toy: not connected to the relay; it will try again',
};

const PAIR_END: Record<string, string> = {
  paired: 'toy: pairing finished: the phone is in the family',
  timeout: 'toy: pairing mode ended (2 minutes passed)',
  cancelled: 'toy: pairing mode cancelled',
  locked: 'toy: pairing locked after too many wrong codes',
  failed: 'toy: pairing failed',
};

/** What the toy's trace line means, in words; undefined when it is only for the technical log. */
export function toyLogInWords(line: string): string | undefined {
  const t = parseTraceLine(line);
  if (!t) return undefined;
  const f = t.fields;
  switch (t.event) {
    case 'app.started':
      return `toy: started (${plural(f.family, 'phone')} in the family, ${plural(f.waiting, 'message')} waiting)`;
    case 'identity.loaded':
    case 'main.crypto':
    case 'net.joining':
    case 'net.retry':
    case 'net.clock_set':
    case 'mqtt.online':
    case 'mqtt.offline':
    case 'pair.authenticated':
    case 'pair.network_settings':
    case 'enroll.notice':
    case 'main.security_contact_reserved': // the simulator's manifest keeps the placeholder contact
      return undefined;
    case 'mqtt.state':
      return MQTT_STATE[f.state ?? ''];
    case 'net.up':
      return 'toy: Wi-Fi connected';
    case 'net.down':
      return 'toy: Wi-Fi lost';
    case 'pair.mode':
      return f.on === 'false' ? undefined : 'toy: pairing mode: waiting for a phone (2 minutes)';
    case 'pair.ended':
      return PAIR_END[f.result ?? ''] ?? `toy: pairing ended (${f.result ?? '?'})`;
    case 'pair.attempt_failed':
      return f.counted === 'true' ? 'toy: a phone gave a wrong code (counts toward the lock)' : 'toy: a pairing attempt stopped half-way';
    case 'pair.member_added':
      return `toy: a phone joined the family (${plural(f.members, 'phone')} now)`;
    case 'pair.member_removed':
      return `toy: a phone was removed from the family (${plural(f.members, 'phone')} left)`;
    case 'pair.lock_cleared_local':
      return 'toy: the pairing lock was cleared by the gesture on the toy';
    case 'rec.queued':
      return 'toy: the child\'s message is sealed and queued for the family';
    case 'msg.arrived':
      return 'toy: a message arrived; the heart glows';
    case 'play.finished':
      return 'toy: the message finished playing';
    case 'toy.factory_reset':
      return 'toy: factory reset: wiping the family, the Wi-Fi settings and the messages';
    case 'app.factory_reset_done':
      return 'toy: factory reset done';
    case 'toy.halted':
      return 'toy: stopped: its factory data is missing or broken';
    case 'update.ready':
      return 'toy: a firmware update is ready';
    default:
      return t.level === 'error' || t.level === 'warn' ? `toy: ${t.event.replace(/[._]/g, ' ')} (${t.level})` : undefined;
  }
}

/** A pairing failure in words the parent can act on. */
export function pairingErrorInWords(e: unknown): string {
  if (e instanceof SetupCodeError) return `that is not a PawPost code (${e.message}): type the code printed on the toy's label`;
  if (e instanceof PairingError) {
    const m = e as PairingError & { toyCode?: string; lockedMinutes?: number };
    switch (e.code) {
      case 'TOY_AUTH':
        return 'wrong code: the toy did not accept it. Check the code on the toy\'s label and try again';
      case 'TOY_KEY':
        if (/PP1/.test(m.message)) return 'old label: labels printed before the key check (codes starting PP1:) cannot prove the toy is genuine, so the app refuses them. Contact support for a new label';
        return 'this toy\'s key does not match its label: it may not be the toy on the label (a copied label?). Nothing was sent to it';
      case 'LOCKED':
        return `locked for ${m.lockedMinutes || 'a few'} minute(s): too many wrong codes reached the toy. Hold its paw 3 s (or paw + heart) to clear the lock and open pairing mode, or wait`;
      case 'NOT_PAIRING':
        return 'the toy is not in pairing mode: a new toy: hold the paw 3 s; a toy with a family: hold paw + heart 3 s, then pair';
      case 'BUSY':
        return 'another phone is pairing with the toy right now: wait a moment and try again';
      case 'TIMEOUT':
        return 'the toy stopped answering: bring the phone closer and try again';
      case 'CLOSED':
        return 'the Bluetooth link dropped: try again';
      case 'REFUSED':
        if (m.message.includes('DUPLICATE')) return 'this phone is already in the toy\'s family';
        if (m.message.includes('FULL')) return 'the toy\'s family is full: remove a phone first';
        if (m.message.includes('DENIED')) return 'the toy refused: this phone is not in its family';
        if (m.message.includes('NOT_FOUND')) return 'that phone is not in the toy\'s family';
        return `the toy refused (${m.toyCode ?? m.message})`;
      default:
        return `pairing failed (${e.code})`;
    }
  }
  return e instanceof Error ? e.message : 'pairing failed';
}

/** Toy counters whose increase the page reports: the toy itself stays silent (or only flashes) in these cases. */
export const COUNTER_NOTICES: Record<string, string> = {
  'toy.recording_too_short': 'Too short: the paw was held less than 0.6 s, so nothing was recorded or sent. Hold the paw while speaking.',
  'toy.recording_max_length': 'The recording stopped at the 60 s limit and was sent. Release the paw.',
  'toy.recording_discarded': 'The heart was pressed while recording: the recording was thrown away (paw + heart is the family gesture).',
  'toy.record_busy': 'The toy could not record just then (its audio was busy): release the paw and try again.',
  'toy.play_busy': 'The toy could not play just then (its audio was busy): press the heart again.',
  'toy.pairing_refused_locked': 'Pairing is locked after too many wrong codes (amber heart): wait until the lock ends.',
  'toy.pairing_timeout': 'Pairing mode ended: no phone paired within 2 minutes.',
};
