/** A LogPort that keeps lines for assertions (e.g. that no secret was logged). Portable. */
import type { LogLevel, LogPort } from '../../hal/ports.js';

export class MemoryLog implements LogPort {
  readonly lines: { level: LogLevel; event: string; fields?: Record<string, string | number | boolean> }[] = [];
  log(level: LogLevel, event: string, fields?: Record<string, string | number | boolean>): void {
    this.lines.push({ level, event, fields });
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.event} ${JSON.stringify(l.fields ?? {})}`).join('\n');
  }
}
