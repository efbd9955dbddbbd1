/**
 * Host side of the XS tier: bundles a portable entry file with esbuild for the
 * XS engine of @agoric/xsnap (ES2021, see ARCHITECTURE.md) and drives a worker.
 * Used by the XS test runner (tools/xs-test.ts) and by `npm run bench`.
 */
import '@endo/init/unsafe-fast.js';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { xsnap } from '@agoric/xsnap';

/** Bundles `entry` (a .ts file) into one script for XS. Returns the code and its byte size. */
export async function bundleForXs(entry: string): Promise<{ code: string; bytes: number }> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2021',
    platform: 'neutral',
    mainFields: ['module', 'main'],
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
  /** Bytes allocated by XS during the call, as xsnap meters it. */
  allocate: number | null;
  /** Live heap slots after the call. */
  heapCount: number | null;
}

/** One xsnap worker with one bundle loaded. close() is safe to call twice. */
export class XsSession {
  private closed = false;
  private messages: string[] = [];
  private constructor(private worker: Awaited<ReturnType<typeof xsnap>>, sink: string[]) {
    this.messages = sink;
  }

  /** Starts a worker and evaluates the bundle of `entry` in it. */
  static async start(entry: string, opts: { name?: string } = {}): Promise<XsSession> {
    const { code } = await bundleForXs(entry);
    const sink: string[] = [];
    const dec = new TextDecoder();
    const worker = await xsnap({
      os: os.type(),
      spawn,
      fs: { ...fsp, ...fs, tmpName: undefined } as never,
      name: opts.name ?? path.basename(entry),
      stdout: 'inherit',
      stderr: 'inherit',
      meteringLimit: 0,
      handleCommand: async (msg: Uint8Array) => {
        sink.push(dec.decode(msg));
        return new Uint8Array(0);
      },
    });
    const s = new XsSession(worker, sink);
    await worker.evaluate(code);
    return s;
  }

  /** Messages the bundle sent with issueCommand since the last drain. */
  drain(): string[] {
    const m = this.messages.splice(0, this.messages.length);
    return m;
  }

  /** Evaluates a script; returns its metered compute steps. */
  async evaluate(code: string): Promise<number> {
    const r = await this.worker.evaluate(code);
    return Number(r.meterUsage.compute ?? 0);
  }

  /** Calls a command registered with onXsCommand (tests/xs/commands.ts). Throws when it failed inside XS. */
  async call<T = unknown>(name: string, arg: unknown = null): Promise<XsCallResult<T>> {
    const r = await this.worker.issueStringCommand(JSON.stringify({ name, arg }));
    const reply = JSON.parse(r.reply) as { ok: boolean; result?: T; error?: string };
    if (!reply.ok) throw new Error(`XS command ${name} failed: ${reply.error}`);
    return {
      result: reply.result as T,
      compute: Number(r.meterUsage.compute ?? 0),
      allocate: r.meterUsage.allocate ?? null,
      heapCount: r.meterUsage.currentHeapCount ?? null,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.close().catch(() => undefined);
  }
}
