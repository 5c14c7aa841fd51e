// Bit-level reading and writing, most significant bit first, as Prometheus's tsdb/chunkenc bstream
// lays bits out. Values of up to 32 bits go through readBits/writeBits; 64-bit values as two halves.

import { BitstreamError } from '../errors.js';

export class BitReader {
  /** Position in bits from the start of `buf`. */
  pos: number;
  private readonly limit: number;

  constructor(
    private readonly buf: Uint8Array,
    startByte = 0,
  ) {
    this.pos = startByte * 8;
    this.limit = buf.length * 8;
  }

  /** Reads n (0..32) bits as an unsigned number. */
  readBits(n: number): number {
    const pos = this.pos;
    if (pos + n > this.limit) throw new BitstreamError(`needs ${n} more bits at bit ${pos} of ${this.limit} (truncated)`);
    if (n === 0) return 0;
    const buf = this.buf;
    const i = pos >>> 3;
    const off = pos & 7;
    this.pos = pos + n;
    if (i + 5 <= buf.length) {
      // Five bytes hold any 32 bits starting inside the first one.
      const word = (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3];
      return (((word << off) | (buf[i + 4] >>> (8 - off))) >>> (32 - n)) >>> 0;
    }
    // Near the end: bit by bit from the bytes that exist.
    let out = 0;
    for (let p = pos; p < pos + n; p++) out = out * 2 + ((buf[p >>> 3] >>> (7 - (p & 7))) & 1);
    return out;
  }

  readBit(): number {
    if (this.pos >= this.limit) throw new BitstreamError(`needs 1 more bit at bit ${this.pos} of ${this.limit} (truncated)`);
    const p = this.pos++;
    return (this.buf[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** Reads 8 bits (Go's bstreamReader.ReadByte, what binary.ReadVarint uses). */
  readByte(): number {
    return this.readBits(8);
  }

  /** A uvarint written byte by byte into the bit stream, as a number (exact below 2^53). */
  readUvarint(): number {
    let v = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.readByte();
      if (i === 9 && b > 1) throw new BitstreamError('varint overflows 64 bits');
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
      shift *= 128;
    }
    throw new BitstreamError('varint overflows 64 bits');
  }

  /** A zig-zag varint (Go's binary.ReadVarint). */
  readVarint(): number {
    const u = this.readUvarint();
    // u is exact below 2^53; zig-zag: even → u/2, odd → -(u+1)/2.
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
}

/**
 * Writes bits as Prometheus's bstream does, down to its length: bstream.writeByte always appends a
 * fresh byte after the one it fills, so when a write of a multiple of 8 bits (which bstream does
 * byte by byte) ends on a byte boundary, the stream carries one more, empty, byte. Chunks written
 * by Prometheus end that way about one time in eight; `bytes()` reproduces it.
 */
export class BitWriter {
  buf: Uint8Array;
  /** Complete bytes written. */
  private len = 0;
  /** Pending bits (fewer than 8 between calls), in the low `accBits` bits. */
  private acc = 0;
  private accBits = 0;
  /** Whether bstream would hold an extra empty byte at the end (see above). */
  private padByte = false;

  constructor(initialBytes = 128) {
    this.buf = new Uint8Array(Math.max(8, initialBytes));
  }

  /** Bits written. */
  get pos(): number {
    return this.len * 8 + this.accBits;
  }

  private grow(): void {
    const b = new Uint8Array(this.buf.length * 2);
    b.set(this.buf);
    this.buf = b;
  }

  /** Appends the low n (0..32) bits of v. */
  private put(v: number, n: number): void {
    if (n > 24) {
      this.put(v >>> 16, n - 16);
      n = 16;
    }
    this.acc = (this.acc << n) | (v & ((1 << n) - 1));
    this.accBits += n;
    while (this.accBits >= 8) {
      this.accBits -= 8;
      if (this.len === this.buf.length) this.grow();
      this.buf[this.len++] = this.acc >>> this.accBits;
    }
  }

  private afterWrite(n: number): void {
    if (n > 0) this.padByte = n % 8 === 0 && this.accBits === 0;
  }

  /** Bits that are not part of a bstream write (the chunk header): no padding rule applies. */
  writeRaw(v: number, n: number): void {
    this.put(v, n);
  }

  /** bstream.writeBits for n (0..32) bits: the low n bits of v. */
  writeBits(v: number, n: number): void {
    this.put(v, n);
    this.afterWrite(n);
  }

  /** bstream.writeBits for n (0..64) bits of the 64-bit value hi * 2^32 + lo. */
  writeBits64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.put(hi, n - 32);
      this.put(lo, 32);
    } else {
      this.put(lo, n);
    }
    this.afterWrite(n);
  }

  writeBit(bit: number): void {
    this.put(bit & 1, 1);
    this.padByte = false;
  }

  /** bstream.writeByte. */
  writeByte(b: number): void {
    this.writeBits(b & 0xff, 8);
  }

  /** The bytes written, the last one padded with zero bits. A view: copy it to keep it. */
  bytes(): Uint8Array {
    const n = this.len + (this.accBits > 0 ? 1 : 0) + (this.padByte ? 1 : 0);
    while (n > this.buf.length) this.grow();
    if (this.accBits > 0) this.buf[this.len] = (this.acc << (8 - this.accBits)) & 0xff;
    if (this.padByte) this.buf[n - 1] = 0;
    return this.buf.subarray(0, n);
  }
}
