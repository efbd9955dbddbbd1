/**
 * Signal comparison for codec round-trip tests: the normalized correlation of
 * y against x, at the delay (0..maxDelay samples) where it is highest — Opus
 * delays its output (104 samples at 16 kHz here).
 */
export function alignedCorrelation(x: Int16Array, y: Int16Array, maxDelay = 800): { r: number; delay: number } {
  let best = { r: -1, delay: 0 };
  for (let d = 0; d <= maxDelay; d++) {
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i + d < y.length && i < x.length; i++) {
      const a = x[i]!, b = y[i + d]!;
      sxy += a * b;
      sxx += a * a;
      syy += b * b;
    }
    const r = sxy / Math.sqrt(sxx * syy || 1);
    if (r > best.r) best = { r, delay: d };
  }
  return best;
}

/** Normalised correlation of a against b[lag..] over their common length (one lag, no search). */
export function correlationAt(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  const n = Math.min(a.length, b.length - lag);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i + lag]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}
