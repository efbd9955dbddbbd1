/**
 * Two StoragePorts over Moddable's persistent stores.
 *
 * NvsIdentityStore: READ-ONLY view of the NVS namespace the factory wrote
 * ("pawpost", see factory/nvs-csv.ts), through `preference`. NVS values come
 * back typed; the port speaks bytes: a blob is returned as its bytes, a string
 * as its UTF-8 bytes, an integer as its decimal text, a u8 (which Moddable
 * reads back as a boolean) as one byte 0/1. write() and remove() throw
 * PortError('NOSUPPORT'): nothing on the toy rewrites its factory identity.
 *
 * FileStore: read/write store over `file` (LittleFS on the device: the
 * manifest includes $(MODDABLE)/modules/files/file/manifest_littlefs.json;
 * the host's file system on `lin`). One file per key in `dir`. write() is
 * atomic: the value goes to a temp file `~<key>` (a name no key can have),
 * which is then renamed over `<key>`; LittleFS and POSIX rename replace the
 * target atomically, so after a power cut the key holds the old or the new
 * value, whole. Stale temp files are removed when the store opens.
 * Stored files longer than STORAGE_MAX_VALUE_BYTES are treated as corrupt:
 * read() throws PortError('SIZE') and leaves the file for remove().
 *
 * Both check keys as the port requires (1..15 of [A-Za-z0-9._-]); errors are
 * PortError with codes INVAL, SIZE, NOSPACE, IO, NOSUPPORT; messages never
 * hold values.
 */
import Preference from 'preference';
import { Directory, File, Iterator } from 'file';
import { isStorageKey, PortError, STORAGE_MAX_VALUE_BYTES, type StoragePort } from './ports.js';

const TEMP_PREFIX = '~';

function checkKey(key: string): void {
  if (!isStorageKey(key)) {
    throw new PortError('INVAL', 'bad storage key');
  }
}

function ioError(err: unknown, what: string): PortError {
  if (err instanceof PortError) return err;
  const m = err instanceof Error ? err.message : String(err);
  if (/space|NOSPC|-28\b/i.test(m)) return new PortError('NOSPACE', `${what}: storage full`);
  return new PortError('IO', `${what} failed`);
}

export interface NvsIdentityStoreOptions {
  /** NVS namespace (Moddable "domain"); 1..15 characters. Default "pawpost". */
  namespace?: string;
}

/** Read-only StoragePort over the factory NVS namespace. */
export class NvsIdentityStore implements StoragePort {
  readonly namespace: string;
  private readonly encoder = new TextEncoder();

  constructor(options: NvsIdentityStoreOptions = {}) {
    this.namespace = options.namespace ?? 'pawpost';
    checkKey(this.namespace);
  }

  read(key: string): Uint8Array | undefined {
    checkKey(key);
    let v: string | boolean | number | ArrayBuffer | undefined;
    try {
      v = Preference.get(this.namespace, key);
    } catch (err) {
      throw ioError(err, 'nvs read');
    }
    if (v === undefined || v === null) return undefined;
    let out: Uint8Array;
    if (v instanceof ArrayBuffer) out = new Uint8Array(v.slice(0));
    else if (typeof v === 'string') out = this.encoder.encode(v);
    else if (typeof v === 'number') {
      // NVS integers (i32) as 4 bytes little-endian (docs/PROVISIONING.md, src/identity.ts).
      out = new Uint8Array(4);
      new DataView(out.buffer).setInt32(0, v | 0, true);
    }
    else if (typeof v === 'boolean') out = Uint8Array.of(v ? 1 : 0);
    else throw new PortError('IO', 'nvs value of unknown type');
    if (out.length > STORAGE_MAX_VALUE_BYTES) throw new PortError('SIZE', 'stored value too large');
    return out;
  }

  write(key: string, _value: Uint8Array): void {
    checkKey(key);
    throw new PortError('NOSUPPORT', 'identity store is read-only');
  }

  remove(key: string): void {
    checkKey(key);
    throw new PortError('NOSUPPORT', 'identity store is read-only');
  }

  keys(prefix = ''): string[] {
    let all: string[];
    try {
      all = Preference.keys(this.namespace);
    } catch (err) {
      throw ioError(err, 'nvs keys');
    }
    return all.filter((k) => isStorageKey(k) && k.startsWith(prefix)).sort();
  }
}

export interface FileStoreOptions {
  /** Directory holding the store, ending in '/'; created if missing (one level). E.g. config.file.root + "pawpost/". */
  dir: string;
}

/** Read/write StoragePort over LittleFS files, one file per key, atomic writes. */
export class FileStore implements StoragePort {
  readonly dir: string;
  /** Counters for diagnostics and tests. */
  reads = 0;
  writes = 0;
  removes = 0;
  staleTempsRemoved = 0;

  constructor(options: FileStoreOptions) {
    const dir = options.dir;
    if (typeof dir !== 'string' || !dir.startsWith('/') || !dir.endsWith('/')) {
      throw new PortError('INVAL', 'dir must be an absolute path ending in /');
    }
    this.dir = dir;
    try {
      if (!File.exists(dir.slice(0, -1))) Directory.create(dir);
    } catch (err) {
      // LittleFS reports an existing directory as an error on some versions: only a missing dir after this is fatal
      if (!this.dirExists()) throw ioError(err, 'create store dir');
    }
    for (const name of this.names()) {
      if (name.startsWith(TEMP_PREFIX)) {
        try {
          File.delete(this.dir + name);
          this.staleTempsRemoved++;
        } catch {
          // a temp file that cannot be removed is harmless: it is never read
        }
      }
    }
  }

  read(key: string): Uint8Array | undefined {
    checkKey(key);
    const path = this.dir + key;
    let file: File | undefined;
    try {
      if (!File.exists(path)) return undefined;
      file = new File(path);
      if (file.length > STORAGE_MAX_VALUE_BYTES) throw new PortError('SIZE', 'stored value too large');
      const buf = file.read(ArrayBuffer);
      this.reads++;
      return new Uint8Array(buf);
    } catch (err) {
      throw ioError(err, 'read');
    } finally {
      file?.close();
    }
  }

  write(key: string, value: Uint8Array): void {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw new PortError('INVAL', 'value must be a Uint8Array');
    if (value.length > STORAGE_MAX_VALUE_BYTES) throw new PortError('SIZE', 'value too large');
    const temp = this.dir + TEMP_PREFIX + key;
    let file: File | undefined;
    try {
      if (File.exists(temp)) File.delete(temp); // opening for write does not truncate
      file = new File(temp, true);
      if (value.length > 0) {
        const copy = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value.buffer : value.slice().buffer;
        file.write(copy as ArrayBuffer);
      }
      file.close();
      file = undefined;
      if (!File.rename(temp, this.dir + key)) throw new PortError('IO', 'rename failed');
      this.writes++;
    } catch (err) {
      try {
        file?.close();
        if (File.exists(temp)) File.delete(temp);
      } catch {
        // best effort: a stale temp file is removed at the next open
      }
      throw ioError(err, 'write');
    }
  }

  remove(key: string): void {
    checkKey(key);
    try {
      const path = this.dir + key;
      if (File.exists(path)) File.delete(path);
      this.removes++;
    } catch (err) {
      throw ioError(err, 'remove');
    }
  }

  keys(prefix = ''): string[] {
    let names: string[];
    try {
      names = this.names();
    } catch (err) {
      throw ioError(err, 'list');
    }
    return names.filter((n) => isStorageKey(n) && n.startsWith(prefix)).sort();
  }

  private names(): string[] {
    const out: string[] = [];
    const it = new Iterator(this.dir);
    for (;;) {
      const e = it.next();
      if (!e) break;
      if (e.length !== undefined) out.push(e.name); // files only
    }
    return out;
  }

  private dirExists(): boolean {
    try {
      new Iterator(this.dir).next();
      return true;
    } catch {
      return false;
    }
  }
}
