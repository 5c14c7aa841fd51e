// The protobuf wire format, as much as the remote-read messages need: varints (int64 as JS numbers,
// exact within ±2^53), length-delimited fields, fixed64 doubles (raw bits kept), packed and unpacked
// repeated scalars, and skipping of unknown fields.

import { ProtobufError } from '../errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 0x100000000;
const utf8 = new TextDecoder('utf-8');

export class ProtoReader {
  pos: number;
  /** The high 32 bits of the last fixed64 read with fixed64Bits (the low 32 bits are returned). */
  hi = 0;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    public end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The wire type of the tag read last. */
  wire = 0;

  /** Reads a field's tag: returns the field number and leaves the wire type in `wire`. */
  tag(): number {
    const t = this.uint32();
    const field = t >>> 3;
    if (field === 0) throw new ProtobufError(`field number 0 at byte ${this.pos}`);
    this.wire = t & 7;
    return field;
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths); larger values are an error. */
  uint32(): number {
    const buf = this.buf;
    let p = this.pos;
    let v = 0;
    let shift = 1;
    for (let i = 0; i < 5; i++) {
      if (p >= this.end) throw new ProtobufError('truncated varint');
      const b = buf[p++];
      v += (b & 0x7f) * shift;
      if (b < 0x80) {
        if (v >= TWO_32) break;
        this.pos = p;
        return v;
      }
      shift *= 128;
    }
    throw new ProtobufError(`varint at byte ${this.pos} does not fit 32 bits`);
  }

  /** An enum value (an int32 varint, negative ones sign-extended). */
  enumValue(): number {
    const v = this.int64();
    if (v < -0x80000000 || v > 0x7fffffff) throw new ProtobufError(`enum value ${v} does not fit 32 bits`);
    return v;
  }

  /** A varint read as a two's complement int64, returned as a number (exact within ±2^53). */
  int64(): number {
    const buf = this.buf;
    let p = this.pos;
    let lo = 0;
    let hi: number;
    let b: number;
    // Bits 0..27 in four bytes, then bits 28..34 split over lo and hi, then the rest of hi.
    for (let i = 0; i < 4; i++) {
      if (p >= this.end) throw new ProtobufError('truncated varint');
      b = buf[p++]!;
      lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        this.pos = p;
        return lo >>> 0;
      }
    }
    if (p >= this.end) throw new ProtobufError('truncated varint');
    b = buf[p++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >>> 4;
    if (b >= 0x80) {
      for (let i = 0; i < 5; i++) {
        if (p >= this.end) throw new ProtobufError('truncated varint');
        b = buf[p++]!;
        hi |= (b & 0x7f) << (7 * i + 3);
        if (b < 0x80) break;
        if (i === 4) throw new ProtobufError('varint longer than 10 bytes');
      }
    }
    this.pos = p;
    return (hi | 0) * TWO_32 + (lo >>> 0);
  }

  bool(): boolean {
    return this.int64() !== 0;
  }

  /** Reads a fixed64 and returns its low 32 bits; the high 32 bits are left in `this.hi`. */
  fixed64Bits(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw new ProtobufError('truncated fixed64');
    const b = this.buf;
    this.pos = p + 8;
    this.hi = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  /** [start, end) of a length-delimited field's bytes; moves past them. */
  lengthDelimited(): [number, number] {
    const len = this.uint32();
    const start = this.pos;
    if (len > this.end - start) throw new ProtobufError(`length ${len} at byte ${start} runs past the end of the message`);
    this.pos = start + len;
    return [start, start + len];
  }

  bytes(): Uint8Array {
    const [s, e] = this.lengthDelimited();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.lengthDelimited();
    if (e === s) return '';
    // Short ASCII strings (label names and most values) are cheaper to build by hand.
    if (e - s <= 32) {
      let out = '';
      const b = this.buf;
      for (let i = s; i < e; i++) {
        const c = b[i];
        if (c >= 0x80) return utf8.decode(b.subarray(s, e));
        out += String.fromCharCode(c);
      }
      return out;
    }
    return utf8.decode(this.buf.subarray(s, e));
  }

  /** A sub-reader over the next length-delimited field. */
  message(): ProtoReader {
    const [s, e] = this.lengthDelimited();
    return new ProtoReader(this.buf, s, e);
  }

  /** Calls `each` for every element of a repeated enum field, packed or not. */
  repeatedEnum(field: number, wire: number, each: (v: number) => void): void {
    if (wire === WIRE_LEN) {
      const [s, e] = this.lengthDelimited();
      const sub = new ProtoReader(this.buf, s, e);
      while (!sub.done) each(sub.enumValue());
    } else if (wire === WIRE_VARINT) {
      each(this.enumValue());
    } else {
      throw new ProtobufError(`field ${field} has wire type ${wire}, expected a varint or a packed list`);
    }
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.int64();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) throw new ProtobufError('truncated fixed64');
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) throw new ProtobufError('truncated fixed32');
        this.pos += 4;
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const utf8enc = new TextEncoder();

export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(initial = 1024) {
    this.buf = new Uint8Array(Math.max(16, initial));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  /** The bytes written so far (a view; copy it before writing more if it must survive). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  tag(field: number, wire: number): void {
    this.uint32((field << 3) | wire);
  }

  uint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    v >>>= 0;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** An int64 varint from a safe integer (negative ones as 10-byte two's complement). */
  int64(v: number): void {
    if (v >= 0 && v < TWO_32) {
      this.uint32(v);
      return;
    }
    if (!Number.isSafeInteger(v)) throw new ProtobufError(`int64 value ${v} is not a safe integer`);
    const hi = Math.floor(v / TWO_32);
    this.varint64((v - hi * TWO_32) >>> 0, hi >>> 0);
  }

  /** A varint of the 64-bit unsigned value hi * 2^32 + lo. */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo >= 0x80) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  /** A fixed64 from its two 32-bit halves (little-endian on the wire). */
  fixed64Bits(lo: number, hi: number): void {
    this.ensure(8);
    const b = this.buf;
    const p = this.pos;
    b[p] = lo;
    b[p + 1] = lo >>> 8;
    b[p + 2] = lo >>> 16;
    b[p + 3] = lo >>> 24;
    b[p + 4] = hi;
    b[p + 5] = hi >>> 8;
    b[p + 6] = hi >>> 16;
    b[p + 7] = hi >>> 24;
    this.pos = p + 8;
  }

  bytes(data: Uint8Array): void {
    this.uint32(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  string(s: string): void {
    // At most 3 bytes per UTF-16 unit.
    if (s.length < 43) {
      this.ensure(1 + 3 * s.length);
      const start = this.pos;
      this.pos++;
      const { written } = utf8enc.encodeInto(s, this.buf.subarray(this.pos));
      this.buf[start] = written;
      this.pos += written;
      return;
    }
    const mark = this.beginMessage();
    this.ensure(3 * s.length);
    this.pos += utf8enc.encodeInto(s, this.buf.subarray(this.pos)).written;
    this.endMessage(mark);
  }

  /**
   * Starts a length-delimited field's content; one byte is reserved for its length, and the content
   * is moved when the length needs more. Returns the mark for endMessage.
   */
  beginMessage(): number {
    this.ensure(1);
    return this.pos++;
  }

  endMessage(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    let n = 1;
    for (let x = len; x >= 0x80; x = Math.floor(x / 128)) n++;
    this.ensure(n - 1);
    const b = this.buf;
    b.copyWithin(mark + n, mark + 1, this.pos);
    let x = len;
    let p = mark;
    while (x >= 0x80) {
      b[p++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 128);
    }
    b[p] = x;
    this.pos += n - 1;
  }
}

/** Bytes of a varint of a non-negative number below 2^53. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
