/**
 * Labels as a printer puts them on paper: each label SVG is rasterized
 * (@resvg/resvg-js, no system fonts) onto a canvas larger than the label, and
 * the pixels are checked: every dark pixel lies inside the label's margins,
 * each text line's ink sits where the layout measured it, and the QR code
 * decodes (jsQR, from the pixels) to the toy's setup code. The label that
 * cut off the toy id (issue 17) is rendered the same way and caught.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Resvg } from '@resvg/resvg-js';
import jsQRModule from 'jsqr';
import { groupToyId, LABEL_MARGIN, layoutLabel, makeLabel, qrModules, type LabelInput } from '../factory/label.js';
import { LabelError, labelFontFile, placeTextLine } from '../factory/label-font.js';
import { formatSetupCode, parseSetupCode } from '../src/setup-code.js';

// jsqr is CommonJS with `export default` typings: under nodenext the default import is the module.
type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: JsQr = ((jsQRModule as unknown as { default?: JsQr }).default ?? jsQRModule) as unknown as JsQr;

const PX = 12; // pixels per module
const BLEED = 6; // modules of canvas around the label

interface Raster {
  /** Label size in modules (from the viewBox). */
  w: number;
  h: number;
  px: number;
  width: number;
  height: number;
  rgba: Uint8Array;
  /** Is pixel (x, y) of the whole canvas ink? */
  ink(x: number, y: number): boolean;
}

/** Renders an SVG whose viewBox starts at 0 0 onto a canvas BLEED modules larger on every side. */
function render(svg: string, bleed = BLEED, fonts = false): Raster {
  const vb = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg);
  if (!vb) throw new Error('no viewBox');
  const w = Number(vb[1]);
  const h = Number(vb[2]);
  const root = /<svg [^>]*>/.exec(svg)![0];
  const grown = svg.replace(root, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${-bleed} ${-bleed} ${w + 2 * bleed} ${h + 2 * bleed}" width="${(w + 2 * bleed) * PX}" height="${(h + 2 * bleed) * PX}">`);
  const r = new Resvg(grown, {
    font: fonts
      ? { loadSystemFonts: false, fontFiles: [labelFontFile('regular'), labelFontFile('bold')], defaultFontFamily: 'DejaVu Sans Mono', monospaceFamily: 'DejaVu Sans Mono' }
      : { loadSystemFonts: false },
  }).render();
  const rgba = new Uint8Array(r.pixels);
  const width = r.width;
  return {
    w, h, px: PX, width, height: r.height, rgba,
    ink: (x, y) => {
      const i = (y * width + x) * 4;
      return rgba[i + 3]! > 127 && rgba[i]! < 128;
    },
  };
}

/** The bounding box, in label modules, of the ink in canvas rows [y0, y1) (modules); undefined if none. */
function inkBox(r: Raster, y0 = -BLEED, y1 = r.h + BLEED): { x1: number; x2: number; y1: number; y2: number; count: number } | undefined {
  const py0 = Math.max(0, Math.round((y0 + BLEED) * PX));
  const py1 = Math.min(r.height, Math.round((y1 + BLEED) * PX));
  let box: { x1: number; x2: number; y1: number; y2: number; count: number } | undefined;
  for (let y = py0; y < py1; y++) {
    for (let x = 0; x < r.width; x++) {
      if (!r.ink(x, y)) continue;
      const mx = x / PX - BLEED;
      const my = y / PX - BLEED;
      if (!box) box = { x1: mx, x2: mx + 1 / PX, y1: my, y2: my + 1 / PX, count: 0 };
      box.x1 = Math.min(box.x1, mx);
      box.x2 = Math.max(box.x2, mx + 1 / PX);
      box.y1 = Math.min(box.y1, my);
      box.y2 = Math.max(box.y2, my + 1 / PX);
      box.count++;
    }
  }
  return box;
}

/** The label alone at PX pixels per module, white background (what a scanner sees). */
function decodeQr(svg: string): string | undefined {
  const r = render(svg, 0);
  return jsQR(new Uint8ClampedArray(r.rgba.buffer, r.rgba.byteOffset, r.rgba.length), r.width, r.height)?.data;
}

function randomToy(): LabelInput {
  return { toyId: randomBytes(16).toString('hex'), setupSecret: new Uint8Array(randomBytes(16)), checkString: 'XXXX-XXXX'.replace(/X/g, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[randomBytes(1)[0]! & 31]!) };
}

/** Widest-ink inputs: W and M are the fullest glyphs of the check alphabet, 0/8 of hex. */
const WIDE: LabelInput[] = [
  { toyId: '8'.repeat(32), setupSecret: new Uint8Array(16).fill(0xff), checkString: 'WWWW-WWWW' },
  { toyId: '0'.repeat(31) + '1', setupSecret: new Uint8Array(16).fill(1), checkString: 'MMMM-MMMM' },
];

test('every rendered label keeps its ink inside the margins, text where the layout measured it, and a QR that decodes', (t) => {
  for (const input of [...WIDE, ...Array.from({ length: 12 }, randomToy)]) {
    const label = makeLabel(input);
    const layout = layoutLabel(input, label.qrSize);
    const r = render(label.svg);
    t.is(r.w, layout.width);
    t.is(r.h, layout.height);
    const all = inkBox(r)!;
    // inside the label, with the margin kept blank at left, right and bottom (half a pixel of anti-aliasing allowed)
    const tol = 1 / PX;
    t.true(all.x1 >= LABEL_MARGIN - tol && all.x2 <= layout.width - LABEL_MARGIN + tol, `ink x ${all.x1.toFixed(2)}..${all.x2.toFixed(2)} within ${layout.width}`);
    t.true(all.y1 >= 0 && all.y2 <= layout.height - LABEL_MARGIN + tol, `ink y ${all.y1.toFixed(2)}..${all.y2.toFixed(2)} within ${layout.height}`);
    // the quiet zone around the QR is blank: no ink between the QR and the first text line
    const q = layout.qr;
    const quiet = inkBox(r, q.y + q.size + 0.1, layout.lines[0]!.ink.y1 - 0.1);
    t.is(quiet, undefined, 'no ink in the quiet zone below the QR');
    // each line: ink present, inside its measured box, the whole line (no glyph lost)
    for (const line of layout.lines) {
      const box = inkBox(r, line.ink.y1 - 0.05, line.ink.y2 + 0.05);
      t.truthy(box, `line "${line.text}" printed`);
      t.true(Math.abs(box!.x1 - line.ink.x1) < 2 / PX && Math.abs(box!.x2 - line.ink.x2) < 2 / PX, `line "${line.text}" ink ${box!.x1.toFixed(2)}..${box!.x2.toFixed(2)} vs measured ${line.ink.x1.toFixed(2)}..${line.ink.x2.toFixed(2)}`);
      t.true(line.advance <= layout.width - 2 * LABEL_MARGIN + 1e-9);
    }
    t.deepEqual(layout.lines.map((l) => l.text), [groupToyId(input.toyId).slice(0, 19), groupToyId(input.toyId).slice(20), `CHECK ${input.checkString}`]);
    t.deepEqual(layout.lines.map((l) => l.size), [2.8, 2.8, 3.6], 'every field at its full size');
    // the QR decodes from the pixels to the setup code
    const data = decodeQr(label.svg);
    t.is(data, formatSetupCode({ toyId: input.toyId, setupSecret: input.setupSecret }));
    const parsed = parseSetupCode(data!);
    t.is(parsed.toyId, input.toyId);
    t.deepEqual(parsed.setupSecret, input.setupSecret);
  }
});

/** The label layout before issue 17, kept here to show the pixel check catches it. */
function legacyLabelSvg(input: LabelInput): string {
  const payload = formatSetupCode({ toyId: input.toyId, setupSecret: input.setupSecret });
  const m = qrModules(payload);
  const n = m.length;
  const side = n + 8;
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (m[r]![c]) d += `M${c + 4} ${r + 4}h1v1h-1z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side + 9}" width="${side * 4}" height="${(side + 9) * 4}" shape-rendering="crispEdges">` +
    `<rect width="${side}" height="${side + 9}" fill="#fff"/><path fill="#000" d="${d}"/>` +
    `<text x="${side / 2}" y="${side + 2}" font-family="monospace" font-size="2" text-anchor="middle">${groupToyId(input.toyId)}</text>` +
    `<text x="${side / 2}" y="${side + 6}" font-family="monospace" font-size="3.2" font-weight="bold" text-anchor="middle">CHECK ${input.checkString}</text></svg>`;
}

test('the pre-fix label is caught: its toy id line runs past both edges of the label', (t) => {
  const input = WIDE[0]!;
  const r = render(legacyLabelSvg(input), BLEED, true);
  const idLine = inkBox(r, 41 + 0.2, 41 + 2.3)!;
  t.truthy(idLine);
  t.true(idLine.x1 < 0 && idLine.x2 > 41, `ink from ${idLine.x1.toFixed(2)} to ${idLine.x2.toFixed(2)} on a 41-module label: cut off at both sides`);
  // about 3 characters (1.2 modules each at size 2) lost on each side, as reported
  t.true(-idLine.x1 > 2.5 && idLine.x2 - 41 > 2.5);
});

test('layout measures with the font: a line that cannot fit is an error, never a clipped label', (t) => {
  const e = t.throws(() => placeTextLine({ text: 'X'.repeat(60), weight: 'regular', size: 2.8, minSize: 2, x0: 1, width: 39, top: 0 }));
  t.true(e instanceof LabelError);
  t.is((e as LabelError).code, 'FIT');
  const g = t.throws(() => placeTextLine({ text: 'toy \u{1F436}', weight: 'regular', size: 2.8, minSize: 2, x0: 1, width: 39, top: 0 }));
  t.is((g as LabelError).code, 'GLYPH');
  // a line a bit too wide is shrunk to fit exactly, not clipped
  const s = placeTextLine({ text: 'A'.repeat(25), weight: 'regular', size: 2.8, minSize: 2, x0: 1, width: 39, top: 0 });
  t.true(s.size < 2.8 && s.advance <= 39 && s.advance > 38.9);
  t.true(s.ink.x1 >= 1 && s.ink.x2 <= 40);
});

test('a larger QR (a longer payload) gives a wider label with the same text sizes', (t) => {
  const input = WIDE[0]!;
  const a = layoutLabel(input, 33);
  const b = layoutLabel(input, 37);
  t.is(b.width, 45);
  t.true(b.height > a.height);
  t.deepEqual(b.lines.map((l) => l.size), a.lines.map((l) => l.size));
  t.true(b.lines.every((l) => l.ink.x1 >= LABEL_MARGIN && l.ink.x2 <= b.width - LABEL_MARGIN));
});

test('verify --render: the shared pixel check passes a good label and names what is wrong with a bad one', async (t) => {
  const { checkRenderedLabel } = await import('../factory/label-render.js');
  const input = WIDE[0]!;
  const label = makeLabel(input);
  const good = checkRenderedLabel(label.svg, label.qrSize, label.payload);
  t.deepEqual(good.problems, []);
  t.is(good.decoded, label.payload);
  // the pre-fix label: its text is left to the printer's fonts (none here), so nothing of it prints
  t.regex(checkRenderedLabel(legacyLabelSvg(input), label.qrSize, label.payload).problems.join('\n'), /no text printed/);
  // a narrower page than the layout: cut off
  t.regex(checkRenderedLabel(label.svg.replace(`viewBox="0 0 41 `, 'viewBox="0 0 36 '), label.qrSize, label.payload).problems.join('\n'), /outside the label margins/);
  // another toy's QR on this toy's label
  const other = makeLabel(WIDE[1]!);
  t.regex(checkRenderedLabel(other.svg, other.qrSize, label.payload).problems.join('\n'), /another toy's setup code/);
  // a QR with its finder patterns scratched off does not decode
  const scratched = label.svg.replace(/(<path data-qr-size="\d+" fill="#000" shape-rendering="crispEdges" d=")[^"]*/, '$1M4 4h7v7h-7z');
  t.regex(checkRenderedLabel(scratched, label.qrSize, label.payload).problems.join('\n'), /does not decode/);
});
