/**
 * The family roster: at most MAX_MEMBERS paired phones, each with an id, a
 * display name and an X25519 public key, plus the cached X25519 shared key
 * (toy secret x member public, crypto_box_beforenm) computed once at pairing.
 * Persisted on the StoragePort under ROSTER_KEY as one record, written atomically.
 *
 * Record format (version 1):
 *   u8 version=1, u8 count, then per member:
 *   u8 idLen, id (ASCII [A-Za-z0-9_-], 1..16), u8 nameLen, name (UTF-8, 1..32 bytes),
 *   32 bytes publicKey, u8 flags (bit0: shared key present), [32 bytes sharedKey]
 */
import type { StoragePort } from '../hal/ports.js';
import { Counters } from './counters.js';
import { isSmallOrderKey } from './key-checks.js';

export const MAX_MEMBERS = 8;
export const ROSTER_KEY = 'roster';
export const MAX_MEMBER_ID = 16;
export const MAX_NAME_BYTES = 32;
const ID_RE = /^[A-Za-z0-9_-]+$/;

export type RosterErrorCode = 'FULL' | 'DUPLICATE' | 'NOT_FOUND' | 'INVALID' | 'CORRUPT';

/** A typed roster error; the message never holds key material. */
export class RosterError extends Error {
  override readonly name = 'RosterError';
  readonly code: RosterErrorCode;
  constructor(code: RosterErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Member {
  /** 1..16 chars of [A-Za-z0-9_-]; unique in the roster. */
  id: string;
  /** Display name, 1..32 bytes of UTF-8. */
  name: string;
  /** The member's X25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Cached crypto_box_beforenm(member public, toy secret), 32 bytes; secret. */
  sharedKey?: Uint8Array;
}

/** Validates a member's fields (a public key of small order is INVALID); throws RosterError('INVALID'). */
export function checkMember(m: Member): void {
  if (typeof m.id !== 'string' || m.id.length < 1 || m.id.length > MAX_MEMBER_ID || !ID_RE.test(m.id))
    throw new RosterError('INVALID', 'member id must be 1..16 chars of A-Z a-z 0-9 _ -');
  const nameBytes = new TextEncoder().encode(m.name ?? '');
  if (nameBytes.length < 1 || nameBytes.length > MAX_NAME_BYTES) throw new RosterError('INVALID', 'member name must be 1..32 bytes');
  if (!(m.publicKey instanceof Uint8Array) || m.publicKey.length !== 32) throw new RosterError('INVALID', 'public key must be 32 bytes');
  // A small-order key makes the X25519 shared key a public constant (docs/SECURITY.md): refused here, where keys enter.
  if (isSmallOrderKey(m.publicKey)) throw new RosterError('INVALID', 'public key is of small order');
  if (m.sharedKey !== undefined && (!(m.sharedKey instanceof Uint8Array) || m.sharedKey.length !== 32))
    throw new RosterError('INVALID', 'shared key must be 32 bytes');
}

export function encodeRoster(members: readonly Member[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [1, members.length];
  for (const m of members) {
    const id = enc.encode(m.id);
    const name = enc.encode(m.name);
    parts.push(id.length, ...id, name.length, ...name, ...m.publicKey, m.sharedKey ? 1 : 0);
    if (m.sharedKey) parts.push(...m.sharedKey);
  }
  return Uint8Array.from(parts);
}

/** Parses a roster record; throws RosterError('CORRUPT') on any malformation. */
export function decodeRoster(b: Uint8Array): Member[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const bad = (why: string): never => {
    throw new RosterError('CORRUPT', `roster record: ${why}`);
  };
  if (b.length < 2) bad('short');
  if (b[0] !== 1) bad('unknown version');
  const count = b[1]!;
  if (count > MAX_MEMBERS) bad('too many members');
  let o = 2;
  const take = (n: number): Uint8Array => {
    if (o + n > b.length) bad('truncated');
    const v = b.slice(o, o + n);
    o += n;
    return v;
  };
  const out: Member[] = [];
  for (let i = 0; i < count; i++) {
    let id = '';
    let name = '';
    try {
      id = dec.decode(take(take(1)[0]!));
      name = dec.decode(take(take(1)[0]!));
    } catch (e) {
      if (e instanceof RosterError) throw e;
      bad('bad text');
    }
    const publicKey = take(32);
    const flags = take(1)[0]!;
    if (flags > 1) bad('bad flags');
    const m: Member = { id, name, publicKey };
    if (flags & 1) m.sharedKey = take(32);
    try {
      checkMember(m);
    } catch {
      bad('bad member');
    }
    if (out.some((x) => x.id === id)) bad('duplicate id');
    out.push(m);
  }
  if (o !== b.length) bad('trailing bytes');
  return out;
}

/**
 * The roster, loaded from and saved to storage. Every change is written before
 * the method returns; a failed write leaves the in-memory roster unchanged.
 */
export class Roster {
  private members: Member[] = [];
  constructor(private readonly storage: StoragePort, readonly counters = new Counters()) {
    this.reload();
  }

  /** Re-reads storage. A corrupt record counts 'roster.corrupt' and loads as empty (it is not overwritten until a change). */
  reload(): void {
    const raw = this.storage.read(ROSTER_KEY);
    if (!raw) {
      this.members = [];
      return;
    }
    try {
      this.members = decodeRoster(raw);
    } catch {
      this.counters.inc('roster.corrupt');
      this.members = [];
    }
  }

  list(): readonly Member[] {
    return this.members;
  }
  get size(): number {
    return this.members.length;
  }
  get(id: string): Member | undefined {
    return this.members.find((m) => m.id === id);
  }
  /** The member whose public key equals `publicKey`, if any. */
  byPublicKey(publicKey: Uint8Array): Member | undefined {
    // index loops, no closures: called per received head chunk and receipt (XS heap slots, issue 13)
    const list = this.members;
    for (let j = 0; j < list.length; j++) {
      const k = list[j]!.publicKey;
      let same = k.length === publicKey.length;
      for (let i = 0; i < k.length && same; i++) same = k[i] === publicKey[i];
      if (same) return list[j];
    }
    return undefined;
  }

  /** Adds a member. Throws RosterError INVALID, FULL, DUPLICATE (same id or same key), or the storage's PortError. */
  add(m: Member): void {
    checkMember(m);
    if (this.get(m.id) || this.byPublicKey(m.publicKey)) throw new RosterError('DUPLICATE', 'member already paired');
    if (this.members.length >= MAX_MEMBERS) throw new RosterError('FULL', `roster holds at most ${MAX_MEMBERS} members`);
    this.save([...this.members, { ...m, publicKey: m.publicKey.slice(), sharedKey: m.sharedKey?.slice() }]);
  }

  /** Removes a member by id. Throws RosterError NOT_FOUND. */
  remove(id: string): void {
    if (!this.get(id)) throw new RosterError('NOT_FOUND', 'no such member');
    this.save(this.members.filter((m) => m.id !== id));
  }

  /**
   * Caches the X25519 shared key of member `id` (crypto_box_beforenm, 32 bytes)
   * and persists it, so it is computed once (at pairing, or on first use by the
   * envelope). Throws RosterError NOT_FOUND or INVALID, or the storage's PortError
   * (the roster is then unchanged).
   */
  setSharedKey(id: string, sharedKey: Uint8Array): void {
    const m = this.get(id);
    if (!m) throw new RosterError('NOT_FOUND', 'no such member');
    if (!(sharedKey instanceof Uint8Array) || sharedKey.length !== 32) throw new RosterError('INVALID', 'shared key must be 32 bytes');
    this.save(this.members.map((x) => (x.id === id ? { ...x, sharedKey: sharedKey.slice() } : x)));
  }

  /** Removes every member (factory reset). */
  wipe(): void {
    this.storage.remove(ROSTER_KEY);
    this.members = [];
  }

  private save(next: Member[]): void {
    this.storage.write(ROSTER_KEY, encodeRoster(next));
    this.members = next;
  }
}
