// The set of series already seen in the current family, for the duplicate check of one source's
// scrape. Exact (a hash match is confirmed by comparing the bytes), but holds no JS object per key
// and pins no body text: each key's chars are copied (natively, UTF-16) into one byte arena, with
// its hash, place and timestamp in typed arrays. A Set of strings made the garbage collector copy every
// key of a 100,000-series family; keeping ranges of the body pieces instead kept every piece of a
// large family alive into the old generation, which cost as much again in garbage collection.

import { Buffer } from 'node:buffer';

// Buffer's native UTF-16 copy, which takes the arena and an offset without a view per key.
const ucs2Write = (Buffer.prototype as unknown as { ucs2Write: (this: Buffer, s: string, offset: number) => number }).ucs2Write;

const SMALL = 1 << 10;
const SMALL_ARENA = 1 << 16;

export class KeySet {
  /**
   * Open addressing, linear probing: triples of [hash, entry + 1, generation], so a probe touches
   * one place; a slot is in use only when its generation is the current family's.
   */
  private slots = new Int32Array(3 * SMALL);
  private gen = 1;
  private mask = SMALL - 1;
  private hashes = new Int32Array(SMALL / 2);
  private starts = new Int32Array(SMALL / 2);
  private ends = new Int32Array(SMALL / 2);
  private stamps = new Float64Array(SMALL / 2);
  /** Every key's bytes, back to back; [tail, pos) is the key being built. */
  private bytes = Buffer.alloc(SMALL_ARENA);
  private tail = 0;
  private pos = 0;
  size = 0;

  clear(): void {
    this.tail = 0;
    this.pos = 0;
    if (this.size === 0) return;
    this.size = 0;
    // Nothing is zeroed or given back: slots of an older generation count as empty, so a body of
    // many small families after a large one costs nothing per family, and the tables grow at most a
    // few times per scrape (allocating large arrays again and again made V8 collect garbage often).
    if (++this.gen === 0x7fffffff) {
      this.slots.fill(0);
      this.gen = 1;
    }
  }

  /**
   * Adds the key text[start, end) at timestamp `ts` (NaN for none) and returns true, or returns false
   * when it is in the set already. The hot path: a series as written in the body.
   */
  add(text: string, start: number, end: number, ts: number): boolean {
    this.reserve(2 * (end - start));
    // Copied natively, two bytes per char (exact for any string); the hash reads the low bytes only,
    // which for a latin1 body are all its bytes, and a match is confirmed on both.
    const b = this.bytes;
    const end2 = this.tail + ucs2Write.call(b, text.slice(start, end), this.tail);
    let h = 0x811c9dc5;
    for (let p = this.tail; p < end2; p += 2) h = Math.imul(h ^ b[p], 0x01000193);
    this.pos = end2;
    return this.insert(h, ts);
  }

  /** Starts a key built piece by piece with put(); commit() ends it. */
  begin(): void {
    this.pos = this.tail;
  }

  /** Appends a string's chars to the key being built, as add() writes them. */
  put(s: string): void {
    this.reserve(2 * s.length);
    const b = this.bytes;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      b[p++] = c & 255;
      b[p++] = c >> 8;
    }
    this.pos = p;
  }

  /** Adds the key built since begin() at timestamp `ts`; as add(). */
  commit(ts: number): boolean {
    const b = this.bytes;
    let h = 0x811c9dc5;
    for (let i = this.tail; i < this.pos; i += 2) h = Math.imul(h ^ b[i], 0x01000193);
    return this.insert(h, ts);
  }

  /** Adds the key [tail, pos) of hash `h` (over its bytes) at timestamp `ts`, unless it is in already. */
  private insert(h: number, ts: number): boolean {
    const b = this.bytes;
    const start = this.tail;
    const end = this.pos;
    const len = end - start;
    h ^= len;
    if (ts === ts) h = Math.imul(h ^ (ts | 0), 0x01000193) ^ Math.trunc(ts / 4294967296);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    const slots = this.slots;
    const gen = this.gen;
    for (let j = h & this.mask; ; j = (j + 1) & this.mask) {
      if (slots[3 * j + 2] !== gen) break;
      if (slots[3 * j] !== h) continue;
      const e = slots[3 * j + 1] - 1;
      const os = this.starts[e];
      if (this.ends[e] - os !== len) continue;
      const st = this.stamps[e];
      if (st !== ts && !(st !== st && ts !== ts)) continue;
      let k = 0;
      while (k < len && b[os + k] === b[start + k]) k++;
      if (k === len) return false;
    }
    const n = this.size;
    if (n === this.hashes.length) {
      this.hashes = grown(this.hashes);
      this.starts = grown(this.starts);
      this.ends = grown(this.ends);
      const s = new Float64Array(this.stamps.length * 2);
      s.set(this.stamps);
      this.stamps = s;
    }
    this.hashes[n] = h;
    this.starts[n] = start;
    this.ends[n] = end;
    this.stamps[n] = ts;
    this.size = n + 1;
    this.tail = end;
    // Kept at most half full, so probe runs stay short.
    if (6 * this.size > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      this.mask = this.slots.length / 3 - 1;
      for (let e = 0; e < this.size; e++) this.place(this.hashes[e], e);
    } else {
      this.place(h, n);
    }
    return true;
  }

  private reserve(more: number): void {
    if (this.pos + more <= this.bytes.length && this.tail + more <= this.bytes.length) return;
    // Four times at a time: each large allocation adds to the memory V8 counts towards its next collection.
    let size = this.bytes.length * 4;
    while (size < Math.max(this.pos, this.tail) + more) size *= 4;
    const b = Buffer.alloc(size);
    this.bytes.copy(b, 0, 0, this.pos);
    this.bytes = b;
  }

  private place(h: number, entry: number): void {
    const slots = this.slots;
    const gen = this.gen;
    let j = h & this.mask;
    while (slots[3 * j + 2] === gen) j = (j + 1) & this.mask;
    slots[3 * j] = h;
    slots[3 * j + 1] = entry + 1;
    slots[3 * j + 2] = gen;
  }
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
