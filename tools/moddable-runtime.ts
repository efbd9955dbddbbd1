/**
 * The firmware on the real Moddable runtime, for the device tier and the bench:
 * find the SDK, build the firmware for `lin` with mcconfig (never a `-d` target
 * without `-t build`: those run `pkill mcsim`), boot it headless in the SDK's
 * own simulator (`mcsim` under Xvfb), and read its trace output through the
 * xsbug protocol with the SDK's own protocol parser (tools/xsbug-log's Machine).
 *
 * The SDK: $MODDABLE when it is set and its tools are built; otherwise the cache
 * that tools/prepare-moddable.sh fills from ../shared/moddable-sdk
 * ($PAWPOST_CACHE or ~/.cache/pawpost, a folder per SDK version). Nothing of the
 * SDK is in this repository.
 *
 * Every process this starts is tracked by its pid and killed by it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { homedir } from 'node:os';
import * as path from 'node:path';

export const SDK_VERSION = '8.2.3';

export interface Sdk {
  /** $MODDABLE for the tools. */
  moddable: string;
  /** build/bin/lin/release */
  bin: string;
}

/** Where tools/prepare-moddable.sh puts the SDK. */
export function sdkCacheDir(): string {
  const cache = process.env.PAWPOST_CACHE || path.join(homedir(), '.cache', 'pawpost');
  return path.join(cache, `moddable-${SDK_VERSION}`);
}

/** The SDK to use, or the reason there is none (one line). */
export function findSdk(): Sdk | { missing: string } {
  const candidates = [process.env.MODDABLE, sdkCacheDir()].filter((x): x is string => !!x);
  for (const moddable of candidates) {
    const bin = path.join(moddable, 'build', 'bin', 'lin', 'release');
    if (existsSync(path.join(bin, 'mcconfig')) && existsSync(path.join(bin, 'mcsim'))) {
      if (!existsSync(path.join(moddable, 'tools', 'xsbug-log', 'node_modules', 'saxophone'))) {
        return { missing: `${moddable}/tools/xsbug-log has no node_modules: run tools/prepare-moddable.sh` };
      }
      return { moddable, bin };
    }
  }
  return { missing: `no built Moddable SDK ${SDK_VERSION} (set MODDABLE, or run tools/prepare-moddable.sh)` };
}

/** xvfb-run, needed to start mcsim (a GTK program) without a display. */
export function hasXvfb(): boolean {
  return spawnSync('sh', ['-c', 'command -v xvfb-run'], { encoding: 'utf8' }).status === 0;
}

export interface BuildResult {
  ok: boolean;
  /** mc.so of the build */
  so: string;
  /** the generated makefile (its CREATION line) */
  makefile: string;
  output: string;
  seconds: number;
}

/**
 * Builds `manifest` for `platform` into `outDir` (mcconfig -d -m -p <platform> -t build -o <outDir>).
 * tsc comes from the project's node_modules/.bin. esp32 stops at the ESP-IDF step on a machine without
 * ESP-IDF; its makefile is written first.
 */
export function buildFirmware(sdk: Sdk, manifest: string, outDir: string, platform = 'lin'): BuildResult {
  mkdirSync(outDir, { recursive: true });
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const env = {
    ...process.env,
    MODDABLE: sdk.moddable,
    PATH: `${sdk.bin}:${path.join(root, 'node_modules', '.bin')}:${process.env.PATH}`,
  };
  const t0 = Date.now();
  const r = spawnSync('mcconfig', ['-d', '-m', '-p', platform, '-t', 'build', '-o', outDir, manifest], {
    env,
    cwd: path.dirname(manifest),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const name = path.basename(path.dirname(path.resolve(manifest)));
  const plat = platform.split('/')[0]!;
  // lin: <out>/tmp/lin/mc/debug/<name>; esp32/<subplatform>: <out>/tmp/esp32/<subplatform>/debug/<name>
  const sub = platform.includes('/') ? platform.split('/')[1]! : 'mc';
  return {
    ok: r.status === 0,
    so: path.join(outDir, 'bin', plat, sub, 'debug', name, 'mc.so'),
    makefile: path.join(outDir, 'tmp', plat, sub, 'debug', name, 'makefile'),
    output: (r.stdout ?? '') + (r.stderr ?? ''),
    seconds: (Date.now() - t0) / 1000,
  };
}

/** The CREATION line mcconfig wrote into a makefile (`-c chunk,chunkInc,heap,heapInc,stack,...,main,nativeStack`). */
export function creationLine(makefile: string): string | undefined {
  if (!existsSync(makefile)) return undefined;
  return readFileSync(makefile, 'utf8').split('\n').find((l) => l.startsWith('CREATION'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

export interface RunOptions {
  /** Break on every exception and print its stack (noisy: caught exceptions break too). */
  breakOnExceptions?: boolean;
  /** Each complete trace line, as it arrives. */
  onLine?: (line: string) => void;
}

/**
 * One boot of a built firmware in mcsim. Lines are everything the firmware
 * traced (one per line), plus lines the runtime itself printed (prefixed `#`).
 */
export class FirmwareRun {
  readonly lines: string[] = [];
  private proc: ChildProcess | undefined;
  private server: net.Server | undefined;
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  private exitWaiters: (() => void)[] = [];
  exited = false;
  exitCode: number | null = null;

  private constructor(private readonly opts: RunOptions) {}

  static async start(sdk: Sdk, so: string, opts: RunOptions = {}): Promise<FirmwareRun> {
    const run = new FirmwareRun(opts);
    await run.boot(sdk, so);
    return run;
  }

  private push(line: string): void {
    this.lines.push(line);
    try {
      this.opts.onLine?.(line);
    } catch {
      // a listener must not stop the run
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  private async boot(sdk: Sdk, so: string): Promise<void> {
    const req = createRequire(path.join(sdk.moddable, 'tools', 'xsbug-log', 'xsbug-log.js'));
    const { Machine } = req('./xsbug-machine.js') as { Machine: new (i: net.Socket, o: net.Socket) => Record<string, unknown> };
    const push = (l: string) => this.push(l);
    const breakOnExceptions = this.opts.breakOnExceptions === true;
    class LogMachine extends (Machine as unknown as new (i: net.Socket, o: net.Socket) => {
      doGo(): void;
      doSetAllBreakpoint(b: unknown[], atStart: boolean, atExceptions: boolean): void;
      onTitleChanged(title: string, tag: string): void;
    }) {
      private partial = '';
      frames: { name: string; path?: string; line?: string }[] = [];
      override onTitleChanged(title: string, tag: string): void {
        super.onTitleChanged(title, tag);
        if (breakOnExceptions) this.doSetAllBreakpoint([], false, true);
      }
      onLogged(_path: string, _line: string, data: string): void {
        this.partial += data;
        let i: number;
        while ((i = this.partial.indexOf('\n')) >= 0) {
          push(this.partial.slice(0, i));
          this.partial = this.partial.slice(i + 1);
        }
      }
      onViewChanged(name: string, items: { name: string; path?: string; line?: string }[]): void {
        if (name === 'frames') this.frames = items;
      }
      onBroken(p: string, line: string, text: string): void {
        push(`# break: ${text} (${p}:${line})`);
        for (const f of this.frames.slice(0, 8)) push(`#   ${f.name}${f.path ? ` ${f.path}:${f.line}` : ''}`);
        this.doGo();
      }
    }
    const port = await freePort();
    this.server = net.createServer((sock) => {
      sock.setEncoding('utf8');
      sock.on('error', () => undefined);
      new LogMachine(sock, sock);
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    const mcsim = path.join(sdk.bin, 'mcsim');
    this.proc = spawn('xvfb-run', ['-a', mcsim, so], {
      env: { ...process.env, MODDABLE: sdk.moddable, XSBUG_HOST: '127.0.0.1', XSBUG_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: xvfb-run, Xvfb and mcsim are killed together by pid
    });
    const feed = (prefix: string) => {
      let buf = '';
      return (chunk: Buffer) => {
        buf += chunk.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (l.trim() && !/Gtk-WARNING|dbind-WARNING|GLib-GIO|^\s*$/.test(l)) this.push(`${prefix}${l}`);
        }
      };
    };
    this.proc.stdout!.on('data', feed('# '));
    this.proc.stderr!.on('data', feed('# '));
    this.proc.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      this.push(`# exited ${code}`);
      for (const w of this.exitWaiters) w();
      this.exitWaiters = [];
    });
  }

  /** The first line (already seen or still to come) matching `re`; rejects after `timeoutMs` or at exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}`));
      }, timeoutMs);
      const done = (l: string) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.waiters.push({ re, resolve: done });
      if (this.exited) {
        clearTimeout(timer);
        reject(new Error(`firmware exited waiting for ${re}`));
      } else this.exitWaiters.push(() => {
        clearTimeout(timer);
        if (this.waiters.some((w) => w.resolve === done)) reject(new Error(`firmware exited waiting for ${re}`));
      });
    });
  }

  /** Resolves when the process has exited (or after timeoutMs). */
  waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Kills mcsim and its Xvfb by process group; safe twice. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p && !this.exited && p.pid) {
      try {
        process.kill(-p.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      if (!(await this.waitExit(3000))) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await this.waitExit(2000);
      }
    }
    this.proc = undefined;
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
