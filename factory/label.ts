/**
 * The toy's label: a QR code with the setup payload (src/setup-code.ts,
 * `PP2:<TOY ID>:<SECRET>:<TOY KEY HASH>` when the toy's public key is given (the
 * phone checks the toy's key against it: issue 11), else `PP1:<TOY ID>:<SECRET>`, encoded in QR alphanumeric mode with the `qrcode`
 * package) and a short check string a person can compare with the parent
 * app (src/identity.ts toyCheckString). The label holds the setup secret: it
 * is printed onto the toy and never stored in the registry.
 *
 * Layout (layoutLabel): units are QR modules, printed at LABEL_MODULE_MM.
 * The QR with its 4-module quiet zone on top; under it the toy id in two
 * lines and the check string, each measured with the label font and drawn
 * as outlines (factory/label-font.ts), so the printed width is the measured
 * width on any printer. tests/provision-label.test.ts renders labels to
 * pixels and decodes the QR from them.
 */
import QRCode from 'qrcode';
import { formatSetupCode } from '../src/setup-code.js';
import { toyKeyHash } from '../src/pairing-protocol.js';
import { nodeCrypto } from './node-crypto.js';
import { placeTextLine, type TextLine } from './label-font.js';

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

/** QR quiet zone, in modules (ISO/IEC 18004 asks for 4). */
export const LABEL_QUIET_MODULES = 4;
/** Printed size of one QR module (the label's unit), in millimetres: 41 modules = 24.6 mm for a version-4 QR. */
export const LABEL_MODULE_MM = 0.6;
/** Blank margin kept at the label's left, right and bottom edges, in modules. */
export const LABEL_MARGIN = 1;

/**
 * The text lines under the QR: the toy id in two lines of four groups, then
 * the check string in bold. Wanted and smallest sizes in modules (2.8 modules
 * = 1.7 mm em at LABEL_MODULE_MM, about 4.8 pt).
 */
export function labelTextLines(input: LabelInput): { text: string; weight: 'regular' | 'bold'; size: number; minSize: number; gapBefore: number }[] {
  const groups = groupToyId(input.toyId).split(' ');
  return [
    { text: groups.slice(0, 4).join(' '), weight: 'regular', size: 2.8, minSize: 2, gapBefore: 0 },
    { text: groups.slice(4).join(' '), weight: 'regular', size: 2.8, minSize: 2, gapBefore: 0.2 },
    { text: `CHECK ${input.checkString}`, weight: 'bold', size: 3.6, minSize: 2.4, gapBefore: 0.8 },
  ];
}

/** Where everything on a label sits, in modules (for tests and verify). */
export interface LabelLayout {
  width: number;
  height: number;
  /** The QR's top-left module and side, in modules (quiet zone excluded). */
  qr: { x: number; y: number; size: number };
  lines: TextLine[];
}

/**
 * Lays a label out: the QR with its quiet zone on top, then each text line
 * measured with the font and centred inside the margins, shrunk to fit
 * (never below its smallest size: LabelError FIT). The text starts below
 * the quiet zone, which stays blank.
 */
export function layoutLabel(input: LabelInput, qrSize: number): LabelLayout {
  const width = qrSize + 2 * LABEL_QUIET_MODULES;
  let top = width;
  const lines: TextLine[] = [];
  for (const l of labelTextLines(input)) {
    top += l.gapBefore;
    const placed = placeTextLine({ ...l, x0: LABEL_MARGIN, width: width - 2 * LABEL_MARGIN, top });
    lines.push(placed);
    top = placed.bottom;
  }
  const height = Math.ceil(top + LABEL_MARGIN);
  return { width, height, qr: { x: LABEL_QUIET_MODULES, y: LABEL_QUIET_MODULES, size: qrSize }, lines };
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/**
 * Builds the label: an SVG in modules (printed at LABEL_MODULE_MM per
 * module): a white background, the QR as one path of unit squares, each text
 * line as glyph outlines (with its text in aria-label) laid out by
 * layoutLabel; and a text form. Throws LabelError when the text cannot fit.
 */
export function makeLabel(input: LabelInput): Label {
  const keyHash = input.toyPublicKey ? toyKeyHash(nodeCrypto, input.toyPublicKey) : undefined;
  const payload = formatSetupCode({ toyId: input.toyId, setupSecret: input.setupSecret, toyKeyHash: keyHash });
  const m = qrModules(payload);
  const n = m.length;
  const q = LABEL_QUIET_MODULES;
  const layout = layoutLabel(input, n);
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (m[r]![c]) d += `M${c + q} ${r + q}h1v1h-1z`;
  }
  const mm = (u: number) => `${Math.round(u * LABEL_MODULE_MM * 100) / 100}mm`;
  let svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" width="${mm(layout.width)}" height="${mm(layout.height)}">` +
    `<rect width="${layout.width}" height="${layout.height}" fill="#fff"/>` +
    `<path data-qr-size="${n}" fill="#000" shape-rendering="crispEdges" d="${d}"/>`;
  for (const line of layout.lines) svg += `<path aria-label="${xmlText(line.text)}" fill="#000" d="${line.d}"/>`;
  svg += `</svg>\n`;
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
  const m = /<path data-qr-size="(\d+)" fill="#000"(?: shape-rendering="crispEdges")? d="([^"]*)"\/>/.exec(svg);
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
