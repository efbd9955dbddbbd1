/**
 * Reading one-line key files (the maker key, the release key): the rules both
 * follow, with the caller's typed error. `fail(code, message)` must throw;
 * messages name the file and never its content.
 */
import * as fs from 'node:fs';

export type KeyFileFailure = (code: 'IO' | 'FORMAT' | 'PERMISSIONS', message: string) => never;

/** The file's one non-empty line, trimmed. IO when unreadable, FORMAT when it has not exactly one line. */
export function readKeyLine(file: string, what: string, fail: KeyFileFailure): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return fail('IO', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) return fail('FORMAT', `${what} ${file} must hold exactly one line`);
  return lines[0]!.trim();
}

/** Refuses a secret key file that group or others may read (PERMISSIONS), or that cannot be stat'ed (IO). */
export function checkPrivateKeyFile(file: string, what: string, fail: KeyFileFailure): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    return fail('IO', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    fail('PERMISSIONS', `${what} ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
}
