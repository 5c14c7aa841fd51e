// The parser's record of every name a body has used (family names and the sample names their types
// reserve), to reject a family that appears twice or names that clash. An insert-only hash table
// over typed arrays instead of a Map: a body may declare a million families, and a Map that size
// costs a pointer-rich table the garbage collector walks again and again while it grows, and an
// entry object per name.

const EMPTY = 0;

export class NameTable {
  /** Open addressing, linear probing: entry index + 1, or EMPTY. */
  private slots = new Int32Array(1 << 10);
  private mask = (1 << 10) - 1;
  private hashes = new Int32Array(1 << 9);
  private lines = new Int32Array(1 << 9);
  private readonly names: string[] = [];
  /** The family each name belongs to (the same string as the name for a family's own name). */
  private readonly families: string[] = [];

  get size(): number {
    return this.names.length;
  }

  /** The last name looked up and its hash: add() nearly always follows find() of the same name. */
  private lastName = '';
  private lastHash = 0;

  /** The entry of `name`, or -1. */
  find(name: string): number {
    const h = hashOf(name);
    this.lastName = name;
    this.lastHash = h;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const e = this.slots[i];
      if (e === EMPTY) return -1;
      if (this.hashes[e - 1] === h && this.names[e - 1] === name) return e - 1;
    }
  }

  /** Adds a name not in the table (find() returned -1). */
  add(name: string, family: string, line: number): void {
    const n = this.names.length;
    if (n === this.hashes.length) {
      this.hashes = grow(this.hashes);
      this.lines = grow(this.lines);
    }
    const h = name === this.lastName ? this.lastHash : hashOf(name);
    this.names.push(name);
    this.families.push(family);
    this.hashes[n] = h;
    this.lines[n] = line;
    // Kept at most half full, so probe runs stay short.
    if (2 * (n + 1) > this.slots.length) this.rehash();
    else this.place(h, n);
  }

  family(entry: number): string {
    return this.families[entry];
  }

  line(entry: number): number {
    return this.lines[entry];
  }

  private place(h: number, entry: number): void {
    let i = h & this.mask;
    while (this.slots[i] !== EMPTY) i = (i + 1) & this.mask;
    this.slots[i] = entry + 1;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let e = 0; e < this.names.length; e++) this.place(this.hashes[e], e);
  }
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** FNV-1a over the code units, then mixed so that the low bits (the slot) depend on every char. */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
