/**
 * The portability guard: src/, audio/ and phone/ (the family's library) must run on XS and on Node alike, so
 * they import no `node:*` module, no Node built-in by bare name, no Moddable-only
 * specifier, and use no Node global (Buffer, process, __dirname, require).
 * Ports carry everything platform-specific (see hal/ports.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Specifiers that exist only in the Moddable SDK (see ARCHITECTURE.md). */
const MODDABLE_ONLY = [
  'audioin', 'pins/', 'timer', 'preference', 'bleserver', 'bleclient', 'sm', 'btutils', 'gap', 'gatt',
  'mqtt', 'wifi', 'file', 'flash', 'ota', 'crypt', 'socket', 'securesocket', 'net', 'mc/', 'embedded:',
  'instrumentation', 'debug', 'resource', 'Resource', 'commodetto', 'piu',
];
const NODE_BUILTINS = new Set([
  'assert', 'buffer', 'child_process', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'https',
  'http2', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'tls', 'url', 'util', 'worker_threads',
  'zlib', 'timers', 'v8', 'vm', 'module',
]);
const NODE_GLOBALS = ['Buffer', 'process', '__dirname', '__filename', 'require', 'setImmediate', 'global'];

export interface GuardViolation {
  file: string;
  line: number;
  rule: 'node-import' | 'moddable-import' | 'node-global';
  text: string;
}

function stripComments(src: string): string {
  // Blank out comments while keeping line numbers: block comments, then line comments.
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, (_m, p: string) => p);
}

function stripStrings(line: string): string {
  return line.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`/g, "''");
}

/** Checks one file's source text; returns every violation found. */
export function checkSource(file: string, source: string): GuardViolation[] {
  const out: GuardViolation[] = [];
  const lines = stripComments(source).split('\n');
  const importRe = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  lines.forEach((text, i) => {
    let m: RegExpExecArray | null;
    importRe.lastIndex = 0;
    while ((m = importRe.exec(text))) {
      const spec = m[1]!;
      if (spec.startsWith('.') || spec.startsWith('/')) continue;
      if (spec.startsWith('node:') || NODE_BUILTINS.has(spec)) out.push({ file, line: i + 1, rule: 'node-import', text: text.trim() });
      else if (MODDABLE_ONLY.some((p) => (p.endsWith('/') || p.endsWith(':') ? spec.startsWith(p) : spec === p)))
        out.push({ file, line: i + 1, rule: 'moddable-import', text: text.trim() });
    }
    const code = stripStrings(text);
    for (const g of NODE_GLOBALS) {
      const re = new RegExp(`(^|[^.\\w$])${g.replace('$', '\\$')}\\s*[.(\\[]`);
      if (re.test(code)) out.push({ file, line: i + 1, rule: 'node-global', text: text.trim() });
    }
  });
  return out;
}

/** Walks the portable folders (default src/ and audio/) and checks every .ts/.js file. */
export function checkTree(root: string, dirs = ['src', 'audio', 'phone']): GuardViolation[] {
  const out: GuardViolation[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(e.name)) out.push(...checkSource(path.relative(root, p), fs.readFileSync(p, 'utf8')));
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out;
}
