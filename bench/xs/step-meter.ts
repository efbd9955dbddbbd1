/**
 * StepMeter: attributes XS compute steps to named parts of a run inside one
 * xsnap command (bench only). It reads xsnap's own meter in place
 * (`resetMeter(limit, index)` answers the current count and sets it; reading
 * sets it straight back, so the command's reported total is unchanged but for
 * the reads themselves).
 *
 * `wrap(obj, method, part)` makes every call of obj[method] count for `part`
 * until it returns (nested calls count for their own part: a harness timer
 * that calls the toy's socket handler credits the handler's steps to the toy).
 * The bookkeeping of one call (wrapper, two meter reads) costs steps too: it is
 * measured by `calibrate()` and taken out of the part that paid it (`corrected()`).
 *
 * Outside xsnap (no resetMeter), every figure is 0. Wrapping allocates (rest
 * arguments), so allocation figures come from runs without a meter.
 */
declare const resetMeter: ((limit: number, index: number) => number) | undefined;
declare const currentMeterLimit: (() => number) | undefined;

const hasMeter = typeof resetMeter === 'function' && typeof currentMeterLimit === 'function';

/** The current XS meter (steps since the command started), 0 outside xsnap. */
export function meterNow(): number {
  if (!hasMeter) return 0;
  const limit = currentMeterLimit!();
  const c = resetMeter!(limit, 0);
  resetMeter!(limit, c);
  return c;
}

export class StepMeter {
  /** Steps credited to each part (raw, bookkeeping included). */
  readonly raw = new Map<string, number>();
  /** Calls that entered each part (as callee). */
  readonly enters = new Map<string, number>();
  /** Calls each part made into another part (as caller). */
  readonly calls = new Map<string, number>();
  private readonly stack: string[];
  private last = 0;
  /** Bookkeeping steps one wrapped call costs its callee and its caller (from calibrate()). */
  inCost = 0;
  outCost = 0;

  constructor(readonly base: string) {
    this.stack = [base];
  }

  /** Starts counting now (drops what happened before). */
  begin(): void {
    this.raw.clear();
    this.enters.clear();
    this.calls.clear();
    this.stack.length = 1;
    this.last = meterNow();
  }

  /** Credits the steps since the last switch to the current part. */
  private settle(): void {
    const m = meterNow();
    const top = this.stack[this.stack.length - 1]!;
    this.raw.set(top, (this.raw.get(top) ?? 0) + (m - this.last));
    this.last = m;
  }

  enter(part: string): void {
    this.settle();
    const top = this.stack[this.stack.length - 1]!;
    this.calls.set(top, (this.calls.get(top) ?? 0) + 1);
    this.enters.set(part, (this.enters.get(part) ?? 0) + 1);
    this.stack.push(part);
  }

  exit(): void {
    this.settle();
    this.stack.pop();
  }

  /** Ends counting: credits the rest to the current part. */
  end(): void {
    this.settle();
  }

  /** A function that runs fn as `part`. */
  wrapFn<A extends unknown[], R>(fn: (...a: A) => R, part: string, self?: unknown): (...a: A) => R {
    const meter = this;
    return function (this: unknown, ...a: A): R {
      meter.enter(part);
      try {
        return fn.apply(self ?? this, a);
      } finally {
        meter.exit();
      }
    };
  }

  /** Replaces obj[method] by a wrapper that counts its calls for `part`. */
  wrap(obj: object, method: string, part: string): void {
    const o = obj as Record<string, unknown>;
    const fn = o[method];
    if (typeof fn !== 'function') throw new Error(`StepMeter.wrap: no method ${method}`);
    o[method] = this.wrapFn(fn as (...a: unknown[]) => unknown, part, obj);
  }

  /** Measures the bookkeeping of one wrapped call of an empty function (deterministic on XS). */
  calibrate(n = 2000): void {
    const probe = { f: (_x: unknown) => undefined as unknown };
    this.wrap(probe, 'f', 'calib');
    const caller = '__caller';
    this.begin();
    this.stack.push(caller);
    for (let i = 0; i < n; i++) probe.f(i);
    this.end();
    this.stack.pop();
    // the empty loop's own cost, unwrapped, is taken out of the caller's share
    const plain = { f: (_x: unknown) => undefined as unknown };
    const l0 = meterNow();
    for (let i = 0; i < n; i++) plain.f(i);
    const loop = meterNow() - l0;
    this.inCost = (this.raw.get('calib') ?? 0) / n;
    this.outCost = Math.max(0, ((this.raw.get(caller) ?? 0) - loop) / n);
    this.begin();
  }

  /** Steps of each part with the bookkeeping it paid taken out. */
  corrected(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [part, steps] of this.raw) {
      const c = steps - (this.enters.get(part) ?? 0) * this.inCost - (this.calls.get(part) ?? 0) * this.outCost;
      out.set(part, Math.max(0, c));
    }
    return out;
  }
}
