// The framing of Prometheus's streamed remote-read responses (storage/remote/chunked.go): each
// message is preceded by its length as a uvarint and the big-endian CRC-32C of its bytes.

import { crc32c } from './crc32c.js';
import { FrameError } from '../errors.js';

/** Prometheus's DefaultChunkedReadLimit: the largest frame a client accepts by default (50 MB). */
export const DEFAULT_MAX_FRAME_BYTES = 50e6;

/** One frame: uvarint length, CRC-32C (big-endian), the message. */
export function encodeFrame(message: Uint8Array): Uint8Array {
  const len = message.length;
  let n = 1;
  for (let x = len; x >= 0x80; x = Math.floor(x / 128)) n++;
  const out = new Uint8Array(n + 4 + len);
  let p = 0;
  let x = len;
  while (x >= 0x80) {
    out[p++] = (x & 0x7f) | 0x80;
    x = Math.floor(x / 128);
  }
  out[p++] = x;
  const crc = crc32c(message);
  out[p++] = crc >>> 24;
  out[p++] = (crc >>> 16) & 0xff;
  out[p++] = (crc >>> 8) & 0xff;
  out[p++] = crc & 0xff;
  out.set(message, p);
  return out;
}

/**
 * Splits a byte stream, fed in arbitrary pieces, into frames. A frame longer than `maxFrameBytes`
 * is refused before anything is allocated for it; a checksum mismatch is an error.
 */
export class FrameReader {
  private header = new Uint8Array(14); // up to 10 varint bytes and the CRC
  private headerLen = 0;
  private body: Uint8Array | undefined;
  private bodyLen = 0;
  private crc = 0;
  /** Frames completed so far; also bytes consumed, for error messages. */
  frames = 0;
  bytes = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Feeds the next piece of the stream; yields each frame completed by it, in order. */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.body === undefined) {
        // Header: varint length then four CRC bytes.
        const hdr = this.header;
        while (i < n && !this.headerComplete()) hdr[this.headerLen++] = chunk[i++]!;
        if (!this.headerComplete()) break;
        const { size, varintLen } = this.parseSize();
        this.crc = ((hdr[varintLen] << 24) | (hdr[varintLen + 1] << 16) | (hdr[varintLen + 2] << 8) | hdr[varintLen + 3]) >>> 0;
        this.headerLen = 0;
        // A frame that lies whole in this piece is handed out as a view, without a copy.
        if (n - i >= size) {
          const frame = chunk.subarray(i, i + size);
          i += size;
          this.check(frame);
          yield frame;
          continue;
        }
        this.body = new Uint8Array(size);
        this.bodyLen = 0;
      }
      const body = this.body;
      const take = Math.min(n - i, body.length - this.bodyLen);
      body.set(chunk.subarray(i, i + take), this.bodyLen);
      this.bodyLen += take;
      i += take;
      if (this.bodyLen === body.length) {
        this.body = undefined;
        this.check(body);
        yield body;
      }
    }
  }

  /** Call at the end of the stream: throws when it stopped inside a frame. */
  finish(): void {
    if (this.body !== undefined) {
      throw new FrameError(`truncated: frame ${this.frames + 1} ends after ${this.bodyLen} of its ${this.body.length} bytes`);
    }
    if (this.headerLen > 0) throw new FrameError(`truncated: the stream ends inside the header of frame ${this.frames + 1}`);
  }

  /** Whether the header buffer holds a complete varint and the four CRC bytes after it. */
  private headerComplete(): boolean {
    const h = this.header;
    for (let k = 0; k < this.headerLen && k < 10; k++) {
      if (h[k] < 0x80) return this.headerLen >= k + 5;
    }
    if (this.headerLen >= 10) throw new FrameError(`frame ${this.frames + 1}: malformed length (varint longer than 10 bytes)`);
    return false;
  }

  private parseSize(): { size: number; varintLen: number } {
    const h = this.header;
    let size = 0;
    let shift = 1;
    let k = 0;
    for (; ; k++) {
      const b = h[k];
      size += (b & 0x7f) * shift;
      shift *= 128;
      if (b < 0x80) break;
    }
    if (size > this.maxFrameBytes) {
      throw new FrameError(`frame ${this.frames + 1} of ${size} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
    }
    return { size, varintLen: k + 1 };
  }

  private check(frame: Uint8Array): void {
    const got = crc32c(frame);
    this.frames++;
    this.bytes += frame.length;
    if (got !== this.crc) {
      throw new FrameError(`frame ${this.frames} is corrupt: checksum mismatch (CRC-32C ${hex(got)}, header says ${hex(this.crc)})`);
    }
  }
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}
