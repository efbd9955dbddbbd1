/**
 * An in-memory StoragePort with the device's limits and failure switches.
 * "Restart" = keep this object, throw away everything built on it, and build
 * again from it: what was written survives, nothing else does.
 * Portable (runs in both tiers).
 */
import { isStorageKey, PortError, STORAGE_MAX_VALUE_BYTES, type StoragePort } from '../../hal/ports.js';


export class MemoryStorage implements StoragePort {
  readonly data = new Map<string, Uint8Array>();
  reads = 0;
  writes = 0;
  removes = 0;
  /** When >= 0: that many more writes/removes succeed, then every one throws PortError('IO') (a power cut). */
  failAfter = -1;
  /** Capacity in bytes over all values; writes beyond throw NOSPACE. */
  capacity = Infinity;

  private checkKey(key: string): void {
    if (!isStorageKey(key)) throw new PortError('INVAL', 'bad storage key');
  }
  private tick(): void {
    if (this.failAfter === 0) throw new PortError('IO', 'simulated power cut');
    if (this.failAfter > 0) this.failAfter--;
  }
  read(key: string): Uint8Array | undefined {
    this.checkKey(key);
    this.reads++;
    const v = this.data.get(key);
    return v ? v.slice() : undefined;
  }
  write(key: string, value: Uint8Array): void {
    this.checkKey(key);
    if (value.length > STORAGE_MAX_VALUE_BYTES) throw new PortError('SIZE', 'value too large');
    const used = this.used() - (this.data.get(key)?.length ?? 0);
    if (used + value.length > this.capacity) throw new PortError('NOSPACE', 'storage full');
    this.tick();
    this.writes++;
    this.data.set(key, value.slice());
  }
  remove(key: string): void {
    this.checkKey(key);
    this.tick();
    this.removes++;
    this.data.delete(key);
  }
  keys(prefix = ''): string[] {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  used(): number {
    let n = 0;
    for (const v of this.data.values()) n += v.length;
    return n;
  }
}
