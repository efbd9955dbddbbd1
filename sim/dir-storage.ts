/**
 * A StoragePort over a directory, one file per key, for the simulator's phone
 * (the toy's own storage goes through hal/moddable-storage.ts and the simulated
 * Moddable `file` module). Writes are atomic: a temporary file, then rename.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isStorageKey, PortError, STORAGE_MAX_VALUE_BYTES, type StoragePort } from '../hal/ports.js';

export class DirStorage implements StoragePort {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  private file(key: string): string {
    if (!isStorageKey(key) || key.startsWith('.')) throw new PortError('INVAL', 'bad storage key');
    return path.join(this.dir, key);
  }
  read(key: string): Uint8Array | undefined {
    const f = this.file(key);
    try {
      return new Uint8Array(fs.readFileSync(f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new PortError('IO', 'storage read failed');
    }
  }
  write(key: string, value: Uint8Array): void {
    const f = this.file(key);
    if (value.length > STORAGE_MAX_VALUE_BYTES) throw new PortError('SIZE', 'value too large');
    const tmp = `${f}.tmp`;
    try {
      fs.writeFileSync(tmp, value, { mode: 0o600 });
      fs.renameSync(tmp, f);
    } catch (e) {
      throw new PortError((e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'NOSPACE' : 'IO', 'storage write failed');
    }
  }
  remove(key: string): void {
    try {
      fs.rmSync(this.file(key), { force: true });
    } catch {
      throw new PortError('IO', 'storage remove failed');
    }
  }
  keys(prefix = ''): string[] {
    return fs
      .readdirSync(this.dir)
      .filter((k) => !k.endsWith('.tmp') && k.startsWith(prefix) && isStorageKey(k))
      .sort();
  }
}
