/**
 * Host-callable commands inside an XS worker, for benchmarks and step counts.
 * A bundle registers named functions with `onXsCommand`; the host calls them
 * through tools/xs-worker.ts `XsSession.call(name, arg)` and reads the XS
 * compute steps (`meterUsage.compute`) of exactly that call.
 * Argument and result are JSON. Portable: runs only inside XS or any JS engine.
 */
type Handler = (arg: unknown) => unknown;
const handlers = new Map<string, Handler>();

/** Registers fn under name. A later registration of the same name replaces it. */
export function onXsCommand(name: string, fn: Handler): void {
  handlers.set(name, fn);
}

(globalThis as Record<string, unknown>).handleCommand = (message: ArrayBuffer): ArrayBuffer => {
  let reply: unknown;
  try {
    const { name, arg } = JSON.parse(new TextDecoder().decode(message)) as { name: string; arg: unknown };
    const fn = handlers.get(name);
    if (!fn) throw new Error(`no XS command ${name}`);
    reply = { ok: true, result: fn(arg) ?? null };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  return new TextEncoder().encode(JSON.stringify(reply)).buffer as ArrayBuffer;
};
