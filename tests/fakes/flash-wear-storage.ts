/**
 * FlashWearStorage: a StoragePort in front of another that counts what the
 * device's flash would do, on 4 KB sectors, for the bench and the wear tests.
 * Portable (runs in both tiers).
 *
 * Model of hal/moddable-storage.ts on LittleFS (docs/HARDWARE.md; ARCHITECTURE
 * "Budgets"): a value is written whole into a temporary file and renamed over the
 * key. LittleFS never programs a block twice without erasing it and inlines only
 * files up to its cache size (16 B), so every write of n > 16 bytes erases
 * ceil(n / 4096) fresh data sectors. Every write (create, sync, rename) appends
 * three metadata commits and every remove one, each about METADATA_COMMIT_BYTES
 * to the directory's metadata block; a full metadata block is compacted (one
 * more erase). A read or a keys() costs no erase. These are estimates of the
 * on-flash cost; the counts of calls are exact.
 */
import type { StoragePort } from '../../hal/ports.js';

export const SECTOR_BYTES = 4096;
/** Largest file LittleFS keeps inline in its metadata (Moddable's cache size). */
export const INLINE_BYTES = 16;
/** Bytes one metadata commit appends (tag, name, CRC), an estimate. */
export const METADATA_COMMIT_BYTES = 64;

/** The text before the first '.', or the whole key. */
function prefixOf(key: string): string {
  const dot = key.indexOf('.');
  return dot > 0 ? key.slice(0, dot) : key;
}

export class FlashWearStorage implements StoragePort {
  reads = 0;
  writes = 0;
  removes = 0;
  bytesWritten = 0;
  /** Sectors erased for data (new file blocks). */
  dataErases = 0;
  /** Sectors erased by metadata compaction. */
  metadataErases = 0;
  /** Writes per key prefix (the text before the first '.', or the whole key). */
  readonly writesByPrefix = new Map<string, number>();
  /** Data sectors erased per key prefix. */
  readonly dataErasesByPrefix = new Map<string, number>();
  /** Metadata commits per key prefix (writes 3, removes 1): a prefix's share of the metadata erases is commits x METADATA_COMMIT_BYTES / SECTOR_BYTES. */
  readonly metadataCommitsByPrefix = new Map<string, number>();
  private metadataFill = 0;

  constructor(readonly inner: StoragePort) {}

  /** Estimated sector erases so far. */
  get erases(): number {
    return this.dataErases + this.metadataErases;
  }

  /** Zeroes the counters (not the stored data). */
  resetCounts(): void {
    this.reads = this.writes = this.removes = this.bytesWritten = this.dataErases = this.metadataErases = 0;
    this.writesByPrefix.clear();
    this.dataErasesByPrefix.clear();
    this.metadataCommitsByPrefix.clear();
  }

  read(key: string): Uint8Array | undefined {
    this.reads++;
    return this.inner.read(key);
  }

  write(key: string, value: Uint8Array): void {
    this.inner.write(key, value);
    this.writes++;
    this.bytesWritten += value.length;
    const p = prefixOf(key);
    this.writesByPrefix.set(p, (this.writesByPrefix.get(p) ?? 0) + 1);
    if (value.length > INLINE_BYTES) {
      const n = Math.ceil(value.length / SECTOR_BYTES);
      this.dataErases += n;
      this.dataErasesByPrefix.set(p, (this.dataErasesByPrefix.get(p) ?? 0) + n);
    }
    this.commit(3, p);
  }

  remove(key: string): void {
    this.inner.remove(key);
    this.removes++;
    this.commit(1, prefixOf(key));
  }

  /** The share of the metadata erases the writes and removes of keys under `prefix` caused (fractional). */
  metadataErasesOf(prefix: string): number {
    return ((this.metadataCommitsByPrefix.get(prefix) ?? 0) * METADATA_COMMIT_BYTES) / SECTOR_BYTES;
  }

  keys(prefix?: string): string[] {
    return this.inner.keys(prefix);
  }

  private commit(n: number, prefix: string): void {
    this.metadataCommitsByPrefix.set(prefix, (this.metadataCommitsByPrefix.get(prefix) ?? 0) + n);
    this.metadataFill += n * METADATA_COMMIT_BYTES;
    while (this.metadataFill >= SECTOR_BYTES) {
      this.metadataFill -= SECTOR_BYTES;
      this.metadataErases++;
    }
  }
}
