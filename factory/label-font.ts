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
import opentype, { type Font } from 'opentype.js';

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
  const perUnit = font.getAdvanceWidth(spec.text, 1, { kerning: false });
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
  const path = font.getPath(spec.text, x, baseline, size, { kerning: false });
  const bb = path.getBoundingBox();
  return {
    text: spec.text, weight: spec.weight, size, x, baseline, advance,
    bottom: baseline + desc,
    ink: { x1: bb.x1, y1: bb.y1, x2: bb.x2, y2: bb.y2 },
    d: path.toPathData(2),
  };
}
