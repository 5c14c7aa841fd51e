// Byte storage for the lines of one family part: lines collected into large Buffers without a
// per-line allocation, and small parts packed into a shared arena so that a body of a million tiny
// families does not become a million Buffers (each costs far more than its few bytes of lines).

// Chunks grow from 4 KiB to 64 KiB: a source with a few small families keeps a few KiB, a body of a
// million tiny families fills a chunk per few thousand families.
const ARENA_FIRST = 1 << 12;
const ARENA_CHUNK = 1 << 16;
/** Parts shorter than this are copied in a JavaScript loop; longer ones by Buffer's native write. */
const COPY_LOOP_MAX = 64;

/** One arena chunk: bytes written from the start; the object stays, the Buffer may be replaced by a trimmed copy. */
export interface ArenaChunk {
  bytes: Buffer;
  /** Its index in the arena's `chunks`: what a column of part records keeps instead of a pointer. */
  id: number;
}

/**
 * Packs the finished lines of small parts back to back into chunks of up to 64 KiB. One per source
 * ingest: a part keeps only a reference to its chunk and an offset. Lines are copied into the
 * chunk's bytes as they are sealed: collecting them as one concatenated string per chunk and
 * encoding it when full (as before) kept every line's string, and the body pieces those pointed
 * into, alive until the chunk filled, so the young-generation collector copied them, and made one
 * string object per part. A chunk is freed when no part of any kept source data points into it.
 */
export class Arena {
  private chunk: ArenaChunk = { bytes: Buffer.allocUnsafeSlow(ARENA_FIRST), id: 0 };
  /** Every chunk, by id. */
  readonly chunks: ArenaChunk[] = [this.chunk];
  private used = 0;
  /** The chunk the last put() wrote into. */
  lastChunk: ArenaChunk = this.chunk;

  /** Appends `s` (latin1) and returns its offset in lastChunk. */
  put(s: string): number {
    return this.putRange(s, 0, s.length);
  }

  /** put(s.slice(start, end)) without making the slice. */
  putRange(s: string, start: number, end: number): number {
    const n = end - start;
    let b = this.chunk.bytes;
    if (this.used + n > b.length) {
      this.trim();
      b = Buffer.allocUnsafeSlow(Math.max(n, Math.min(ARENA_CHUNK, 2 * b.length)));
      this.chunk = { bytes: b, id: this.chunks.length };
      this.chunks.push(this.chunk);
      this.used = 0;
    }
    const at = this.used;
    if (n > COPY_LOOP_MAX) b.write(start === 0 && end === s.length ? s : s.slice(start, end), at, n, 'latin1');
    else for (let i = 0; i < n; i++) b[at + i] = s.charCodeAt(start + i);
    this.used = at + n;
    this.lastChunk = this.chunk;
    return at;
  }

  /** Call once everything is in: a mostly empty last chunk is replaced by a copy of what it holds. */
  close(): void {
    this.trim();
  }

  private trim(): void {
    const c = this.chunk;
    if (this.used < c.bytes.length / 2) c.bytes = Buffer.from(c.bytes.subarray(0, this.used));
  }
}

/**
 * Accumulates exposition lines (latin1 strings: one char per upstream byte). A large part becomes a
 * list of about 64 KiB Buffers, so a shard body is a list of ready byte chunks and no per-line
 * Buffer is ever made; a small one is copied into an Arena when sealed (its family has ended).
 * Exactly one of three states holds: pending only (small, open), chunks (large), sealed (small, done).
 */
export class LineSink {
  /** Flushed chunks; null while the part is small. */
  private chunks: Buffer[] | null = null;
  private pending = '';
  bytes = 0;
  /** Where a sealed small part's bytes are: sealedChunk[sealedAt, sealedAt + bytes). */
  private sealedChunk: ArenaChunk | null = null;
  private sealedAt = 0;
  /**
   * A sink whose only content is one range of a body piece (addRange) keeps the piece and where:
   * a family of one sample is copied from the body into the arena when sealed, with no string made
   * for its line. Any other use turns it into pending text first (materialize).
   */
  private rangeText: string | null = null;
  private rangeStart = 0;

  /** A sink holding the `bytes` chars at `at` of an arena chunk, as seal() leaves a small part. */
  static inArena(chunk: ArenaChunk, at: number, bytes: number): LineSink {
    const sink = new LineSink();
    sink.sealedChunk = chunk;
    sink.sealedAt = at;
    sink.bytes = bytes;
    return sink;
  }

  /** The arena chunk a sealed small part is in, else null (open, large or empty). */
  get arenaChunk(): ArenaChunk | null {
    return this.sealedChunk;
  }

  /** Where a sealed small part starts in its arena chunk. */
  get arenaOffset(): number {
    return this.sealedAt;
  }

  /** Empties the sink for reuse: its lines live on elsewhere (see inArena). */
  reset(): void {
    this.chunks = null;
    this.pending = '';
    this.bytes = 0;
    this.sealedChunk = null;
    this.sealedAt = 0;
    this.rangeText = null;
  }

  /** add(text.slice(start, end)), the slice made only if the sink is not empty. */
  addRange(text: string, start: number, end: number): void {
    if (this.bytes === 0 && this.sealedChunk === null) {
      this.rangeText = text;
      this.rangeStart = start;
      this.bytes = end - start;
      return;
    }
    this.add(text.slice(start, end));
  }

  /** A range kept by addRange becomes pending text. */
  private materialize(): void {
    if (this.rangeText !== null) {
      this.pending = this.rangeText.slice(this.rangeStart, this.rangeStart + this.bytes);
      this.rangeText = null;
    }
  }

  add(line: string): void {
    if (this.rangeText !== null) this.materialize();
    if (this.sealedChunk !== null) this.unseal();
    this.pending += line;
    this.bytes += line.length;
    if (this.pending.length >= 65536) this.flush();
  }

  /** Moves pending lines into a chunk of their own: for large parts, and for sinks built to be read at once. */
  flush(): void {
    if (this.rangeText !== null) this.materialize();
    if (this.pending.length > 0) {
      (this.chunks ??= []).push(Buffer.from(this.pending, 'latin1'));
      this.pending = '';
    }
  }

  /**
   * Ends a part whose family has ended: a small part goes into the arena (one copy, and the lines'
   * strings, which point into the body pieces, are released); a large one flushes its tail.
   */
  seal(arena: Arena): void {
    if (this.rangeText !== null) {
      this.sealedAt = arena.putRange(this.rangeText, this.rangeStart, this.rangeStart + this.bytes);
      this.sealedChunk = arena.lastChunk;
      this.rangeText = null;
    } else if (this.chunks !== null) {
      this.flush();
    } else if (this.pending.length > 0) {
      this.sealedAt = arena.put(this.pending);
      this.sealedChunk = arena.lastChunk;
      this.pending = '';
    }
  }

  /** A sealed part that gets more lines (a family key seen twice in one body): back to pending. */
  private unseal(): void {
    const c = this.sealedChunk!;
    const end = this.sealedAt + this.bytes;
    this.pending = c.bytes.toString('latin1', this.sealedAt, end);
    this.sealedChunk = null;
  }

  clone(): LineSink {
    if (this.rangeText !== null) this.materialize();
    const copy = new LineSink();
    copy.chunks = this.chunks === null ? null : this.chunks.slice();
    copy.pending = this.pending;
    copy.bytes = this.bytes;
    copy.sealedChunk = this.sealedChunk;
    copy.sealedAt = this.sealedAt;
    return copy;
  }

  /** Hands the content to `out` without copying what is already in Buffers. */
  writeTo(out: BodyWriter): void {
    if (this.rangeText !== null) this.materialize();
    if (this.sealedChunk !== null) out.copy(this.sealedChunk.bytes, this.sealedAt, this.sealedAt + this.bytes);
    else if (this.chunks !== null) for (const c of this.chunks) out.copy(c, 0, c.length);
    if (this.pending.length > 0) out.write(this.pending);
  }

  /** The content's chars [start, end) as a latin1 string, for reading one line back. */
  readRange(start: number, end: number): string {
    if (this.rangeText !== null) this.materialize();
    if (this.sealedChunk !== null) {
      const c = this.sealedChunk;
      const from = this.sealedAt + start;
      const to = this.sealedAt + end;
      return c.bytes.toString('latin1', from, to);
    }
    let out = '';
    let at = 0;
    if (this.chunks !== null) {
      for (const c of this.chunks) {
        const next = at + c.length;
        if (next > start && at < end) out += c.toString('latin1', Math.max(start, at) - at, Math.min(end, next) - at);
        at = next;
      }
    }
    if (end > at) out += this.pending.slice(Math.max(start, at) - at, end - at);
    return out;
  }

  /** The content as Buffers (for reading it back, e.g. to compare series between sources). */
  get buffers(): readonly Buffer[] {
    if (this.rangeText !== null) this.materialize();
    if (this.sealedChunk !== null) {
      const c = this.sealedChunk;
      const end = this.sealedAt + this.bytes;
      return [c.bytes.subarray(this.sealedAt, end)];
    }
    const out = this.chunks === null ? [] : this.chunks.slice();
    if (this.pending.length > 0) out.push(Buffer.from(this.pending, 'latin1'));
    return out;
  }
}

/** Pieces at least this long are passed on as they are; shorter ones are copied together. */
const SHARE_MIN = 16 * 1024;
const OUT_CHUNK = 64 * 1024;

/**
 * Builds one shard body as a list of Buffers: large pieces are shared with the source data (no
 * copy), small ones (headers, the lines of small families) are copied into 64 KiB chunks, so a body
 * of many tiny families is still a short list of large Buffers to write and to gzip.
 */
export class BodyWriter {
  private readonly out: Buffer[] = [];
  private cur: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  bytes = 0;

  write(s: string): void {
    if (s.length > this.cur.length - this.pos) {
      this.flushCurrent();
      if (s.length >= SHARE_MIN) {
        this.out.push(Buffer.from(s, 'latin1'));
        this.bytes += s.length;
        return;
      }
      this.cur = Buffer.allocUnsafe(OUT_CHUNK);
    }
    this.pos += this.cur.write(s, this.pos, 'latin1');
    this.bytes += s.length;
  }

  copy(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    this.bytes += n;
    if (n >= SHARE_MIN) {
      this.flushCurrent();
      this.out.push(start === 0 && end === src.length ? src : src.subarray(start, end));
      return;
    }
    if (n > this.cur.length - this.pos) {
      this.flushCurrent();
      this.cur = Buffer.allocUnsafe(OUT_CHUNK);
    }
    src.copy(this.cur, this.pos, start, end);
    this.pos += n;
  }

  private flushCurrent(): void {
    // A mostly empty chunk is copied out so that its unused part is not kept with the body.
    if (this.pos > 0) this.out.push(this.pos < this.cur.length / 2 ? Buffer.from(this.cur.subarray(0, this.pos)) : this.cur.subarray(0, this.pos));
    this.cur = Buffer.allocUnsafe(0);
    this.pos = 0;
  }

  finish(): Buffer[] {
    this.flushCurrent();
    return this.out;
  }
}
