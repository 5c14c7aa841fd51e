// Prometheus's XOR chunk encoding (tsdb/chunkenc/xor.go, Gorilla-style), bit for bit:
//
//   2 bytes   number of samples, big-endian
//   sample 0  timestamp as a zig-zag varint, value as its 64 raw bits
//   sample 1  timestamp delta as a uvarint, value XOR-encoded against sample 0
//   sample n  delta-of-delta of the timestamp in a prefix code ('0'; '10'+14 bits; '110'+17;
//             '1110'+20; '1111'+64), value XOR-encoded against the previous one
//
// XOR value encoding: '0' when equal; else '1', then either '0' and the meaningful bits inside the
// previous leading/trailing-zero window, or '1', 5 bits of leading zeros (at most 31), 6 bits of
// meaningful-bit count (64 written as 0) and those bits.
//
// Values are handled as two 32-bit words, never as JS numbers, so every NaN payload survives; the
// staleness marker (0x7ff0000000000002) is reported as a stale flag. Prometheus's bit writer leaves
// an extra empty byte at the end when its last byte-wise write ends on a byte boundary; the encoder
// reproduces that (see BitWriter), the decoder ignores whatever follows the last sample.

import { BitReader, BitWriter } from './bitstream.js';
import { SampleArena, type SampleColumns } from '../util/sample-arena.js';
import { GO_NAN_HI, GO_NAN_LO, STALE_NAN_HI, STALE_NAN_LO, valueBits } from './prompb.js';
import { BitstreamError } from '../errors.js';
import { XorChunkError } from '../errors.js';

/** Prometheus cuts a chunk at 120 samples. */
export const SAMPLES_PER_CHUNK = 120;
const MAX_SAMPLES = 0xffff;
const TWO_32 = 0x100000000;

export type DecodedChunk = SampleColumns;

/** Number of samples a chunk declares in its header. */
export function xorChunkSampleCount(data: Uint8Array): number {
  if (data.length < 2) throw new XorChunkError(`${data.length} bytes, shorter than the 2-byte header`);
  return (data[0] << 8) | data[1];
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Decodes every sample of a chunk. Throws XorChunkError for truncated or corrupt data. */
export function decodeXorChunk(data: Uint8Array): DecodedChunk {
  const n = xorChunkSampleCount(data);
  const out = new SampleArena(n);
  decodeXorChunkInto(data, out, -Infinity, Infinity);
  return out.take();
}

/**
 * Decodes a chunk and appends to `out` its samples from the first one at or after `fromMs` up to
 * the last one at or before `toMs`. Returns how many were appended. Decoding stops at the first
 * sample after `toMs`: a chunk's timestamps only increase (Prometheus's appender refuses anything
 * else), so nothing after it is in the window, and an instant query's lookback window often ends
 * early in a 120-sample chunk. Throws XorChunkError for truncated or corrupt data met before then,
 * with `out` holding what it held before.
 */
export function decodeXorChunkInto(data: Uint8Array, out: SampleArena, fromMs: number, toMs: number): number {
  const n = xorChunkSampleCount(data);
  if (n === 0) return 0;
  out.reserve(n);
  const base = out.length;
  const timestamps = out.timestamps;
  const bits = out.bits;
  let k = base; // where the next kept sample goes
  let keeping = false;
  const r = new BitReader(data, 2);
  let i = 0;
  try {
    let t = r.readVarint();
    let vh = r.readBits(32);
    let vl = r.readBits(32);
    let tDelta = 0;
    let leading = 0;
    let trailing = 0;
    for (;;) {
      if (keeping || t >= fromMs) {
        if (t > toMs) break;
        keeping = true;
        timestamps[k] = t;
        bits[2 * k] = vl;
        bits[2 * k + 1] = vh;
        if (vh === STALE_NAN_HI && vl === STALE_NAN_LO) out.markStale(k);
        k++;
      }
      if (++i === n) break;

      if (i === 1) {
        tDelta = r.readUvarint();
        if (tDelta >= 2 ** 63) tDelta -= 2 ** 64; // Go reads it as uint64 and adds it as int64
      } else {
        let dod = 0;
        if (r.readBit() !== 0) {
          // Each readBit() consumes the next bit of the prefix, so the repeated test is not a duplicate.
          if (r.readBit() === 0) dod = signed(r.readBits(14), 14);
          // eslint-disable-next-line no-dupe-else-if
          else if (r.readBit() === 0) dod = signed(r.readBits(17), 17);
          // eslint-disable-next-line no-dupe-else-if
          else if (r.readBit() === 0) dod = signed(r.readBits(20), 20);
          else {
            const hi = r.readBits(32);
            const lo = r.readBits(32);
            dod = (hi | 0) * TWO_32 + lo;
          }
        }
        tDelta += dod;
      }
      t += tDelta;
      if (!Number.isSafeInteger(t)) throw new XorChunkError(`timestamp of sample ${i + 1} of ${n} is out of range (corrupt)`);

      // The value.
      if (r.readBit() !== 0) {
        let mbits: number;
        if (r.readBit() !== 0) {
          leading = r.readBits(5);
          mbits = r.readBits(6);
          if (mbits === 0) mbits = 64;
          trailing = 64 - leading - mbits;
          if (trailing < 0) throw new XorChunkError(`sample ${i + 1} of ${n}: ${leading} leading zeros and ${mbits} meaningful bits exceed 64 (corrupt)`);
        } else {
          mbits = 64 - leading - trailing;
        }
        let h = 0;
        let l: number;
        if (mbits > 32) {
          h = r.readBits(mbits - 32);
          l = r.readBits(32);
        } else {
          l = r.readBits(mbits);
        }
        if (trailing >= 32) {
          h = l << (trailing - 32);
          l = 0;
        } else if (trailing > 0) {
          h = (h << trailing) | (l >>> (32 - trailing));
          l = l << trailing;
        }
        vh = (vh ^ h) >>> 0;
        vl = (vl ^ l) >>> 0;
      }
    }
  } catch (err) {
    out.unmark(base, k);
    if (err instanceof BitstreamError) throw new XorChunkError(`sample ${i + 1} of ${n}: ${err.message}`);
    throw err;
  }
  out.length = k;
  return k - base;
}

/** The two's complement reading of an n-bit field, as xor.go does it (values above 2^(n-1) are negative). */
function signed(bits: number, n: number): number {
  return bits > 1 << (n - 1) ? bits - (1 << n) : bits;
}

/** Whether dod fits the n-bit bucket: -(2^(n-1) - 1) <= dod <= 2^(n-1) (xor.go's bitRange). */
function bitRange(dod: number, n: number): boolean {
  const half = 1 << (n - 1);
  return dod > -half && dod <= half;
}

/**
 * Encodes samples [from, to) of a series as one XOR chunk, byte for byte what Prometheus's
 * xorAppender writes. Timestamps must be strictly increasing integers. A stale flag writes the
 * staleness marker whatever the value; a non-stale value carrying the marker's bit pattern is
 * written as Go's ordinary NaN, so it cannot turn stale on the way.
 */
export function encodeXorChunk(timestamps: Float64Array, values: Float64Array, stale?: Uint8Array, from = 0, to = timestamps.length): Uint8Array {
  const n = to - from;
  if (n < 0 || n > MAX_SAMPLES) throw new XorChunkError(`cannot hold ${n} samples`);
  const bits = valueBits(values);
  const w = new BitWriter(16 + n * 3);
  w.writeRaw(0, 16); // the count, filled in at the end
  let prevT = 0;
  let tDelta = 0;
  let ph = 0;
  let pl = 0;
  let leading = 0xff; // none yet
  let trailing = 0;
  for (let k = 0; k < n; k++) {
    const i = from + k;
    const t = timestamps[i];
    let vl = bits[2 * i];
    let vh = bits[2 * i + 1];
    if (stale !== undefined && stale[i] !== 0) {
      vl = STALE_NAN_LO;
      vh = STALE_NAN_HI;
    } else if (vl === STALE_NAN_LO && vh === STALE_NAN_HI) {
      vl = GO_NAN_LO;
      vh = GO_NAN_HI;
    }
    if (!Number.isSafeInteger(t)) throw new XorChunkError(`timestamp ${t} of sample ${k} is not an integer`);
    if (k === 0) {
      writeUvarintBits(w, t >= 0 ? 2 * t : -2 * t - 1);
      w.writeBits64(vh, vl, 64);
    } else {
      if (t <= prevT) throw new XorChunkError(`timestamps must increase: ${t} after ${prevT}`);
      const delta = t - prevT;
      if (k === 1) {
        writeUvarintBits(w, delta);
      } else {
        const dod = delta - tDelta;
        if (dod === 0) w.writeBit(0);
        else if (bitRange(dod, 14)) {
          w.writeBits(0b10, 2);
          w.writeBits(dod & 0x3fff, 14);
        } else if (bitRange(dod, 17)) {
          w.writeBits(0b110, 3);
          w.writeBits(dod & 0x1ffff, 17);
        } else if (bitRange(dod, 20)) {
          w.writeBits(0b1110, 4);
          w.writeBits(dod & 0xfffff, 20);
        } else {
          w.writeBits(0b1111, 4);
          const hi = Math.floor(dod / TWO_32);
          w.writeBits64(hi >>> 0, (dod - hi * TWO_32) >>> 0, 64);
        }
      }
      tDelta = delta;

      // XOR against the previous value.
      const dh = (vh ^ ph) >>> 0;
      const dl = (vl ^ pl) >>> 0;
      if (dh === 0 && dl === 0) {
        w.writeBit(0);
      } else {
        w.writeBit(1);
        let newLeading = dh !== 0 ? Math.clz32(dh) : 32 + Math.clz32(dl);
        const newTrailing = dl !== 0 ? ctz32(dl) : 32 + ctz32(dh);
        if (newLeading >= 32) newLeading = 31;
        if (leading !== 0xff && newLeading >= leading && newTrailing >= trailing) {
          w.writeBit(0);
          writeShifted(w, dh, dl, trailing, 64 - leading - trailing);
        } else {
          leading = newLeading;
          trailing = newTrailing;
          w.writeBit(1);
          w.writeBits(newLeading, 5);
          const sig = 64 - newLeading - newTrailing;
          w.writeBits(sig & 63, 6);
          writeShifted(w, dh, dl, newTrailing, sig);
        }
      }
    }
    prevT = t;
    ph = vh;
    pl = vl;
  }
  const out = w.bytes().slice();
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  return out;
}

/** Writes the low `nbits` bits of the 64-bit value (hi, lo) shifted right by `shift`. */
function writeShifted(w: BitWriter, hi: number, lo: number, shift: number, nbits: number): void {
  let h: number;
  let l: number;
  if (shift >= 32) {
    h = 0;
    l = hi >>> (shift - 32);
  } else if (shift > 0) {
    h = hi >>> shift;
    l = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
  } else {
    h = hi;
    l = lo;
  }
  w.writeBits64(h, l, nbits);
}

/** A uvarint (non-negative, below 2^53) byte by byte into the bit stream (Go's PutUvarint + writeByte). */
function writeUvarintBits(w: BitWriter, v: number): void {
  while (v >= 0x80) {
    w.writeByte((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  w.writeByte(v);
}
