/**
 * LogPort over XS's `trace` (xsbug console, or the serial port when built
 * without the debugger). One line per call, `level event key=value ...\n`.
 *
 * Callers never pass secrets (hal/ports.ts LogPort). The adapter still bounds
 * what it prints: at most `maxFields` fields, string values cut to
 * `maxValueChars`, control characters replaced, so a hostile value (a BLE
 * device name, an MQTT topic) cannot forge log lines or flood the console.
 * Messages below `minLevel` are dropped. log() never throws.
 */
import type { LogLevel, LogPort } from './ports.js';

export interface ModdableLogOptions {
  /** Lowest level printed (default 'info'). */
  minLevel?: LogLevel;
  /** Most fields printed per line (default 12). */
  maxFields?: number;
  /** Longest string value printed, in characters (default 64). */
  maxValueChars?: number;
  /** Where lines go (default the global `trace`); for tests and the simulator. */
  sink?: (line: string) => void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function clean(s: string, max: number): string {
  const cut = s.length > max ? s.slice(0, max) + '...' : s;
  return cut.replace(/[\u0000-\u001f\u007f]/g, '?');
}

export class ModdableLog implements LogPort {
  private readonly min: number;
  private readonly maxFields: number;
  private readonly maxValue: number;
  private readonly sink: (line: string) => void;
  /** Lines dropped because printing failed. */
  failures = 0;

  constructor(options: ModdableLogOptions = {}) {
    this.min = RANK[options.minLevel ?? 'info'];
    this.maxFields = options.maxFields ?? 12;
    this.maxValue = options.maxValueChars ?? 64;
    this.sink = options.sink ?? ((line) => trace(line));
  }

  log(level: LogLevel, event: string, fields?: Record<string, string | number | boolean>): void {
    try {
      const rank = RANK[level];
      if (rank === undefined || rank < this.min) return;
      let line = level + ' ' + clean(String(event), this.maxValue);
      if (fields) {
        let n = 0;
        for (const key of Object.keys(fields)) {
          if (n++ >= this.maxFields) {
            line += ' ...';
            break;
          }
          const v = fields[key];
          line += ' ' + clean(key, 32) + '=' + (typeof v === 'string' ? clean(v, this.maxValue) : String(v));
        }
      }
      this.sink(line + '\n');
    } catch {
      this.failures++;
    }
  }
}
