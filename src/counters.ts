/**
 * Named event counters: every rejected input, overrun, retry or failure is
 * counted here so tests, the simulator page and field logs can see it.
 * Counting allocates only when a name is first seen.
 */
export class Counters {
  private readonly map = new Map<string, number>();

  /** Adds n (default 1) to counter `name`. */
  inc(name: string, n = 1): void {
    this.map.set(name, (this.map.get(name) ?? 0) + n);
  }

  /** The current value (0 when never counted). */
  get(name: string): number {
    return this.map.get(name) ?? 0;
  }

  /** A plain snapshot, sorted by name. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.map.keys()].sort()) out[k] = this.map.get(k)!;
    return out;
  }

  reset(): void {
    this.map.clear();
  }
}
