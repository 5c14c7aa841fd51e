// An in-memory Storage: columnar samples per series and an inverted index on labels.
//
// Series arrays returned by select are views (subarray) on this storage's memory, valid until the
// series is next written to (appending after the view's end does not disturb it; overwriting the
// last sample at an equal timestamp does). Callers must not mutate them.

import type { Label, LabelMatcher, Labels } from '../model/labels.js';
import { compileMatchers, matchesLabels, type CompiledMatcher, type MatcherOptions } from '../model/matchers.js';
import { type SelectHints, type Series, type Storage } from './interface.js';
import { compareLabels, compareStrings, labelsFromRecord, labelsKey, normalizeLabels } from '../model/labels.js';
import { lowerBound, upperBound } from '../util/sorted.js';

interface MemSeries {
  readonly id: number;
  readonly labels: Labels;
  ts: Float64Array;
  vals: Float64Array;
  stale: Uint8Array | undefined; // allocated on the first stale marker
  n: number;
  sorted: boolean;
}

const INITIAL_CAPACITY = 8;
const ABORT_CHECK_EVERY = 4096;

export type MemoryStorageOptions = Partial<MatcherOptions>;

export class MemoryStorage implements Storage {
  private memSeries: MemSeries[] = [];
  private byKey = new Map<string, MemSeries>();
  /** label name -> label value -> ids of the series having it, ascending. */
  private index = new Map<string, Map<string, number[]>>();
  /** rank[id] = position of series id in label order; recomputed lazily after new series. */
  private rank: Uint32Array | undefined;
  private readonly matcherOpts: MatcherOptions;

  constructor(opts: MemoryStorageOptions = {}) {
    this.matcherOpts = { dotAll: opts.dotAll ?? true };
  }

  /** Number of series held. */
  get seriesCount(): number {
    return this.memSeries.length;
  }

  /**
   * Appends a sample. Samples of a series should come in increasing time; an earlier one makes the
   * series be sorted on its next read, and a sample at an existing timestamp replaces it.
   */
  add(labels: Labels | Record<string, string>, timestampMs: number, value: number, opts?: { stale?: boolean }): void {
    const ls = Array.isArray(labels) ? normalizeLabels(labels as ReadonlyArray<Label>) : labelsFromRecord(labels as Record<string, string>);
    const s = this.getOrCreate(ls);
    const stale = opts?.stale === true;
    if (s.n > 0 && s.sorted) {
      const last = s.ts[s.n - 1];
      if (timestampMs === last) {
        this.write(s, s.n - 1, timestampMs, value, stale);
        return;
      }
      if (timestampMs < last) s.sorted = false;
    }
    if (s.n === s.ts.length) this.grow(s);
    this.write(s, s.n, timestampMs, value, stale);
    s.n++;
  }

  /** Drops every series and sample. Views handed out earlier stay intact. */
  clear(): void {
    this.memSeries = [];
    this.byKey = new Map();
    this.index = new Map();
    this.rank = undefined;
    this.byRankCache = undefined;
  }

  async select(matchers: LabelMatcher[], startMs: number, endMs: number, _hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    signal?.throwIfAborted();
    const compiled = compileMatchers(matchers, this.matcherOpts);
    const ids = this.candidates(compiled);
    const out: Series[] = [];
    let k = 0;
    for (const id of ids) {
      if (++k % ABORT_CHECK_EVERY === 0) signal?.throwIfAborted();
      const s = this.memSeries[id];
      if (!matchesLabels(compiled, s.labels)) continue;
      const r = this.range(s, startMs, endMs);
      if (r === undefined) continue;
      const [lo, hi] = r;
      const series: Series = { labels: s.labels, timestamps: s.ts.subarray(lo, hi), values: s.vals.subarray(lo, hi) };
      if (s.stale !== undefined) {
        const st = s.stale.subarray(lo, hi);
        if (st.indexOf(1) >= 0) series.stale = st;
      }
      out.push(series);
    }
    signal?.throwIfAborted();
    return out;
  }

  async series(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
    signal?.throwIfAborted();
    const compiled = compileMatchers(matchers, this.matcherOpts);
    const out: Labels[] = [];
    let k = 0;
    for (const id of this.candidates(compiled)) {
      if (++k % ABORT_CHECK_EVERY === 0) signal?.throwIfAborted();
      const s = this.memSeries[id];
      if (matchesLabels(compiled, s.labels) && this.range(s, startMs, endMs) !== undefined) out.push(s.labels);
    }
    return out;
  }

  async labelNames(matchers: LabelMatcher[], startMs: number, endMs: number): Promise<string[]> {
    const compiled = compileMatchers(matchers, this.matcherOpts);
    const names = new Set<string>();
    if (compiled.length === 0) {
      // Per name, stop at the first series that has samples in range.
      for (const [name, values] of this.index) {
        if (this.anyInRange(values, startMs, endMs)) names.add(name);
      }
    } else {
      for (const id of this.candidates(compiled)) {
        const s = this.memSeries[id];
        if (!matchesLabels(compiled, s.labels) || this.range(s, startMs, endMs) === undefined) continue;
        for (const l of s.labels) names.add(l.name);
      }
    }
    return [...names].sort(compareStrings);
  }

  async labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number): Promise<string[]> {
    const compiled = compileMatchers(matchers, this.matcherOpts);
    const byValue = this.index.get(name);
    if (byValue === undefined) return [];
    const values: string[] = [];
    for (const [value, ids] of byValue) {
      for (const id of ids) {
        const s = this.memSeries[id];
        if (matchesLabels(compiled, s.labels) && this.range(s, startMs, endMs) !== undefined) {
          values.push(value);
          break;
        }
      }
    }
    return values.sort(compareStrings);
  }

  // -------------------------------------------------------------------------------------------

  private getOrCreate(labels: Labels): MemSeries {
    const key = labelsKey(labels);
    let s = this.byKey.get(key);
    if (s !== undefined) return s;
    s = {
      id: this.memSeries.length,
      labels,
      ts: new Float64Array(INITIAL_CAPACITY),
      vals: new Float64Array(INITIAL_CAPACITY),
      stale: undefined,
      n: 0,
      sorted: true,
    };
    this.memSeries.push(s);
    this.byKey.set(key, s);
    for (const l of labels) {
      let byValue = this.index.get(l.name);
      if (byValue === undefined) this.index.set(l.name, (byValue = new Map<string, number[]>()));
      let ids = byValue.get(l.value);
      if (ids === undefined) byValue.set(l.value, (ids = []));
      ids.push(s.id);
    }
    this.rank = undefined;
    return s;
  }

  private write(s: MemSeries, i: number, t: number, v: number, stale: boolean): void {
    s.ts[i] = t;
    s.vals[i] = stale ? NaN : v;
    if (stale) {
      if (s.stale === undefined) s.stale = new Uint8Array(s.ts.length);
      s.stale[i] = 1;
    } else if (s.stale !== undefined) {
      s.stale[i] = 0;
    }
  }

  /** Doubles capacity into fresh buffers, so views handed out earlier are never written to. */
  private grow(s: MemSeries): void {
    const cap = Math.max(INITIAL_CAPACITY, s.ts.length * 2);
    const ts = new Float64Array(cap);
    ts.set(s.ts.subarray(0, s.n));
    const vals = new Float64Array(cap);
    vals.set(s.vals.subarray(0, s.n));
    s.ts = ts;
    s.vals = vals;
    if (s.stale !== undefined) {
      const st = new Uint8Array(cap);
      st.set(s.stale.subarray(0, s.n));
      s.stale = st;
    }
  }

  /** Sorts an out-of-order series by time (stable), keeping the last-added sample of equal timestamps. */
  private ensureSorted(s: MemSeries): void {
    if (s.sorted) return;
    const order = Array.from({ length: s.n }, (_, i) => i);
    order.sort((a, b) => s.ts[a] - s.ts[b] || a - b);
    const cap = s.ts.length;
    const ts = new Float64Array(cap);
    const vals = new Float64Array(cap);
    const stale = s.stale !== undefined ? new Uint8Array(cap) : undefined;
    let n = 0;
    for (const i of order) {
      if (n > 0 && ts[n - 1] === s.ts[i]) n--; // equal timestamp: the later-added sample wins
      ts[n] = s.ts[i];
      vals[n] = s.vals[i];
      if (stale !== undefined) stale[n] = s.stale![i];
      n++;
    }
    s.ts = ts;
    s.vals = vals;
    s.stale = stale;
    s.n = n;
    s.sorted = true;
  }

  /** [lo, hi) of the samples with startMs <= t <= endMs, by binary search; undefined when empty. */
  private range(s: MemSeries, startMs: number, endMs: number): [number, number] | undefined {
    this.ensureSorted(s);
    if (s.n === 0 || startMs > endMs) return undefined;
    const lo = lowerBound(s.ts, startMs, s.n);
    const hi = upperBound(s.ts, endMs, s.n);
    return lo < hi ? [lo, hi] : undefined;
  }

  private anyInRange(byValue: Map<string, number[]>, startMs: number, endMs: number): boolean {
    for (const ids of byValue.values()) {
      for (const id of ids) if (this.range(this.memSeries[id], startMs, endMs) !== undefined) return true;
    }
    return false;
  }

  /**
   * Ids of the series that may match, in label order. Matchers that reject "" select from the index
   * (their label must be present): `=` reads one postings list, `=~`/`!=`/`!~` union the lists of the
   * accepted values of that label. The lists are intersected; without such a matcher, every series
   * is a candidate. The caller still applies all matchers.
   */
  private candidates(ms: ReadonlyArray<CompiledMatcher>): Iterable<number> {
    let set: number[] | undefined;
    // Cheapest first: equality matchers.
    const indexed = ms.filter((m) => !m.matchesEmpty).sort((a, b) => (a.type === '=' ? 0 : 1) - (b.type === '=' ? 0 : 1));
    for (const m of indexed) {
      const byValue = this.index.get(m.name);
      let ids: number[];
      if (byValue === undefined) {
        ids = [];
      } else if (m.type === '=') {
        ids = byValue.get(m.value) ?? [];
      } else {
        const lists: number[][] = [];
        for (const [value, list] of byValue) if (m.matches(value)) lists.push(list);
        ids = unionSorted(lists);
      }
      set = set === undefined ? ids : intersectSorted(set, ids);
      if (set.length === 0) return [];
    }
    if (set === undefined) return this.idsByRank();
    if (this.rank === undefined && set.length * 8 < this.memSeries.length) {
      // Few candidates and the global order is stale (series were added): sort just these rather
      // than all series.
      return [...set].sort((a, b) => compareLabels(this.memSeries[a].labels, this.memSeries[b].labels));
    }
    const rank = this.ranks();
    // Order by label order: sort the ranks natively, then map back.
    const ranks = new Uint32Array(set.length);
    for (let i = 0; i < set.length; i++) ranks[i] = rank[set[i]];
    ranks.sort();
    const byRank = this.idsByRank();
    const out = new Array<number>(ranks.length);
    for (let i = 0; i < ranks.length; i++) out[i] = byRank[ranks[i]];
    return out;
  }

  private byRankCache: Uint32Array | undefined;

  private ranks(): Uint32Array {
    if (this.rank === undefined) {
      const order = Array.from({ length: this.memSeries.length }, (_, i) => i);
      order.sort((a, b) => compareLabels(this.memSeries[a].labels, this.memSeries[b].labels));
      const rank = new Uint32Array(order.length);
      for (let r = 0; r < order.length; r++) rank[order[r]] = r;
      this.rank = rank;
      this.byRankCache = Uint32Array.from(order);
    }
    return this.rank;
  }

  private idsByRank(): Uint32Array {
    this.ranks();
    return this.byRankCache!;
  }
}

function intersectSorted(a: ReadonlyArray<number>, b: ReadonlyArray<number>): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(a[i]);
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return out;
}

function unionSorted(lists: ReadonlyArray<ReadonlyArray<number>>): number[] {
  if (lists.length === 0) return [];
  if (lists.length === 1) return lists[0] as number[];
  const all: number[] = [];
  for (const l of lists) for (const x of l) all.push(x);
  const arr = Float64Array.from(all).sort();
  const out: number[] = [];
  for (let i = 0; i < arr.length; i++) if (i === 0 || arr[i] !== arr[i - 1]) out.push(arr[i]);
  return out;
}
