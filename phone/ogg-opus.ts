/**
 * Ogg Opus files (RFC 7845 on RFC 3533) written straight from the Opus packets a
 * message carries, and read back into packets: no decoding, no re-encoding.
 * Portable (no Node, no Moddable).
 *
 *   const file = writeOggOpus(packets, { inputRate: 16000 });   // .opus bytes
 *   const { packets, preSkip } = readOggOpus(file);             // OggError on anything malformed
 *
 * Writer: one logical stream (serial from the caller, default fixed), page 0 =
 * OpusHead alone (BOS), page 1 = OpusTags alone, then audio pages of at most
 * `packetsPerPage` packets (default 50 = 1 s at 20 ms) and 255 lacing values; a
 * packet longer than a page's room continues on the next page (header flag 0x01).
 * Granule positions count 48 kHz samples from the start of the decoded stream,
 * pre-skip included (RFC 7845 section 4): each packet's duration comes from its
 * TOC byte (RFC 6716 section 3.1), so 10, 20, 40, 60 ms packets all count right.
 * The last page has EOS and, when `endTrim48k` is given, a granule that many
 * samples short of the decoded length (end trimming). A page with no packet
 * ending on it has granule -1. Every page carries its CRC-32 (polynomial
 * 0x04C11DB7, initial 0, no reflection, over the page with the CRC field zero).
 *
 * Reader: checks capture pattern, version, CRC, lacing bounds, one stream
 * (chained or multiplexed streams are UNSUPPORTED), OpusHead (version 0..15,
 * 1..2 channels, mapping family 0) and OpusTags (lengths inside the packet).
 * Errors are OggError with code FORMAT (shape, capture pattern, lengths), CRC,
 * TRUNCATED (file ends inside a page or a packet), UNSUPPORTED (several streams,
 * channel mapping family other than 0, more than 2 channels), TOO_LARGE (over
 * `maxPackets` packets or a packet over 1275 × 6 bytes). Never a RangeError.
 */

export type OggErrorCode = 'FORMAT' | 'CRC' | 'TRUNCATED' | 'UNSUPPORTED' | 'TOO_LARGE';

export class OggError extends Error {
  override readonly name = 'OggError';
  readonly code: OggErrorCode;
  constructor(code: OggErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Default pre-skip: libopus's encoder delay at 48 kHz (6.5 ms = 312 samples; 104 at 16 kHz). */
export const DEFAULT_PRE_SKIP = 312;
/** The vendor string written into OpusTags. */
export const VENDOR = 'PawPost';
/** Largest Opus packet we accept (RFC 6716: 1275 bytes per frame, up to 48 frames; we allow 6 frames' worth). */
export const MAX_OPUS_PACKET = 1275 * 6;

const CAPTURE = [0x4f, 0x67, 0x67, 0x53]; // "OggS"
const PAGE_HEADER = 27;

let crcTable: Uint32Array | undefined;
/** CRC-32 of Ogg (poly 0x04C11DB7, MSB first, init 0, no final xor). */
export function oggCrc(bytes: Uint8Array, from = 0, to = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
      crcTable[i] = r >>> 0;
    }
  }
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

/**
 * Duration of one Opus packet in 48 kHz samples, from its TOC byte (RFC 6716 3.1),
 * or -1 for a packet that is empty, has a bad frame count or lasts over 120 ms.
 */
export function opusPacketSamples48k(packet: Uint8Array, length = packet.length): number {
  if (length < 1) return -1;
  const toc = packet[0]!;
  const config = toc >> 3;
  let frame: number; // 48 kHz samples per frame
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]!;
  else if (config < 16) frame = [480, 960][config & 1]!;
  else frame = [120, 240, 480, 960][config & 3]!;
  const c = toc & 3;
  let frames: number;
  if (c === 0) frames = 1;
  else if (c === 3) {
    if (length < 2) return -1;
    frames = packet[1]! & 0x3f;
    if (frames === 0) return -1;
  } else frames = 2;
  const total = frame * frames;
  return total > 5760 ? -1 : total;
}

export interface OggOpusWriteOptions {
  /** Original sample rate, informational (OpusHead "input sample rate"); default 16000. */
  inputRate?: number;
  /** 1 (default) or 2. */
  channels?: number;
  /** Samples at 48 kHz to drop at the start (default DEFAULT_PRE_SKIP). */
  preSkip?: number;
  /** Samples at 48 kHz to drop at the end (default 0). */
  endTrim48k?: number;
  /** Ogg stream serial number (default 0x50617750, "PawP"). */
  serial?: number;
  /** User comments "KEY=value" for OpusTags. */
  comments?: string[];
  /** Packets per audio page (default 50). */
  packetsPerPage?: number;
}

const enc = new TextEncoder();

function u16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}
function u32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
function r16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function r32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The OpusHead packet (19 bytes, mapping family 0). */
export function opusHead(channels: number, preSkip: number, inputRate: number): Uint8Array {
  const b = new Uint8Array(19);
  b.set(enc.encode('OpusHead'), 0);
  b[8] = 1;
  b[9] = channels;
  u16(b, 10, preSkip);
  u32(b, 12, inputRate);
  u16(b, 16, 0); // output gain
  b[18] = 0; // mapping family
  return b;
}

/** The OpusTags packet. */
export function opusTags(vendor: string, comments: string[]): Uint8Array {
  const v = enc.encode(vendor);
  const cs = comments.map((c) => enc.encode(c));
  const b = new Uint8Array(8 + 4 + v.length + 4 + cs.reduce((n, c) => n + 4 + c.length, 0));
  b.set(enc.encode('OpusTags'), 0);
  let at = 8;
  u32(b, at, v.length);
  b.set(v, at + 4);
  at += 4 + v.length;
  u32(b, at, cs.length);
  at += 4;
  for (const c of cs) {
    u32(b, at, c.length);
    b.set(c, at + 4);
    at += 4 + c.length;
  }
  return b;
}

interface PageOut {
  flags: number;
  granule: number; // -1 = none
  lacing: number[];
  body: Uint8Array[];
}

function pageBytes(p: PageOut, serial: number, seq: number): Uint8Array {
  const bodyLen = p.body.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(PAGE_HEADER + p.lacing.length + bodyLen);
  out.set(CAPTURE, 0);
  out[4] = 0;
  out[5] = p.flags;
  if (p.granule < 0) out.fill(0xff, 6, 14);
  else {
    u32(out, 6, p.granule % 0x100000000);
    u32(out, 10, Math.floor(p.granule / 0x100000000));
  }
  u32(out, 14, serial);
  u32(out, 18, seq);
  // CRC at 22..25 stays zero for the computation
  out[26] = p.lacing.length;
  for (let i = 0; i < p.lacing.length; i++) out[PAGE_HEADER + i] = p.lacing[i]!;
  let at = PAGE_HEADER + p.lacing.length;
  for (const b of p.body) {
    out.set(b, at);
    at += b.length;
  }
  u32(out, 22, oggCrc(out));
  return out;
}

/**
 * An Ogg Opus file holding `packets` as they are (copied, never changed). Throws
 * OggError FORMAT for an empty packet or one whose TOC is invalid, TOO_LARGE for a
 * packet over MAX_OPUS_PACKET bytes.
 */
export function writeOggOpus(packets: readonly Uint8Array[], o: OggOpusWriteOptions = {}): Uint8Array {
  const channels = o.channels ?? 1;
  const preSkip = o.preSkip ?? DEFAULT_PRE_SKIP;
  const serial = (o.serial ?? 0x50617750) >>> 0;
  const perPage = Math.max(1, Math.min(255, o.packetsPerPage ?? 50));
  if (channels !== 1 && channels !== 2) throw new OggError('UNSUPPORTED', `channels ${channels}`);
  if (!(preSkip >= 0 && preSkip <= 0xffff)) throw new OggError('FORMAT', `pre-skip ${preSkip}`);
  const pages: PageOut[] = [
    { flags: 0x02, granule: 0, lacing: [19], body: [opusHead(channels, preSkip, o.inputRate ?? 16000)] },
  ];
  const tags = opusTags(VENDOR, o.comments ?? []);
  const tagPages = segment([tags]);
  for (const tp of tagPages) pages.push({ ...tp, granule: tp.granule >= 0 ? 0 : -1 });

  // audio
  let total = 0;
  const durations: number[] = [];
  for (const p of packets) {
    if (p.length > MAX_OPUS_PACKET) throw new OggError('TOO_LARGE', `packet of ${p.length} bytes`);
    const d = opusPacketSamples48k(p);
    if (d < 0) throw new OggError('FORMAT', 'an Opus packet with an invalid TOC');
    durations.push(d);
  }
  let first = 0;
  while (first < packets.length) {
    const group = packets.slice(first, first + perPage);
    const audioPages = segment(group);
    let ended = 0;
    for (const ap of audioPages) {
      for (let k = 0; k < ap.granule; k++) total += durations[first + ended + k]!;
      ended += ap.granule;
      pages.push({ ...ap, granule: ap.granule > 0 ? total : -1 });
    }
    first += perPage;
  }
  const last = pages[pages.length - 1]!;
  last.flags |= 0x04;
  if (packets.length > 0 && o.endTrim48k) last.granule = Math.max(preSkip, total - o.endTrim48k);
  if (packets.length === 0) {
    // an empty stream still ends: EOS on an empty page after the tags
    last.flags &= ~0x04;
    pages.push({ flags: 0x04, granule: 0, lacing: [], body: [] });
  }
  const bytes = pages.map((p, i) => pageBytes(p, serial, i));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * Splits packets into pages of at most 255 lacing values. `granule` in the result is
 * the number of packets that END on that page (the caller turns it into a position);
 * a page on which a packet continues from the last has flag 0x01.
 */
function segment(packets: readonly Uint8Array[]): PageOut[] {
  const pages: PageOut[] = [];
  let cur: PageOut = { flags: 0, granule: 0, lacing: [], body: [] };
  for (const p of packets) {
    let off = 0;
    let done = false;
    while (!done) {
      if (cur.lacing.length === 255) {
        pages.push(cur);
        cur = { flags: off > 0 ? 0x01 : 0, granule: 0, lacing: [], body: [] };
      }
      const n = Math.min(255, p.length - off);
      cur.lacing.push(n);
      cur.body.push(p.subarray(off, off + n));
      off += n;
      if (n < 255) {
        done = true;
        cur.granule++;
      }
    }
  }
  if (cur.lacing.length > 0 || pages.length === 0) pages.push(cur);
  return pages;
}

export interface OggOpusFile {
  channels: number;
  /** 48 kHz samples to drop at the start. */
  preSkip: number;
  /** The OpusHead's informational input rate. */
  inputRate: number;
  /** Output gain, Q7.8 dB. */
  gain: number;
  vendor: string;
  comments: string[];
  /** Audio packets in order (copies). */
  packets: Uint8Array[];
  /** Granule position of the last page (48 kHz samples, pre-skip included). */
  lastGranule: number;
  /** Playable length in 48 kHz samples: lastGranule - preSkip (never below 0). */
  samples48k: number;
}

export interface OggOpusReadOptions {
  /** Refuse files with more packets (default 6000: 2 minutes at 20 ms). */
  maxPackets?: number;
}

const dec = new TextDecoder('utf-8', { fatal: false });

/** Reads an Ogg Opus file. Throws OggError (see the file comment). */
export function readOggOpus(bytes: Uint8Array, o: OggOpusReadOptions = {}): OggOpusFile {
  const maxPackets = o.maxPackets ?? 6000;
  const packets: Uint8Array[] = [];
  let partial: Uint8Array[] = [];
  let partialLen = 0;
  let serial: number | undefined;
  let off = 0;
  let lastGranule = 0;
  let sawEos = false;
  let pageNo = 0;
  while (off < bytes.length) {
    if (bytes.length - off < PAGE_HEADER) throw new OggError('TRUNCATED', `file ends inside a page header at byte ${off}`);
    for (let i = 0; i < 4; i++) if (bytes[off + i] !== CAPTURE[i]) throw new OggError('FORMAT', `no Ogg capture pattern at byte ${off}`);
    if (bytes[off + 4] !== 0) throw new OggError('FORMAT', `Ogg version ${bytes[off + 4]}`);
    const flags = bytes[off + 5]!;
    const gLo = r32(bytes, off + 6);
    const gHi = r32(bytes, off + 10);
    const s = r32(bytes, off + 14);
    const nseg = bytes[off + 26]!;
    if (bytes.length - off < PAGE_HEADER + nseg) throw new OggError('TRUNCATED', 'file ends inside a lacing table');
    let bodyLen = 0;
    for (let i = 0; i < nseg; i++) bodyLen += bytes[off + PAGE_HEADER + i]!;
    const end = off + PAGE_HEADER + nseg + bodyLen;
    if (end > bytes.length) throw new OggError('TRUNCATED', 'file ends inside a page body');
    const page = bytes.slice(off, end);
    const crc = r32(page, 22);
    page[22] = page[23] = page[24] = page[25] = 0;
    if (oggCrc(page) !== crc) throw new OggError('CRC', `page ${pageNo} fails its CRC`);
    if (serial === undefined) {
      if (!(flags & 0x02)) throw new OggError('FORMAT', 'first page is not a beginning of stream');
      serial = s;
    } else if (s !== serial || flags & 0x02) throw new OggError('UNSUPPORTED', 'more than one logical stream (chained or multiplexed)');
    if (sawEos) throw new OggError('UNSUPPORTED', 'pages after the end of stream');
    if (!(flags & 0x01) && partialLen > 0) throw new OggError('FORMAT', 'a packet continues on a page not flagged as continued');
    if (flags & 0x01 && partialLen === 0 && pageNo > 0) throw new OggError('FORMAT', 'a page continues a packet that did not start');
    let at = PAGE_HEADER + nseg;
    for (let i = 0; i < nseg; i++) {
      const n = page[PAGE_HEADER + i]!;
      partial.push(page.subarray(at, at + n));
      partialLen += n;
      at += n;
      if (partialLen > MAX_OPUS_PACKET + 2048) throw new OggError('TOO_LARGE', 'a packet larger than any Opus packet');
      if (n < 255) {
        const p = new Uint8Array(partialLen);
        let k = 0;
        for (const part of partial) {
          p.set(part, k);
          k += part.length;
        }
        packets.push(p);
        if (packets.length > maxPackets + 2) throw new OggError('TOO_LARGE', `more than ${maxPackets} packets`);
        partial = [];
        partialLen = 0;
      }
    }
    if (!(gLo === 0xffffffff && gHi === 0xffffffff)) lastGranule = gHi * 0x100000000 + gLo;
    if (flags & 0x04) sawEos = true;
    off = end;
    pageNo++;
  }
  if (partialLen > 0) throw new OggError('TRUNCATED', 'file ends inside a packet');
  if (packets.length < 2) throw new OggError('FORMAT', 'no OpusHead and OpusTags');
  const head = packets[0]!;
  if (head.length < 19 || dec.decode(head.subarray(0, 8)) !== 'OpusHead') throw new OggError('FORMAT', 'first packet is not OpusHead');
  if (head[8]! >> 4 !== 0) throw new OggError('UNSUPPORTED', `OpusHead version ${head[8]}`);
  const channels = head[9]!;
  if (head[18] !== 0) throw new OggError('UNSUPPORTED', `channel mapping family ${head[18]}`);
  if (channels < 1 || channels > 2) throw new OggError('UNSUPPORTED', `${channels} channels`);
  const tags = packets[1]!;
  if (tags.length < 16 || dec.decode(tags.subarray(0, 8)) !== 'OpusTags') throw new OggError('FORMAT', 'second packet is not OpusTags');
  let t = 8;
  const vlen = r32(tags, t);
  if (vlen > tags.length - t - 4) throw new OggError('FORMAT', 'OpusTags vendor length past its packet');
  const vendor = dec.decode(tags.subarray(t + 4, t + 4 + vlen));
  t += 4 + vlen;
  if (tags.length - t < 4) throw new OggError('FORMAT', 'OpusTags without a comment count');
  const count = r32(tags, t);
  t += 4;
  const comments: string[] = [];
  for (let i = 0; i < count; i++) {
    if (tags.length - t < 4) throw new OggError('FORMAT', 'OpusTags comment count past its packet');
    const n = r32(tags, t);
    if (n > tags.length - t - 4) throw new OggError('FORMAT', 'OpusTags comment length past its packet');
    comments.push(dec.decode(tags.subarray(t + 4, t + 4 + n)));
    t += 4 + n;
  }
  const preSkip = r16(head, 10);
  const audio = packets.slice(2);
  if (audio.length > maxPackets) throw new OggError('TOO_LARGE', `more than ${maxPackets} packets`);
  const gain = (r16(head, 16) << 16) >> 16;
  return {
    channels,
    preSkip,
    inputRate: r32(head, 12),
    gain,
    vendor,
    comments,
    packets: audio,
    lastGranule,
    samples48k: Math.max(0, lastGranule - preSkip),
  };
}
