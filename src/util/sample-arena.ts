// Sample columns (timestamps, values, staleness flags) that many series share, each series a view
// of a stretch of one large block.
//
// Why: a typed array of its own costs Node a separately allocated and tracked backing store, about
// a microsecond to create and more to collect, ten times a view of an existing buffer. A dashboard
// refresh through an HA pair reads the newest minutes of thousands of series from each replica,
// decodes them and merges the copies: with arrays per chunk and per series, allocating and
// collecting them was a quarter of the query thread's time. Decoders and the HA merge append to an
// arena instead and hand out views.
//
// Use: `reserve(k)` before writing k more samples at `length`; `take()` ends the series being
// written (from `start` to `length`) and answers views of it; `discard()` drops it. A block is
// never written again below `start`, so views handed out stay valid; a series that outgrows its
// block moves, with what it has so far, to a new one. The views keep their block alive: an arena
// lives as long as one read or one merge, and what its series do not use is at most the tail of
// each block.

/** The largest block allocated for many small series; a larger series gets a block its size. */
const MAX_BLOCK = 65_536;

export interface SampleColumns {
  timestamps: Float64Array;
  values: Float64Array;
  /** stale[i] = 1 where sample i is a staleness marker; absent when there is none. */
  stale?: Uint8Array;
}

export class SampleArena {
  timestamps: Float64Array;
  values: Float64Array;
  /** The values' 32-bit words (low word first), for writers that must keep every NaN payload. */
  bits: Uint32Array;
  /** Staleness flags of the block; allocated at the first marker. */
  stale: Uint8Array | undefined;
  /** Where the series being written starts. */
  start = 0;
  /** End of the samples written. */
  length = 0;
  private nextBlock: number;

  constructor(capacity = 1024) {
    this.timestamps = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.bits = bitsOf(this.values);
    this.nextBlock = Math.max(capacity, 256);
  }

  /** Makes room for `extra` more samples at `length` (which may move the series being written). */
  reserve(extra: number): void {
    if (this.length + extra <= this.timestamps.length) return;
    const held = this.length - this.start;
    this.nextBlock = Math.min(this.nextBlock * 2, MAX_BLOCK);
    const cap = Math.max(this.nextBlock, 2 * (held + extra));
    const ts = new Float64Array(cap);
    ts.set(this.timestamps.subarray(this.start, this.length));
    const vs = new Float64Array(cap);
    vs.set(this.values.subarray(this.start, this.length)); // typed-array copies keep NaN payloads
    let st: Uint8Array | undefined;
    if (this.stale !== undefined) {
      const old = this.stale.subarray(this.start, this.length);
      if (old.indexOf(1) >= 0) {
        st = new Uint8Array(cap);
        st.set(old);
      }
    }
    this.timestamps = ts;
    this.values = vs;
    this.bits = bitsOf(vs);
    this.stale = st;
    this.start = 0;
    this.length = held;
  }

  markStale(i: number): void {
    (this.stale ??= new Uint8Array(this.timestamps.length))[i] = 1;
  }

  /** Clears flags of samples at [from, to) written but then dropped, so that room can be written again. */
  unmark(from: number, to: number): void {
    if (this.stale !== undefined && to > from) this.stale.fill(0, from, to);
  }

  /** Drops the samples written after `at` (at >= start). */
  truncate(at: number): void {
    this.unmark(at, this.length);
    this.length = at;
  }

  /** Drops the series being written. */
  discard(): void {
    this.truncate(this.start);
  }

  /** Ends the series being written: views of its samples. */
  take(): SampleColumns {
    const a = this.start;
    const b = this.length;
    this.start = b;
    const out: SampleColumns = { timestamps: this.timestamps.subarray(a, b), values: this.values.subarray(a, b) };
    if (this.stale !== undefined) {
      const st = this.stale.subarray(a, b);
      if (st.indexOf(1) >= 0) out.stale = st;
    }
    return out;
  }
}

function bitsOf(values: Float64Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}
