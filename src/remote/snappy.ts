// Snappy's block format (not the framed stream format), as Prometheus's remote read and write use
// it: a uvarint of the decoded length, then literals and back-references.
//
// Element tags (low two bits of the tag byte):
//   00 literal: length-1 in the upper six bits, or 60..63 meaning 1..4 little-endian bytes of length-1 follow
//   01 copy, length 4..11 in bits 2..4, 11-bit offset: bits 5..7 of the tag and one more byte
//   10 copy, length 1..64 in the upper six bits, 2-byte little-endian offset
//   11 copy, length 1..64 in the upper six bits, 4-byte little-endian offset

import { SnappyError } from '../errors.js';

function readHeader(src: Uint8Array): { length: number; headerBytes: number } {
  let length = 0;
  let shift = 1;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) throw new SnappyError(src.length === 0 ? 'empty input' : 'truncated length header');
    const b = src[i];
    length += (b & 0x7f) * shift;
    if (b < 0x80) {
      if (i === 4 && b > 0x0f) break; // more than 32 bits
      return { length, headerBytes: i + 1 };
    }
    shift *= 128;
  }
  throw new SnappyError('decoded length does not fit in 32 bits');
}

/**
 * Decodes a snappy block. Refuses (before allocating) a block that declares more than `maxLength`
 * decoded bytes, and any corrupt or truncated input.
 */
export function snappyDecompress(src: Uint8Array, maxLength = 256 * 1024 * 1024): Uint8Array {
  const { length, headerBytes } = readHeader(src);
  if (length > maxLength) throw new SnappyError(`decoded length ${length} exceeds the limit of ${maxLength} bytes`);
  const dst = new Uint8Array(length);
  let s = headerBytes;
  let d = 0;
  const end = src.length;
  while (s < end) {
    const tag = src[s];
    let len: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        len = tag >>> 2;
        if (len < 60) {
          s += 1;
        } else {
          const extra = len - 59;
          if (s + 1 + extra > end) throw new SnappyError(`truncated literal length at byte ${s}`);
          len = 0;
          for (let k = extra; k >= 1; k--) len = len * 256 + src[s + k];
          s += 1 + extra;
        }
        len += 1;
        if (len > end - s) throw new SnappyError(`literal of ${len} bytes at byte ${s} runs past the end of the input (truncated)`);
        if (len > length - d) throw new SnappyError(`literal at byte ${s} overflows the declared length ${length}`);
        if (len < 32) {
          for (let k = 0; k < len; k++) dst[d + k] = src[s + k]!;
        } else {
          dst.set(src.subarray(s, s + len), d);
        }
        s += len;
        d += len;
        continue;
      }
      case 1:
        if (s + 2 > end) throw new SnappyError(`truncated copy at byte ${s}`);
        len = 4 + ((tag >>> 2) & 7);
        offset = ((tag >>> 5) << 8) | src[s + 1];
        s += 2;
        break;
      case 2:
        if (s + 3 > end) throw new SnappyError(`truncated copy at byte ${s}`);
        len = 1 + (tag >>> 2);
        offset = src[s + 1] | (src[s + 2] << 8);
        s += 3;
        break;
      default:
        if (s + 5 > end) throw new SnappyError(`truncated copy at byte ${s}`);
        len = 1 + (tag >>> 2);
        offset = (src[s + 1] | (src[s + 2] << 8) | (src[s + 3] << 16)) + src[s + 4] * 0x1000000;
        s += 5;
        break;
    }
    if (offset === 0 || offset > d) throw new SnappyError(`copy offset ${offset} at output byte ${d} is out of range`);
    if (len > length - d) throw new SnappyError(`copy at output byte ${d} overflows the declared length ${length}`);
    if (offset >= len && len >= 32) {
      dst.copyWithin(d, d - offset, d - offset + len);
      d += len;
    } else {
      // Short or overlapping (a repeated pattern): byte by byte, which also repeats the pattern.
      for (let k = 0; k < len; k++, d++) dst[d] = dst[d - offset]!;
    }
  }
  if (d !== length) throw new SnappyError(`input ends after ${d} of the declared ${length} bytes (truncated)`);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Compression: greedy, hash of 4 bytes, matches within 64 KiB blocks (like the reference encoder,
// so offsets fit the 2-byte copy form).

const BLOCK = 65536;
const HASH_BITS = 14;
const MIN_MATCH = 4;

/** Upper bound of the compressed size of n bytes (snappy's MaxEncodedLen formula). */
export function snappyMaxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

export function snappyCompress(src: Uint8Array): Uint8Array {
  return compressInto(src, new Uint8Array(snappyMaxCompressedLength(src.length)), new Int32Array(1 << HASH_BITS));
}

/**
 * A compressor that keeps its hash table and output buffer between calls, for senders that
 * compress one body after another (remote write): no allocation once the buffer is big enough.
 */
export class SnappyCompressor {
  private out = new Uint8Array(0);
  private readonly table = new Int32Array(1 << HASH_BITS);

  /** The compressed bytes: a view of the reused buffer, valid until the next call. */
  compress(src: Uint8Array): Uint8Array {
    const need = snappyMaxCompressedLength(src.length);
    if (this.out.length < need) this.out = new Uint8Array(need);
    return compressInto(src, this.out, this.table);
  }
}

function compressInto(src: Uint8Array, out: Uint8Array, table: Int32Array): Uint8Array {
  let o = 0;
  let n = src.length;
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out[o++] = b;
  } while (n > 0);
  for (let start = 0; start < src.length; start += BLOCK) {
    o = compressBlock(src, start, Math.min(src.length, start + BLOCK), out, o, table);
  }
  return out.subarray(0, o);
}

function load32(a: Uint8Array, i: number): number {
  return (a[i] | (a[i + 1] << 8) | (a[i + 2] << 16) | (a[i + 3] << 24)) >>> 0;
}

function hash4(x: number): number {
  return Math.imul(x, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function compressBlock(src: Uint8Array, start: number, end: number, out: Uint8Array, o: number, table: Int32Array): number {
  table.fill(-1);
  let lit = start; // start of pending literal bytes
  let i = start;
  const last = end - MIN_MATCH; // last position a 4-byte match can start at
  while (i <= last) {
    const x = load32(src, i);
    const h = hash4(x);
    const cand = table[h];
    table[h] = i;
    if (cand < start || load32(src, cand) !== x) {
      i++;
      continue;
    }
    let len = MIN_MATCH;
    while (i + len < end && src[cand + len] === src[i + len]) len++;
    if (lit < i) o = emitLiteral(src, lit, i, out, o);
    o = emitCopy(i - cand, len, out, o);
    // Remember a position inside the match so that runs keep matching.
    if (i + len - 1 <= last) table[hash4(load32(src, i + len - 1))] = i + len - 1;
    i += len;
    lit = i;
  }
  if (lit < end) o = emitLiteral(src, lit, end, out, o);
  return o;
}

function emitLiteral(src: Uint8Array, from: number, to: number, out: Uint8Array, o: number): number {
  const n = to - from - 1;
  if (n < 60) {
    out[o++] = n << 2;
  } else if (n < 0x100) {
    out[o++] = 60 << 2;
    out[o++] = n;
  } else if (n < 0x10000) {
    out[o++] = 61 << 2;
    out[o++] = n & 0xff;
    out[o++] = n >>> 8;
  } else if (n < 0x1000000) {
    out[o++] = 62 << 2;
    out[o++] = n & 0xff;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n >>> 16;
  } else {
    out[o++] = 63 << 2;
    out[o++] = n & 0xff;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = (n >>> 16) & 0xff;
    out[o++] = n >>> 24;
  }
  out.set(src.subarray(from, to), o);
  return o + (to - from);
}

function emitCopy(offset: number, len: number, out: Uint8Array, o: number): number {
  // Long matches go out as 64-byte copies; keep at least 4 bytes for the last piece so that it can
  // use the short form when the offset allows.
  while (len >= 68) {
    out[o++] = (63 << 2) | 2;
    out[o++] = offset & 0xff;
    out[o++] = offset >>> 8;
    len -= 64;
  }
  if (len > 64) {
    out[o++] = (59 << 2) | 2;
    out[o++] = offset & 0xff;
    out[o++] = offset >>> 8;
    len -= 60;
  }
  if (len >= 4 && len <= 11 && offset < 2048) {
    out[o++] = ((offset >>> 8) << 5) | ((len - 4) << 2) | 1;
    out[o++] = offset & 0xff;
  } else {
    out[o++] = ((len - 1) << 2) | 2;
    out[o++] = offset & 0xff;
    out[o++] = offset >>> 8;
  }
  return o;
}
