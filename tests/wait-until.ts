/**
 * Real-time waits for the simulator and command-line tests: `sleep`, and `until`, which
 * polls a condition every 25 ms and throws "timed out waiting for <what>" after `ms`.
 * Condition-based waits, never fixed sleeps alone: the tests run on loaded CI machines.
 */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, cond: () => boolean, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** `until` with another default time limit, for files whose waits are longer (`const until = untilWithin(60000)`). */
export const untilWithin =
  (defaultMs: number) =>
  (what: string, cond: () => boolean, ms = defaultMs): Promise<void> =>
    until(what, cond, ms);
