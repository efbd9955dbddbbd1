/**
 * The toy's label: a QR code with the setup payload (src/setup-code.ts,
 * `PP2:<TOY ID>:<SECRET>:<TOY KEY HASH>` when the toy's public key is given (the
 * phone checks the toy's key against it: issue 11), else `PP1:<TOY ID>:<SECRET>`, encoded in QR alphanumeric mode with the `qrcode`
 * package) and a short check string a person can compare with the parent
 * app (src/identity.ts toyCheckString). The label holds the setup secret: it
 * is printed onto the toy and never stored in the registry.
 */
import QRCode from 'qrcode';
import { formatSetupCode } from '../src/setup-code.js';
import { toyKeyHash } from '../src/pairing-protocol.js';
import { nodeCrypto } from './node-crypto.js';

/** QR error correction: M (15%) survives a scuffed fabric label at version 4 (33x33). */
export const LABEL_QR_ECC = 'M' as const;

export interface LabelInput {
  toyId: string;
  setupSecret: Uint8Array;
  checkString: string;
  /** The toy's X25519 public key: its hash goes into the QR (PP2), so the phone refuses an evil twin. */
  toyPublicKey?: Uint8Array;
}

export interface Label {
  /** The QR payload (contains the setup secret). */
  payload: string;
  /** The QR module matrix size (modules per side). */
  qrSize: number;
  svg: string;
  text: string;
}

function segments(payload: string): QRCode.QRCodeSegment[] {
  return [{ data: payload, mode: 'alphanumeric' }];
}

/** The QR module matrix for a payload: rows of 0/1, exactly as the label draws it. */
export function qrModules(payload: string): number[][] {
  const qr = QRCode.create(segments(payload), { errorCorrectionLevel: LABEL_QR_ECC });
  const n = qr.modules.size;
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) {
    const row: number[] = [];
    for (let c = 0; c < n; c++) row.push(qr.modules.data[r * n + c] ? 1 : 0);
    rows.push(row);
  }
  return rows;
}

/** Groups an uppercase toy id for reading: 8 groups of 4. */
export function groupToyId(toyId: string): string {
  return toyId.toUpperCase().replace(/(.{4})(?=.)/g, '$1 ');
}

/**
 * Builds the label: an SVG (QR with a 4-module quiet zone, one path of unit
 * squares, the grouped toy id and the check string below it) and a text form.
 */
export function makeLabel(input: LabelInput): Label {
  const keyHash = input.toyPublicKey ? toyKeyHash(nodeCrypto, input.toyPublicKey) : undefined;
  const payload = formatSetupCode({ toyId: input.toyId, setupSecret: input.setupSecret, toyKeyHash: keyHash });
  const m = qrModules(payload);
  const n = m.length;
  const quiet = 4;
  const side = n + 2 * quiet;
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (m[r]![c]) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
  }
  const textH = 9;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side + textH}" width="${(side * 4) | 0}" height="${((side + textH) * 4) | 0}" shape-rendering="crispEdges">` +
    `<rect width="${side}" height="${side + textH}" fill="#fff"/>` +
    `<path data-qr-size="${n}" fill="#000" d="${d}"/>` +
    `<text x="${side / 2}" y="${side + 2}" font-family="monospace" font-size="2" text-anchor="middle">${groupToyId(input.toyId)}</text>` +
    `<text x="${side / 2}" y="${side + 6}" font-family="monospace" font-size="3.2" font-weight="bold" text-anchor="middle">CHECK ${input.checkString}</text>` +
    `</svg>\n`;
  const text =
    `PawPost toy\n` +
    `toy id: ${groupToyId(input.toyId)}\n` +
    `check: ${input.checkString}\n` +
    `setup code: ${payload}\n`;
  return { payload, qrSize: n, svg, text };
}

/** A PNG of the QR alone (slower than SVG; for printers that want bitmaps). */
export async function labelPng(payload: string): Promise<Uint8Array> {
  const buf = await QRCode.toBuffer(segments(payload), { type: 'png', errorCorrectionLevel: LABEL_QR_ECC, margin: 4, scale: 8 });
  return new Uint8Array(buf);
}

/** Reads the QR module matrix back from a label SVG made by makeLabel (for verify and tests). */
export function modulesFromLabelSvg(svg: string): number[][] | undefined {
  const m = /<path data-qr-size="(\d+)" fill="#000" d="([^"]*)"\/>/.exec(svg);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!(n >= 21 && n <= 177)) return undefined;
  const rows = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const re = /M(\d+) (\d+)h1v1h-1z/g;
  let x: RegExpExecArray | null;
  let consumed = 0;
  while ((x = re.exec(m[2]!))) {
    const c = Number(x[1]) - 4;
    const r = Number(x[2]) - 4;
    if (r < 0 || c < 0 || r >= n || c >= n) return undefined;
    rows[r]![c] = 1;
    consumed += x[0].length;
  }
  if (consumed !== m[2]!.length) return undefined;
  return rows;
}
