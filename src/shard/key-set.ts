// The set of series already seen in the current family, for the duplicate check of one source's
// scrape. Exact, but it stores no key text: a series is filed under a 64-bit hash the ingest has
// already paid for (the shard key's xxh64, which covers the family and every label but the child
// label), mixed with the sample name, the child label's value and the timestamp; a full match is
// confirmed by reading the earlier sample's line back from the part it was written to and comparing
// the two lines' identities (lineIdentity). A match is rare (a real duplicate, or a 2^-64 accident),
// so the confirmation may be slow; the common path is a few multiplications and one table probe.
//
// Earlier versions copied every key's characters into an arena (to confirm matches without pinning
// body text): hashing and copying ~100 characters per sample was most of the check's cost at 600k
// series. A Set of strings before that made the garbage collector copy every key of a family.

import { escapeLabelValue, unescape } from './textparse/escapes.js';

const SMALL = 1 << 10;

/** Confirms a hash match against the line of a kept sample. */
export interface LineLookup {
  /** Whether the line `length` chars long at `offset` of shard `shard`'s part is the sample being checked's series. */
  sameSeries(shard: number, offset: number, length: number): boolean;
}

export class KeySet {
  /**
   * Open addressing, linear probing: triples of [hash, entry + 1, generation], so a probe touches
   * one place; a slot is in use only when its generation is the current family's.
   */
  private slots = new Int32Array(3 * SMALL);
  private gen = 1;
  private mask = SMALL - 1;
  /** Per entry: the first hash word (for growing the table), the second, where its line is, its timestamp. */
  private hashes = new Int32Array(SMALL / 2);
  private seconds = new Int32Array(SMALL / 2);
  private shards = new Int32Array(SMALL / 2);
  private offsets = new Float64Array(SMALL / 2);
  private lengths = new Int32Array(SMALL / 2);
  private stamps = new Float64Array(SMALL / 2);
  size = 0;

  clear(): void {
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
   * Adds the series hashed to (h1, h2) at timestamp `ts` (NaN for none), whose line is `length`
   * chars at `offset` of shard `shard`'s part, and returns true; returns false when that series at
   * that timestamp is in the set already (`lines` confirms a hash match).
   */
  add(h1: number, h2: number, ts: number, shard: number, offset: number, length: number, lines: LineLookup): boolean {
    const slots = this.slots;
    const gen = this.gen;
    for (let j = h1 & this.mask; ; j = (j + 1) & this.mask) {
      if (slots[3 * j + 2] !== gen) break;
      if (slots[3 * j] !== h1) continue;
      const e = slots[3 * j + 1] - 1;
      if (this.seconds[e] !== h2) continue;
      const st = this.stamps[e];
      if (st !== ts && !(st !== st && ts !== ts)) continue;
      if (lines.sameSeries(this.shards[e], this.offsets[e], this.lengths[e])) return false;
    }
    const n = this.size;
    if (n === this.hashes.length) {
      this.hashes = grown(this.hashes);
      this.seconds = grown(this.seconds);
      this.shards = grown(this.shards);
      this.lengths = grown(this.lengths);
      this.offsets = grownF(this.offsets);
      this.stamps = grownF(this.stamps);
    }
    this.hashes[n] = h1;
    this.seconds[n] = h2;
    this.shards[n] = shard;
    this.offsets[n] = offset;
    this.lengths[n] = length;
    this.stamps[n] = ts;
    this.size = n + 1;
    // Kept at most half full, so probe runs stay short.
    if (6 * this.size > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      this.mask = this.slots.length / 3 - 1;
      for (let e = 0; e < this.size; e++) this.place(this.hashes[e], e);
    } else {
      this.place(h1, n);
    }
    return true;
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

function grownF(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** FNV-1a over a string's code units (sample names and child label values: short). */
export function hashText(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/** murmur3's finalizer: every input bit moves every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The two hash words of a sample: the shard key's xxh64 halves (hi, lo), the sample name's and the
 * child label value's hashes, and the timestamp. Writes them to `out`.
 */
export function sampleHash(hi: number, lo: number, name: number, child: number, ts: number, out: Int32Array): void {
  const t = ts === ts ? (ts | 0) ^ Math.imul(Math.trunc(ts / 4294967296) | 0, 0x27d4eb2d) : 0x5bd1e995;
  const x = fmix(name ^ Math.imul(child, 0x9e3779b1) ^ Math.imul(t, 0x165667b1));
  out[0] = fmix(hi ^ x);
  out[1] = fmix((lo ^ Math.imul(x, 0xcc9e2d51)) + 1);
}

/**
 * A series' identity from an exposition line (either format, as the ingest writes it): the name and
 * the unescaped label pairs, empty values left out, sorted, re-escaped one way. Two lines of one
 * series get the same identity whatever their label order, blanks or escaping.
 */
export function lineIdentity(line: string): string {
  const end = line.length;
  let i = 0;
  while (i < end && line.charCodeAt(i) !== 123 && line.charCodeAt(i) !== 32 && line.charCodeAt(i) !== 9) i++;
  const name = line.slice(0, i);
  while (i < end && (line.charCodeAt(i) === 32 || line.charCodeAt(i) === 9)) i++;
  if (line.charCodeAt(i) !== 123) return name;
  i++;
  const pairs: string[] = [];
  for (;;) {
    while (i < end && (line.charCodeAt(i) === 32 || line.charCodeAt(i) === 9 || line.charCodeAt(i) === 44)) i++;
    if (i >= end || line.charCodeAt(i) === 125) break;
    const ns = i;
    while (i < end && line.charCodeAt(i) !== 61 && line.charCodeAt(i) !== 32 && line.charCodeAt(i) !== 9) i++;
    const label = line.slice(ns, i);
    while (i < end && line.charCodeAt(i) !== 34) i++;
    const vs = ++i;
    while (i < end && line.charCodeAt(i) !== 34) i += line.charCodeAt(i) === 92 ? 2 : 1;
    const value = unescape(line, vs, Math.min(i, end), true);
    i++;
    if (value !== '') pairs.push(`${label}="${escapeLabelValue(value)}"`);
  }
  if (pairs.length === 0) return name;
  pairs.sort();
  return `${name}{${pairs.join(',')}}`;
}
