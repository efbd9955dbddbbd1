/**
 * Node implementation of Moddable's `file` module (modules/files/file, the
 * LittleFS flavour the device uses) over a host directory standing for the
 * partition (board.fsRoot(); device path "/x" is <fsRoot>/x, never outside).
 * Semantics kept from the device: opening for write creates but does NOT
 * truncate; rename replaces the target atomically; delete/rename return
 * booleans; Iterator yields {name, length} (length undefined for directories).
 * Faults: board.fs.failAfter (power cut: the Nth next mutating operation and
 * all after it throw "LFS_ERR: -5") and board.fs.capacity (writes past it throw
 * "No space left on device", as LittleFS's LFS_ERR_NOSPC).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { board } from './board.js';

function host(p: string): string {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new Error('invalid path');
  const root = board.fsRoot();
  const full = path.join(root, path.normalize(p));
  if (full !== root && !full.startsWith(root + path.sep)) throw new Error('invalid path');
  return full;
}

export class File {
  private fd: number | undefined;
  private pos = 0;
  private readonly writable: boolean;

  constructor(p: string, write = false) {
    const h = host(p);
    this.writable = write;
    if (write) {
      board.fsTick();
      this.fd = fs.openSync(h, fs.existsSync(h) ? 'r+' : 'w+');
    } else {
      try {
        this.fd = fs.openSync(h, 'r');
      } catch {
        throw new Error('file not found');
      }
    }
  }

  get length(): number {
    return fs.fstatSync(this.open()).size;
  }

  get position(): number {
    return this.pos;
  }

  set position(v: number) {
    this.pos = Math.max(0, v | 0);
  }

  read(type: typeof ArrayBuffer | typeof String, count?: number): ArrayBuffer | string {
    const fd = this.open();
    const n = Math.max(0, Math.min(count ?? Infinity, this.length - this.pos));
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, this.pos);
    this.pos += n;
    if (type === String) return buf.toString('utf8');
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + n);
  }

  write(...items: (ArrayBuffer | SharedArrayBuffer | string)[]): void {
    const fd = this.open();
    if (!this.writable) throw new Error('file not writable');
    for (const item of items) {
      const bytes = typeof item === 'string' ? Buffer.from(item, 'utf8') : Buffer.from(new Uint8Array(item));
      board.fsTick();
      const growth = Math.max(0, this.pos + bytes.length - this.length);
      if (board.fsUsed() + growth > board.fs.capacity) throw new Error('No space left on device');
      fs.writeSync(fd, bytes, 0, bytes.length, this.pos);
      this.pos += bytes.length;
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  static delete(p: string): boolean {
    const h = host(p);
    board.fsTick();
    try {
      fs.unlinkSync(h);
      return true;
    } catch {
      return false;
    }
  }

  static exists(p: string): boolean {
    return fs.existsSync(host(p));
  }

  static rename(from: string, to: string): boolean {
    const src = host(from);
    const dst = to.startsWith('/') ? host(to) : path.join(path.dirname(src), to);
    if (!to.startsWith('/') && to.includes('/')) throw new Error('invalid to');
    board.fsTick();
    try {
      fs.renameSync(src, dst);
      return true;
    } catch {
      return false;
    }
  }

  private open(): number {
    if (this.fd === undefined) throw new Error('closed');
    return this.fd;
  }
}

export class Iterator {
  private readonly entries: { name: string; length: number | undefined }[];
  constructor(p: string) {
    const h = host(p);
    this.entries = fs.readdirSync(h, { withFileTypes: true }).map((e) => ({
      name: e.name,
      length: e.isDirectory() ? undefined : fs.statSync(path.join(h, e.name)).size,
    }));
  }
  next(): { name: string; length: number | undefined } | undefined {
    return this.entries.shift();
  }
  [Symbol.iterator](): IterableIterator<{ name: string; length: number | undefined }> {
    const it = { next: () => { const value = this.next(); return value ? { value, done: false as const } : { value: undefined, done: true as const }; }, [Symbol.iterator]() { return it; } };
    return it as IterableIterator<{ name: string; length: number | undefined }>;
  }
}

export class Directory {
  static create(p: string): void {
    board.fsTick();
    fs.mkdirSync(host(p), { recursive: false });
  }
  static delete(p: string): void {
    board.fsTick();
    fs.rmdirSync(host(p));
  }
}

export class System {
  static config(): { maxPathLength: number } {
    return { maxPathLength: 255 };
  }
  static info(): { used: number; total: number } {
    return { used: board.fsUsed(), total: board.fs.capacity };
  }
}

export default Object.freeze({ File, Iterator, System, Directory });
