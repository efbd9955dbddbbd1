/**
 * Host side of the XS tier: bundles a portable entry file with esbuild for the
 * XS engine of @agoric/xsnap (ES2021, see ARCHITECTURE.md) and drives an
 * xsnap-worker process. Used by the XS test runner (tools/xs-test.ts) and by
 * `npm run bench`.
 *
 * It speaks xsnap's netstring protocol on fds 3/4 directly (the same protocol
 * as @agoric/xsnap's xsnap.js), so the Node process is not locked down by SES
 * and benches can run codecs and brokers in the same process.
 *   to XS:   `e<code>` evaluate, `?<bytes>` command, `/<bytes>` reply to a query, `q` quit
 *   from XS: `.<meter JSON>\x01<reply>` ok, `!<text>` error, `?<bytes>` query (issueCommand)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { build, type Plugin } from 'esbuild';

const require = createRequire(import.meta.url);
const XSNAP_BIN = path.join(
  path.dirname(require.resolve('@agoric/xsnap/package.json')),
  'xsnap-native/xsnap/build/bin/lin/release/xsnap-worker',
);

const NACL_CRYPTO = fileURLToPath(new URL('../src/nacl-crypto.ts', import.meta.url));
const NATIVE_CRYPTO_SHIM = fileURLToPath(new URL('./xs-native/native-crypto-shim.ts', import.meta.url));

/**
 * With `native`, every import of src/nacl-crypto.ts resolves to
 * tools/xs-native/native-crypto-shim.ts instead (its `naclCrypto` is the device's
 * hal/moddable-crypto.ts over libsodium), except from the shim itself and from
 * `*.xs-native.ts` tests, which compare the two.
 */
const nativeCryptoPlugin: Plugin = {
  name: 'pawpost-native-crypto',
  setup(b) {
    b.onResolve({ filter: /nacl-crypto(\.js|\.ts)?$/ }, (args) => {
      if (args.importer === NATIVE_CRYPTO_SHIM || args.importer.endsWith('.xs-native.ts')) return undefined;
      const target = path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return target === NACL_CRYPTO ? { path: NATIVE_CRYPTO_SHIM } : undefined;
    });
  },
};

/**
 * Bundles `entry` (a .ts file) into one script for XS. Returns the code and its byte size.
 * `native`: for the native worker (tools/xs-native/): the CryptoPort in src/nacl-crypto.ts is the native one.
 */
export async function bundleForXs(entry: string, opts: { minify?: boolean; native?: boolean } = {}): Promise<{ code: string; bytes: number }> {
  const out = await build({
    plugins: opts.native ? [nativeCryptoPlugin] : [],
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2021',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    minify: opts.minify ?? false,
    logLevel: 'silent',
    // tweetnacl probes require('crypto') for a PRNG; XS has none, so it gets an empty
    // module and the PRNG comes from the RandomPort (src/nacl-crypto.ts).
    alias: { crypto: fileURLToPath(new URL('./empty-module.js', import.meta.url)) },
  });
  const code = out.outputFiles[0]!.text;
  return { code, bytes: Buffer.byteLength(code) };
}

export interface XsCallResult<T = unknown> {
  result: T;
  /** XS compute steps spent in this call (deterministic). */
  compute: number;
  /** Bytes XS allocated during the call (chunks), as xsnap meters it. */
  allocate: number | null;
  /** Live heap slots after the call. */
  heapCount: number | null;
}

interface Meter { compute?: number; allocate?: number; currentHeapCount?: number }

/** One xsnap worker with one bundle loaded. close() is safe to call twice. */
export class XsSession {
  private closed = false;
  private readonly messages: string[] = [];
  private inbuf = Buffer.alloc(0);
  private waiting: ((m: Buffer) => void)[] = [];
  private queue: Buffer[] = [];
  private exitError: Error | undefined;
  private baton: Promise<unknown> = Promise.resolve();
  private readonly toXs: Writable;

  private constructor(private readonly proc: ChildProcess, readonly name: string) {
    const stdio = proc.stdio as unknown as [null, null, null, Writable, Readable];
    this.toXs = stdio[3];
    stdio[4].on('data', (c: Buffer) => this.onData(c));
    proc.on('exit', (code, signal) => {
      this.exitError = new Error(`xsnap worker ${name} exited (code ${code}, signal ${signal})`);
      for (const w of this.waiting.splice(0)) w(Buffer.from('!' + this.exitError.message));
    });
    this.toXs.on('error', () => undefined);
  }

  /**
   * Starts a worker and evaluates the bundle of `entry` in it. `nativeBin`: the native
   * worker (tools/xs-native/xs-native-build.ts) instead of @agoric/xsnap's, with the
   * bundle made for it (bundleForXs `native`: src/nacl-crypto.ts's CryptoPort is the native
   * one) unless `nativeCrypto` is false (the bench's entries that pick the CryptoPort themselves).
   */
  static async start(entry: string, opts: { name?: string; nativeBin?: string; nativeCrypto?: boolean } = {}): Promise<XsSession> {
    const { code } = await bundleForXs(entry, { native: opts.nativeBin !== undefined && opts.nativeCrypto !== false });
    const name = opts.name ?? path.basename(entry);
    const proc = spawn(opts.nativeBin ?? XSNAP_BIN, [name.replace(/^-+/, '')], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore'],
    });
    const s = new XsSession(proc, name);
    await s.evaluate(code);
    return s;
  }

  private onData(chunk: Buffer): void {
    this.inbuf = Buffer.concat([this.inbuf, chunk]);
    for (;;) {
      const colon = this.inbuf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.inbuf.subarray(0, colon).toString());
      if (this.inbuf.length < colon + 1 + len + 1) return;
      const msg = this.inbuf.subarray(colon + 1, colon + 1 + len);
      this.inbuf = this.inbuf.subarray(colon + 2 + len);
      const w = this.waiting.shift();
      if (w) w(Buffer.from(msg));
      else this.queue.push(Buffer.from(msg));
    }
  }

  private next(): Promise<Buffer> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.exitError) return Promise.resolve(Buffer.from('!' + this.exitError.message));
    return new Promise((r) => this.waiting.push(r));
  }

  private send(prefix: string, body: Uint8Array): void {
    const payload = Buffer.concat([Buffer.from(prefix), Buffer.from(body)]);
    this.toXs.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
  }

  /** Sends one request and runs until XS answers it, serving its queries meanwhile. */
  private request(prefix: string, body: Uint8Array): Promise<{ reply: Buffer; meter: Meter }> {
    const run = async () => {
      if (this.closed) throw new Error(`xsnap worker ${this.name} is closed`);
      this.send(prefix, body);
      for (;;) {
        const m = await this.next();
        const kind = String.fromCharCode(m[0] ?? 0);
        if (kind === '.') {
          const sep = m.indexOf(1, 1);
          const meter = sep >= 0 ? (JSON.parse(m.subarray(1, sep).toString()) as Meter) : {};
          return { reply: m.subarray(sep >= 0 ? sep + 1 : 1), meter };
        }
        if (kind === '!') throw new Error(`uncaught exception in XS (${this.name}): ${m.subarray(1).toString()}`);
        if (kind === '?') {
          const answer = this.onQuery?.(m.subarray(1));
          if (answer) this.send('/', answer);
          else {
            this.messages.push(m.subarray(1).toString());
            this.send('/', new Uint8Array(0));
          }
          continue;
        }
        throw new Error(`xsnap protocol error: ${m.subarray(0, 40).toString()}`);
      }
    };
    const p = this.baton.then(run, run);
    this.baton = p.catch(() => undefined);
    return p;
  }

  /**
   * Answers the bundle's issueCommand synchronously when set and it returns bytes (the bench's
   * stand-in for host functions, bench/xs/host-crypto.ts); otherwise the message is kept for drain().
   */
  onQuery?: (query: Uint8Array) => Uint8Array | undefined;

  /** Messages the bundle sent with issueCommand since the last drain. */
  drain(): string[] {
    return this.messages.splice(0, this.messages.length);
  }

  /** Evaluates a script (jobs run to idle); returns its metered compute steps. */
  async evaluate(code: string): Promise<number> {
    const { meter } = await this.request('e', Buffer.from(code));
    return Number(meter.compute ?? 0);
  }

  /** Calls a command registered with onXsCommand (tests/xs/commands.ts). Throws when it failed inside XS. */
  async call<T = unknown>(name: string, arg: unknown = null): Promise<XsCallResult<T>> {
    const { reply, meter } = await this.request('?', Buffer.from(JSON.stringify({ name, arg })));
    const r = JSON.parse(reply.toString()) as { ok: boolean; result?: T; error?: string };
    if (!r.ok) throw new Error(`XS command ${name} failed: ${r.error}`);
    return {
      result: r.result as T,
      compute: Number(meter.compute ?? 0),
      allocate: meter.allocate ?? null,
      heapCount: meter.currentHeapCount ?? null,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.baton;
    this.closed = true;
    if (this.exitError) return;
    await new Promise<void>((resolve) => {
      this.proc.once('exit', () => resolve());
      this.send('q', new Uint8Array(0));
      this.toXs.end();
      setTimeout(() => this.proc.kill(), 2000).unref();
    });
  }
}
