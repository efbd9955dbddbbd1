/**
 * The CSV input format of ESP-IDF's nvs_partition_gen.py:
 *
 *   key,type,encoding,value
 *   pawpost,namespace,,
 *   toy_id,data,string,0123...
 *   box_pk,data,hex2bin,a1b2...
 *
 * `type` is namespace | data (| file, which this tool does not read);
 * `encoding` is u8 i8 u16 i16 u32 i32 string hex2bin base64 (binary only with
 * type file). Lines starting with '#' are comments. Fields are RFC 4180 CSV
 * (Python's csv module): a field with a comma, quote or line break is quoted.
 *
 * Errors are NvsCsvError with a stable `code` and the line number; messages
 * never quote a value (values may be secrets).
 */
import type { NvsItem } from './nvs-image.js';

export type NvsCsvErrorCode = 'HEADER' | 'SYNTAX' | 'KEY' | 'TYPE' | 'ENCODING' | 'VALUE' | 'NAMESPACE';

export class NvsCsvError extends Error {
  override readonly name = 'NvsCsvError';
  readonly code: NvsCsvErrorCode;
  readonly line: number;
  constructor(code: NvsCsvErrorCode, line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.code = code;
    this.line = line;
  }
}

const HEADER = ['key', 'type', 'encoding', 'value'];

function quote(field: string): string {
  return /[",\r\n]/.test(field) || field.startsWith('#') ? `"${field.replace(/"/g, '""')}"` : field;
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
}

/**
 * Formats items as nvs_partition_gen.py CSV: a namespace row whenever the
 * namespace changes, blobs as hex2bin (lowercase), strings as string, integers
 * in decimal. Lines end with \n.
 */
export function formatNvsCsv(items: readonly NvsItem[]): string {
  const lines = [HEADER.join(',')];
  let ns: string | undefined;
  for (const it of items) {
    if (it.namespace !== ns) {
      lines.push(`${quote(it.namespace)},namespace,,`);
      ns = it.namespace;
    }
    let encoding: string;
    let value: string;
    if (it.type === 'blob') {
      encoding = 'hex2bin';
      value = toHex(it.value);
    } else if (it.type === 'string') {
      encoding = 'string';
      value = it.value;
    } else {
      encoding = it.type;
      value = String(it.value);
    }
    lines.push([quote(it.key), 'data', encoding, quote(value)].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Splits CSV text into records of fields (RFC 4180), keeping each record's first line number. */
function records(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    if (text[i] === '#') {
      // comment line (nvs_partition_gen.py drops lines whose first character is '#')
      while (i < n && text[i] !== '\n') i++;
      i++;
      line++;
      continue;
    }
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let atFieldStart = true;
    for (;;) {
      if (i >= n) {
        if (quoted) throw new NvsCsvError('SYNTAX', startLine, 'unterminated quoted field');
        fields.push(field);
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
            if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
              throw new NvsCsvError('SYNTAX', startLine, 'characters after a closing quote');
            }
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === '"' && atFieldStart) {
        quoted = true;
        atFieldStart = false;
        i++;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        atFieldStart = true;
        i++;
        continue;
      }
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
        continue;
      }
      if (c === '\n') {
        fields.push(field);
        i++;
        line++;
        break;
      }
      field += c;
      atFieldStart = false;
      i++;
    }
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: startLine, fields });
  }
  return out;
}

const INT_LIMITS: Record<string, [number, number]> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};

function parseHex(s: string, line: number, key: string): Uint8Array {
  const t = s.trim();
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) throw new NvsCsvError('VALUE', line, `${key}: hex2bin value must be an even number of hex digits`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function parseBase64(s: string, line: number, key: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw new NvsCsvError('VALUE', line, `${key}: base64 value is malformed`);
  return new Uint8Array(Buffer.from(t, 'base64'));
}

/**
 * Parses nvs_partition_gen.py CSV into items, checking the header, key
 * lengths (1..15), types, encodings and value ranges. Throws NvsCsvError.
 */
export function parseNvsCsv(text: string): NvsItem[] {
  const recs = records(text);
  if (recs.length === 0) throw new NvsCsvError('HEADER', 1, 'empty file');
  const head = recs[0]!;
  if (head.fields.length !== 4 || head.fields.some((f, i) => f.trim() !== HEADER[i])) {
    throw new NvsCsvError('HEADER', head.line, `header must be "${HEADER.join(',')}"`);
  }
  const items: NvsItem[] = [];
  let ns: string | undefined;
  for (const { line, fields } of recs.slice(1)) {
    if (fields.length !== 4) throw new NvsCsvError('SYNTAX', line, `expected 4 fields, got ${fields.length}`);
    const [key, type, encoding, value] = fields as [string, string, string, string];
    if (key.length < 1 || key.length > 15 || !/^[\x20-\x7e]+$/.test(key)) throw new NvsCsvError('KEY', line, 'key must be 1..15 printable ASCII characters');
    if (type === 'namespace') {
      ns = key;
      continue;
    }
    if (type === 'file') throw new NvsCsvError('TYPE', line, `${key}: type "file" is not supported here`);
    if (type !== 'data') throw new NvsCsvError('TYPE', line, `${key}: type must be namespace or data`);
    if (ns === undefined) throw new NvsCsvError('NAMESPACE', line, `${key}: data before any namespace row`);
    const enc = encoding.toLowerCase();
    if (enc in INT_LIMITS) {
      const t = value.trim();
      if (!/^[-+]?\d+$/.test(t)) throw new NvsCsvError('VALUE', line, `${key}: ${enc} value is not an integer`);
      const v = Number(t);
      const [lo, hi] = INT_LIMITS[enc]!;
      if (v < lo || v > hi) throw new NvsCsvError('VALUE', line, `${key}: ${enc} value out of range`);
      items.push({ namespace: ns, key, type: enc as 'u8', value: v });
    } else if (enc === 'string') {
      if (value.includes('\0')) throw new NvsCsvError('VALUE', line, `${key}: string holds a NUL`);
      items.push({ namespace: ns, key, type: 'string', value });
    } else if (enc === 'hex2bin') {
      items.push({ namespace: ns, key, type: 'blob', value: parseHex(value, line, key) });
    } else if (enc === 'base64') {
      items.push({ namespace: ns, key, type: 'blob', value: parseBase64(value, line, key) });
    } else {
      throw new NvsCsvError('ENCODING', line, `${key}: unsupported encoding`);
    }
  }
  return items;
}
