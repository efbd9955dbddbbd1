/**
 * An in-memory HistoryFilesPort (phone/message-history.ts) with counters and a
 * failure switch, for the phone's history tests. Portable.
 */
import type { HistoryFilesPort } from '../../phone/message-history.js';

export class MemoryFiles implements HistoryFilesPort {
  readonly data = new Map<string, Uint8Array>();
  reads = 0;
  writes = 0;
  removes = 0;
  /** When >= 0: that many more writes succeed, then every write throws (a full disk). */
  failAfter = -1;

  read(name: string): Uint8Array | undefined {
    this.reads++;
    return this.data.get(name)?.slice();
  }
  write(name: string, bytes: Uint8Array): void {
    if (this.failAfter === 0) throw new Error('simulated write failure');
    if (this.failAfter > 0) this.failAfter--;
    this.writes++;
    this.data.set(name, bytes.slice());
  }
  remove(name: string): void {
    this.removes++;
    this.data.delete(name);
  }
  list(): string[] {
    return [...this.data.keys()].sort();
  }
}
