/**
 * Text for labels as vector outlines, laid out from the font's own metrics.
 *
 * A label's text is not left to whatever font a printer or viewer substitutes
 * for "monospace" (that is how the toy id came to be cut off: its width was
 * guessed, never measured). Each line is measured with the advance widths of
 * DejaVu Sans Mono (npm `dejavu-fonts-ttf`, Bitstream Vera licence: free to
 * embed) read by opentype.js, and drawn as glyph outlines (an SVG path), so
 * what is measured is exactly what prints, with any renderer and no font
 * installed.
 *
 * Units are the caller's (the label uses QR modules). Errors: LabelError
 * GLYPH (a character the font lacks), FIT (a line cannot fit its width at
 * its smallest allowed size).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import opentype, { type Font, type PathCommand } from 'opentype.js';

export type LabelErrorCode = 'GLYPH' | 'FIT';

export class LabelError extends Error {
  override readonly name = 'LabelError';
  readonly code: LabelErrorCode;
  constructor(code: LabelErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The font files labels are drawn with (package-relative). */
export const LABEL_FONTS = {
  regular: 'dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf',
  bold: 'dejavu-fonts-ttf/ttf/DejaVuSansMono-Bold.ttf',
} as const;

export type LabelWeight = keyof typeof LABEL_FONTS;

const fonts = new Map<LabelWeight, Font>();

/** The absolute path of a label font file (tests give it to the rasterizer). */
export function labelFontFile(weight: LabelWeight): string {
  return createRequire(import.meta.url).resolve(LABEL_FONTS[weight]);
}

/** The parsed font (loaded once per process). */
export function labelFont(weight: LabelWeight): Font {
  let f = fonts.get(weight);
  if (!f) {
    const b = fs.readFileSync(labelFontFile(weight));
    f = opentype.parse(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    fonts.set(weight, f);
  }
  return f;
}

/** One line of text to place: its wanted size, the smallest size allowed, and the width it must fit. */
export interface TextLineSpec {
  text: string;
  weight: LabelWeight;
  /** Wanted font size (em), in units. */
  size: number;
  /** Smallest acceptable font size; below it layout fails with FIT. */
  minSize: number;
  /** Width available, in units; the line is centred in [x0, x0 + width]. */
  x0: number;
  width: number;
  /** Top of the line box (ascender line), in units. */
  top: number;
}

/** A placed line. */
export interface TextLine {
  text: string;
  weight: LabelWeight;
  /** Font size used (<= the wanted size). */
  size: number;
  /** Baseline origin. */
  x: number;
  baseline: number;
  /** Sum of advance widths at `size`. */
  advance: number;
  /** Bottom of the line box (descender line). */
  bottom: number;
  /** Ink bounding box of the outlines. */
  ink: { x1: number; y1: number; x2: number; y2: number };
  /** SVG path data of the outlines (2 decimals). */
  d: string;
}

/**
 * Measures `spec.text` and places it: the wanted size if the advance width
 * fits, else the size that makes it fit exactly (down to minSize). Kerning
 * is off (a monospace font has none), so advance = characters x 0.602 em.
 */
export function placeTextLine(spec: TextLineSpec): TextLine {
  const font = labelFont(spec.weight);
  for (const ch of spec.text) {
    if (ch !== ' ' && font.charToGlyphIndex(ch) === 0) throw new LabelError('GLYPH', `the label font has no glyph for U+${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`);
  }
  // Sum of the glyphs' advance widths (no kerning, no shaping: a monospace font has neither), per unit of size.
  let advanceUnits = 0;
  for (const ch of spec.text) advanceUnits += glyphOutline(spec.weight, ch).advance;
  const perUnit = advanceUnits / font.unitsPerEm;
  let size = spec.size;
  if (perUnit * size > spec.width) size = Math.floor((spec.width / perUnit) * 1000) / 1000;
  if (size < spec.minSize) {
    throw new LabelError('FIT', `a line of ${spec.text.length} characters needs ${(perUnit * spec.minSize).toFixed(2)} units at the smallest size ${spec.minSize}; ${spec.width} available`);
  }
  const advance = perUnit * size;
  const asc = (font.ascender / font.unitsPerEm) * size;
  const desc = (-font.descender / font.unitsPerEm) * size;
  const x = Math.round((spec.x0 + (spec.width - advance) / 2) * 100) / 100;
  const baseline = Math.round((spec.top + asc) * 100) / 100;
  const { d, ink } = outline(spec.weight, spec.text, x, baseline, size / font.unitsPerEm);
  return { text: spec.text, weight: spec.weight, size, x, baseline, advance, bottom: baseline + desc, ink, d };
}

interface GlyphOutline {
  advance: number;
  /** Path commands in font units, y down (as opentype's getPath at size unitsPerEm draws them). */
  cmds: PathCommand[];
}

const glyphs = new Map<string, GlyphOutline>();

/** One glyph's outline, cached: opentype's getPath costs milliseconds per line, the cache microseconds. */
function glyphOutline(weight: LabelWeight, ch: string): GlyphOutline {
  const id = `${weight}${ch}`;
  let g = glyphs.get(id);
  if (!g) {
    const font = labelFont(weight);
    const glyph = font.charToGlyph(ch);
    g = { advance: font.getAdvanceWidth(ch, font.unitsPerEm, { kerning: false }), cmds: glyph.getPath(0, 0, font.unitsPerEm).commands };
    glyphs.set(id, g);
  }
  return g;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** Path data (2 decimals) and the exact ink box (curve extrema included) of `text` at baseline origin (x, y), `scale` units per font unit. */
function outline(weight: LabelWeight, text: string, x: number, y: number, scale: number): { d: string; ink: TextLine['ink'] } {
  let d = '';
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  const add = (px: number, py: number) => {
    if (px < x1) x1 = px;
    if (px > x2) x2 = px;
    if (py < y1) y1 = py;
    if (py > y2) y2 = py;
  };
  /** Extrema of a quadratic (a, b, c) along one axis, for t in (0, 1). */
  const quadExtrema = (a: number, b: number, c: number): number[] => {
    const den = a - 2 * b + c;
    if (den === 0) return [];
    const t = (a - b) / den;
    return t > 0 && t < 1 ? [(1 - t) * (1 - t) * a + 2 * (1 - t) * t * b + t * t * c] : [];
  };
  // No closures in the loop: tsx/esbuild wraps each function expression with a naming call, which costs more than the maths.
  let cx = x;
  let px = 0;
  let py = 0;
  for (const ch of text) {
    const g = glyphOutline(weight, ch);
    for (const c of g.cmds) {
      if (c.type === 'Z') {
        d += 'Z';
        continue;
      }
      const ex = cx + c.x * scale;
      const ey = y + c.y * scale;
      if (c.type === 'M' || c.type === 'L') {
        d += `${c.type}${r2(ex)} ${r2(ey)}`;
      } else if (c.type === 'Q') {
        const qx = cx + c.x1 * scale;
        const qy = y + c.y1 * scale;
        d += `Q${r2(qx)} ${r2(qy)} ${r2(ex)} ${r2(ey)}`;
        for (const v of quadExtrema(px, qx, ex)) add(v, ey);
        for (const v of quadExtrema(py, qy, ey)) add(ex, v);
      } else if (c.type === 'C') {
        // TrueType outlines are quadratic; a cubic would come from a CFF font, which the label does not use.
        const ax = cx + c.x1 * scale;
        const ay = y + c.y1 * scale;
        const bx = cx + c.x2 * scale;
        const by = y + c.y2 * scale;
        d += `C${r2(ax)} ${r2(ay)} ${r2(bx)} ${r2(by)} ${r2(ex)} ${r2(ey)}`;
        add(ax, ay);
        add(bx, by);
      }
      add(ex, ey);
      px = ex;
      py = ey;
    }
    cx += g.advance * scale;
  }
  return { d, ink: x1 <= x2 ? { x1, y1, x2, y2 } : { x1: x, y1: y, x2: x, y2: y } };
}
