// The parser's record of every name a body has used (family names and the sample names their types
// reserve), to reject a family that appears twice or names that clash. An insert-only hash table
// over typed arrays instead of a Map: a body may declare a million families, and a Map that size
// costs a pointer-rich table the garbage collector walks again and again while it grows, and an
// entry object per name.

const EMPTY = 0;

export class NameTable {
  /**
   * Open addressing, linear probing, two words per slot: entry index + 1 (or EMPTY) and the name's
   * hash, side by side so that a probe reads one cache line (the table of a million names is larger
   * than the caches: a second array of hashes cost a second miss per lookup).
   */
  private slots = new Int32Array(2 << 10);
  private mask = (1 << 10) - 1;
  private lines = new Int32Array(1 << 9);
  private readonly names: string[] = [];
  /**
   * The family each name belongs to, as the entry of the family's own name (its own entry for a
   * family name): numbers, not a second array of a million pointers for the collector to mark.
   */
  private families = new Int32Array(1 << 9);

  get size(): number {
    return this.names.length;
  }

  /** The entry of `name`, or -1. */
  find(name: string): number {
    return this.findHashed(name, 0, name.length, hashAt(name, 0, name.length));
  }

  /** The entry of the name s[start, end) whose hashAt is `h`, or -1; compared in place, no string made. */
  findHashed(s: string, start: number, end: number, h: number): number {
    const slots = this.slots;
    const n = end - start;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const e = slots[2 * i];
      if (e === EMPTY) return -1;
      if (slots[2 * i + 1] === h) {
        const name = this.names[e - 1];
        if (name.length === n && s.startsWith(name, start)) return e - 1;
      }
    }
  }

  /** Adds a name not in the table (find() returned -1) for the family whose name is entry `family`; returns its entry. */
  add(name: string, family: number, line: number): number {
    return this.addHashed(name, family, line, hashAt(name, 0, name.length));
  }

  /** add() of a name whose hashAt is known (`h`); `family` -1: the name is a family's own. */
  addHashed(name: string, family: number, line: number, h: number): number {
    const n = this.names.length;
    if (n === this.lines.length) {
      this.lines = grow(this.lines);
      this.families = grow(this.families);
    }
    this.names.push(name);
    this.families[n] = family < 0 ? n : family;
    this.lines[n] = line;
    // Kept at most half full, so probe runs stay short.
    if (2 * (n + 1) > this.mask + 1) this.rehash();
    this.place(this.slots, this.mask, h, n);
    return n;
  }

  family(entry: number): string {
    return this.names[this.families[entry]];
  }

  line(entry: number): number {
    return this.lines[entry];
  }

  private place(slots: Int32Array, mask: number, h: number, entry: number): void {
    let i = h & mask;
    while (slots[2 * i] !== EMPTY) i = (i + 1) & mask;
    slots[2 * i] = entry + 1;
    slots[2 * i + 1] = h;
  }

  /** Doubles the table; the entries already in it move with their stored hashes. */
  private rehash(): void {
    const old = this.slots;
    const size = 2 * (this.mask + 1);
    const slots = new Int32Array(2 * size);
    const mask = size - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== EMPTY) this.place(slots, mask, old[i + 1], old[i] - 1);
    this.slots = slots;
    this.mask = mask;
  }
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The table's hash of s[start, end): FNV-1a over the code units, mixed so that the low bits (the slot) depend on every char. */
export function hashAt(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
