/**
 * The device information the `info` characteristic shows (model, firmware,
 * security contact, end of security updates), taken from configuration or
 * factory data, never written into code (issue 11; EN 303 645 5.2-1 and the UK
 * PSTI rules ask for a contact point that reaches someone). Portable.
 *
 * deviceInfoFrom(raw, firmware) validates a configuration object
 * `{ model, securityContact, securityUpdatesUntil }` with the bounds of
 * src/pairing-protocol.ts encodeDeviceInfo and returns a DeviceInfo, or throws
 * PairingError('MALFORMED') naming the field (never its value).
 *
 * isReservedContact(contact) is true for a contact that reaches no one: a host
 * or mail domain under the names RFC 2606 / RFC 6761 reserve (example, example.com
 * / .net / .org, .test, .invalid, .localhost, .local) or an empty host. The
 * firmware logs it (src/main.ts) and a production configuration must not carry one.
 */
import { PairingError, encodeDeviceInfo, type DeviceInfo } from './pairing-protocol.js';

const RESERVED_SUFFIXES = ['.example', '.test', '.invalid', '.localhost', '.local', 'example.com', 'example.net', 'example.org'];
const RESERVED_EXACT = ['example', 'localhost', 'example.com', 'example.net', 'example.org'];

/** The host of a URL or the domain of a mail address, lowercase; '' when there is none. */
function hostOf(contact: string): string {
  const c = contact.trim().toLowerCase();
  const at = c.startsWith('mailto:') ? c.slice(7) : c;
  if (!at.includes('://') && at.includes('@')) return at.slice(at.lastIndexOf('@') + 1).replace(/[>\s].*$/, '');
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#:]*)/.exec(c);
  return m ? m[1]!.replace(/^.*@/, '') : '';
}

/** True when `contact` reaches no one (a reserved or example domain, or no host at all). */
export function isReservedContact(contact: string): boolean {
  const h = hostOf(contact).replace(/\.$/, '');
  if (h === '') return true;
  if (RESERVED_EXACT.includes(h)) return true;
  for (const s of RESERVED_SUFFIXES) if (h.endsWith(s.startsWith('.') ? s : '.' + s) || h === s) return true;
  return false;
}

/** Builds DeviceInfo from configuration (see the module doc). Throws PairingError('MALFORMED'). */
export function deviceInfoFrom(raw: unknown, firmware: string): DeviceInfo {
  const r = (raw ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new PairingError('MALFORMED', 'device info: configuration missing');
  const info: DeviceInfo = {
    model: r.model as string,
    firmware,
    securityContact: r.securityContact as string,
    securityUpdatesUntil: r.securityUpdatesUntil as string,
  };
  encodeDeviceInfo(info);
  return info;
}
