/**
 * Node implementation of the Moddable `preference` module over the board's
 * in-memory NVS (board.preferences), with the ESP32 rules of
 * modules/files/preference/esp32/modPreference.c: domain (namespace) and key
 * are 1..15 characters; values are boolean, integer (stored as i32: other
 * numbers are truncated), string or ArrayBuffer (a blob, copied both ways);
 * a missing domain or key reads as undefined.
 */
import { board } from './board.js';

type Value = string | boolean | number | ArrayBuffer;

function check(name: string, what: string): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > 15) throw new Error(`invalid ${what}`);
}

const Preference = {
  set(domain: string, key: string, value: Value): void {
    check(domain, 'domain');
    check(key, 'key');
    let v: Value;
    if (typeof value === 'boolean' || typeof value === 'string') v = value;
    else if (typeof value === 'number') v = value | 0;
    else if (value instanceof ArrayBuffer) v = value.slice(0);
    else throw new Error('unsupported type');
    let d = board.preferences.get(domain);
    if (!d) board.preferences.set(domain, (d = new Map()));
    d.set(key, v);
  },
  get(domain: string, key: string): Value | undefined {
    check(domain, 'domain');
    check(key, 'key');
    const v = board.preferences.get(domain)?.get(key);
    return v instanceof ArrayBuffer ? v.slice(0) : v;
  },
  delete(domain: string, key: string): void {
    check(domain, 'domain');
    check(key, 'key');
    board.preferences.get(domain)?.delete(key);
  },
  keys(domain: string): string[] {
    check(domain, 'domain');
    return [...(board.preferences.get(domain)?.keys() ?? [])];
  },
};

export default Preference;
