// The set of series already seen in the current family, for the duplicate check of one source's
// scrape. Exact (a hash match is confirmed by comparing the text), but holds no JS object per key:
// a key is a range of a body piece (or of a canonical spelling built for it), hashed in place, with
// its hash, range and timestamp in typed arrays. A Set of strings made the garbage collector copy
// every key of a 100,000-series family and doubled the cost of parsing.

const SMALL = 1 << 10;

export class KeySet {
  /** Open addressing, linear probing: pairs of [hash, entry + 1], so a probe touches one place. */
  private slots = new Int32Array(2 * SMALL);
  private mask = SMALL - 1;
  private hashes = new Int32Array(SMALL / 2);
  private texts = new Int32Array(SMALL / 2);
  private starts = new Int32Array(SMALL / 2);
  private ends = new Int32Array(SMALL / 2);
  private stamps = new Float64Array(SMALL / 2);
  /** The strings the ranges point into: the current family's body pieces, and built spellings. */
  private readonly strings: string[] = [];
  size = 0;

  clear(): void {
    if (this.size === 0) return;
    // After a large family, start small again rather than zeroing a large table for every family.
    if (this.slots.length > 2 * SMALL) {
      this.slots = new Int32Array(2 * SMALL);
      this.mask = SMALL - 1;
      this.hashes = new Int32Array(SMALL / 2);
      this.texts = new Int32Array(SMALL / 2);
      this.starts = new Int32Array(SMALL / 2);
      this.ends = new Int32Array(SMALL / 2);
      this.stamps = new Float64Array(SMALL / 2);
    } else {
      this.slots.fill(0);
    }
    this.strings.length = 0;
    this.size = 0;
  }

  /**
   * Adds the key text[start, end) at timestamp `ts` (NaN for none) and returns true, or returns false
   * when it is in the set already.
   */
  add(text: string, start: number, end: number, ts: number): boolean {
    // Four latin1 chars per multiply: keys are long (a name and all labels) and this runs per sample.
    let h = 0x811c9dc5 ^ (end - start);
    let i = start;
    for (; i + 3 < end; i += 4) {
      h = Math.imul(h ^ (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) | (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24)), 0x01000193);
    }
    for (; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    if (ts === ts) h = Math.imul(h ^ (ts | 0), 0x01000193) ^ Math.trunc(ts / 4294967296);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    const len = end - start;
    const slots = this.slots;
    for (let j = h & this.mask; ; j = (j + 1) & this.mask) {
      const e = slots[2 * j + 1] - 1;
      if (e < 0) break;
      if (slots[2 * j] !== h || this.ends[e] - this.starts[e] !== len) continue;
      const st = this.stamps[e];
      if (st !== ts && !(st !== st && ts !== ts)) continue;
      const other = this.strings[this.texts[e]];
      if ((other === text && this.starts[e] === start) || other.slice(this.starts[e], this.ends[e]) === text.slice(start, end)) return false;
    }
    const n = this.size;
    if (n === this.hashes.length) {
      this.hashes = grown(this.hashes);
      this.texts = grown(this.texts);
      this.starts = grown(this.starts);
      this.ends = grown(this.ends);
      const s = new Float64Array(this.stamps.length * 2);
      s.set(this.stamps);
      this.stamps = s;
    }
    const strings = this.strings;
    if (strings.length === 0 || strings[strings.length - 1] !== text) strings.push(text);
    this.hashes[n] = h;
    this.texts[n] = strings.length - 1;
    this.starts[n] = start;
    this.ends[n] = end;
    this.stamps[n] = ts;
    this.size = n + 1;
    // Kept at most half full, so probe runs stay short.
    if (4 * this.size > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      this.mask = this.slots.length / 2 - 1;
      for (let e = 0; e < this.size; e++) this.place(this.hashes[e], e);
    } else {
      this.place(h, n);
    }
    return true;
  }

  private place(h: number, entry: number): void {
    let j = h & this.mask;
    while (this.slots[2 * j + 1] !== 0) j = (j + 1) & this.mask;
    this.slots[2 * j] = h;
    this.slots[2 * j + 1] = entry + 1;
  }
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
