/**
 * A label as a printer puts it on paper, for `verify --render`: the SVG is
 * rasterized with @resvg/resvg-js (no system fonts: the text is outlines)
 * onto a canvas larger than the label, and the pixels are checked: no ink
 * outside the label's side and bottom margins, the quiet zone under the QR
 * blank, text ink under it (no font is loaded: text left to a printer's fonts
 * prints nothing here), and the QR decodes (jsQR) from the pixels to the expected payload.
 * About 10 ms to render and 100 ms to decode per label on this machine.
 */
import { Resvg } from '@resvg/resvg-js';
import jsQRModule from 'jsqr';
import { LABEL_MARGIN, LABEL_QUIET_MODULES } from './label.js';

// jsqr is CommonJS with `export default` typings: under nodenext the default import is the module.
type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: JsQr = ((jsQRModule as unknown as { default?: JsQr }).default ?? jsQRModule) as unknown as JsQr;

/** Pixels per module for the check (0.05 mm at LABEL_MODULE_MM: finer than any label printer). */
export const RENDER_PX_PER_MODULE = 12;

export interface RenderedLabelCheck {
  /** What a scanner read from the pixels (undefined: no QR found). */
  decoded: string | undefined;
  /** Problems found, as short phrases (no payload or secret in them). */
  problems: string[];
}

function rasterize(svg: string, bleed: number): { w: number; h: number; width: number; height: number; rgba: Uint8Array } {
  const vb = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(svg);
  if (!vb) throw new Error('label SVG has no viewBox at 0 0');
  const w = Number(vb[1]);
  const h = Number(vb[2]);
  const root = /<svg [^>]*>/.exec(svg)![0];
  const px = RENDER_PX_PER_MODULE;
  const grown = svg.replace(root, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${-bleed} ${-bleed} ${w + 2 * bleed} ${h + 2 * bleed}" width="${(w + 2 * bleed) * px}" height="${(h + 2 * bleed) * px}">`);
  const r = new Resvg(grown, { font: { loadSystemFonts: false } }).render();
  return { w, h, width: r.width, height: r.height, rgba: new Uint8Array(r.pixels) };
}

/**
 * Renders `svg` and checks it (see the module doc). `qrSize` is the QR's
 * modules per side (Label.qrSize). Never throws for a bad label: problems
 * are returned.
 */
export function checkRenderedLabel(svg: string, qrSize: number, expectedPayload: string): RenderedLabelCheck {
  const problems: string[] = [];
  const px = RENDER_PX_PER_MODULE;
  const bleed = 4;
  let r: ReturnType<typeof rasterize>;
  try {
    r = rasterize(svg, bleed);
  } catch (e) {
    return { decoded: undefined, problems: [`does not render (${(e as Error).message.slice(0, 60)})`] };
  }
  const ink = (x: number, y: number) => {
    const i = (y * r.width + x) * 4;
    return r.rgba[i + 3]! > 127 && r.rgba[i]! < 128;
  };
  const tol = 1; // pixels of anti-aliasing
  const left = (bleed + LABEL_MARGIN) * px - tol;
  const right = (bleed + r.w - LABEL_MARGIN) * px + tol;
  const bottom = (bleed + r.h - LABEL_MARGIN) * px + tol;
  const top = bleed * px - tol;
  const quietTop = (bleed + LABEL_QUIET_MODULES + qrSize) * px + tol;
  const quietBottom = (bleed + qrSize + 2 * LABEL_QUIET_MODULES) * px - tol;
  let outside = 0;
  let inQuiet = 0;
  let text = 0;
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      if (!ink(x, y)) continue;
      if (x < left || x >= right || y < top || y >= bottom) outside++;
      else if (y >= quietTop && y < quietBottom) inQuiet++;
      else if (y >= quietBottom) text++;
    }
  }
  if (outside) problems.push(`${outside} dark pixels outside the label margins (text cut off in print)`);
  if (inQuiet) problems.push(`${inQuiet} dark pixels in the QR quiet zone`);
  if (!text) problems.push('no text printed under the QR (text that needs a font the printer may not have?)');
  // the label alone, as a scanner sees it
  let decoded: string | undefined;
  try {
    const s = rasterize(svg, 0);
    decoded = jsQR(new Uint8ClampedArray(s.rgba.buffer, s.rgba.byteOffset, s.rgba.length), s.width, s.height)?.data;
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined) problems.push('the QR does not decode from the rendered label');
  else if (decoded !== expectedPayload) problems.push("the rendered QR decodes to another toy's setup code");
  return { decoded, problems };
}
