/**
 * Restarts the device (hal/native/pawpost-system.c: esp_restart() on the ESP32;
 * the SDK's lin simulator exits). Used after a factory reset. Bound on first use,
 * so that loading this module costs nothing where restart is never called (the
 * Node simulator rebuilds the toy instead).
 */
declare function native(name: string): (...args: unknown[]) => unknown;

export function restartDevice(): void {
  const restart = native('xs_pawpost_restart') as () => void;
  restart();
}
