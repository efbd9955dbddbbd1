/**
 * Byte-string helpers shared by the envelope and the pairing protocol. Portable.
 */

/**
 * Concatenates byte strings into a new buffer. Copies element by element: the
 * xsnap XS copies that way in TypedArray.prototype.set anyway, and these are
 * short headers and transcripts, never audio frames.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  // index loops, no iterators (XS heap slots per message, issue 13)
  let n = 0;
  for (let j = 0; j < parts.length; j++) n += parts[j]!.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j]!;
    for (let i = 0; i < p.length; i++) out[o + i] = p[i]!;
    o += p.length;
  }
  return out;
}
