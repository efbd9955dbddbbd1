/**
 * A minimal portable test harness for the XS tier. Test files register cases
 * with `test(name, fn)`; the XS runner (tools/xs-run.ts) bundles the file with
 * esbuild, evaluates it in an @agoric/xsnap worker and calls `__pawpostRunTests`,
 * which reports each case to the host through xsnap's `issueCommand`.
 *
 * Portable: no Node, no Moddable specifiers. The assertions mirror ava's names so
 * a reader of either tier sees the same vocabulary.
 */

export interface XsAssert {
  is<T>(actual: T, expected: T, message?: string): void;
  not<T>(actual: T, expected: T, message?: string): void;
  true(value: unknown, message?: string): void;
  false(value: unknown, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  /** Runs fn; passes when it throws. Returns the thrown value. */
  throws(fn: () => unknown, check?: (e: unknown) => boolean, message?: string): unknown;
  notThrows(fn: () => unknown, message?: string): void;
  pass(): void;
  fail(message?: string): void;
  log(...args: unknown[]): void;
}

/**
 * The assertions the shared case files (tests/*.cases.ts) use: a subset that
 * both ava's `t` and XsAssert satisfy, so one case body runs in both tiers.
 */
export interface CaseAssert {
  is<T>(actual: T, expected: T, message?: string): void;
  true(value: unknown, message?: string): void;
  false(value: unknown, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  fail(message?: string): void;
}

type Case = { name: string; fn: (t: XsAssert) => void | Promise<void>; xsOnly: boolean };
const cases: Case[] = [];

export class XsAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XsAssertionError';
  }
}

function show(v: unknown): string {
  try {
    if (v instanceof Uint8Array) return `Uint8Array(${v.length})[${Array.from(v.subarray(0, 16)).join(',')}${v.length > 16 ? ',…' : ''}]`;
    if (typeof v === 'bigint') return `${v}n`;
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function makeAssert(logs: string[], counter: { n: number }): XsAssert {
  const fail = (m: string) => {
    throw new XsAssertionError(m);
  };
  return {
    is(a, e, m) {
      counter.n++;
      if (!Object.is(a, e)) fail(`${m ?? 'is'}: expected ${show(e)}, got ${show(a)}`);
    },
    not(a, e, m) {
      counter.n++;
      if (Object.is(a, e)) fail(`${m ?? 'not'}: did not expect ${show(e)}`);
    },
    true(v, m) {
      counter.n++;
      if (v !== true) fail(`${m ?? 'true'}: got ${show(v)}`);
    },
    false(v, m) {
      counter.n++;
      if (v !== false) fail(`${m ?? 'false'}: got ${show(v)}`);
    },
    deepEqual(a, e, m) {
      counter.n++;
      if (!deepEq(a, e)) fail(`${m ?? 'deepEqual'}: expected ${show(e)}, got ${show(a)}`);
    },
    throws(fn, check, m) {
      counter.n++;
      try {
        fn();
      } catch (e) {
        if (check && !check(e)) fail(`${m ?? 'throws'}: wrong error ${show(e instanceof Error ? `${e.name}: ${e.message}` : e)}`);
        return e;
      }
      fail(`${m ?? 'throws'}: did not throw`);
      return undefined;
    },
    notThrows(fn, m) {
      counter.n++;
      try {
        fn();
      } catch (e) {
        fail(`${m ?? 'notThrows'}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : show(e)}`);
      }
    },
    pass() {
      counter.n++;
    },
    fail(m) {
      counter.n++;
      fail(m ?? 'fail');
    },
    log(...args) {
      logs.push(args.map((x) => (typeof x === 'string' ? x : show(x))).join(' '));
    },
  };
}

/**
 * Registers a test case. fn may be async; the runner awaits it.
 * Portable cases also run under Node (tests/portable-in-node.test.ts) unless
 * `xsOnly` is set (a case about the XS engine itself).
 */
export function test(name: string, fn: (t: XsAssert) => void | Promise<void>, opts: { xsOnly?: boolean } = {}): void {
  cases.push({ name, fn, xsOnly: opts.xsOnly ?? false });
}

/** The cases registered so far (for the Node runner of the portable tests). */
export function registeredCases(): readonly Case[] {
  return cases;
}

declare const issueCommand: ((msg: ArrayBuffer) => ArrayBuffer) | undefined;

function report(obj: unknown): void {
  const text = JSON.stringify(obj);
  if (typeof issueCommand === 'function') {
    issueCommand(new TextEncoder().encode(text).buffer as ArrayBuffer);
  }
}

/** Runs every registered case in order; called by the XS runner. */
async function runAll(only?: string): Promise<void> {
  for (const c of cases) {
    if (only !== undefined && c.name !== only) continue;
    const logs: string[] = [];
    const counter = { n: 0 };
    const t = makeAssert(logs, counter);
    try {
      await c.fn(t);
      if (counter.n === 0) throw new XsAssertionError('test made no assertion');
      report({ kind: 'result', name: c.name, ok: true, logs });
    } catch (e) {
      const msg = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
      report({ kind: 'result', name: c.name, ok: false, error: msg, logs });
    }
  }
  report({ kind: 'done', count: cases.length });
}

(globalThis as Record<string, unknown>).__pawpostRunTests = runAll;
