// The results cache in front of the engine for range queries (what Thanos's and Mimir's query
// frontends do; promxy has none). A dashboard asks for "the last 6 h" every 30 s: all but the
// newest minutes of that answer were computed on the previous refresh. The cache keeps the parts of
// answers whose evaluation times are older than a freshness window, per query, step and grid, cut
// into buckets of `split_interval` (a day by default); a request takes what it finds and evaluates
// only what is missing, usually the last few minutes.
//
// Timeline of one refresh (freshness 10m, now = 12:00, last 6 h at 30 s):
//   06:00 ──────── cached extent ──────── 11:50 │ 11:50:30 ── evaluated ── 12:00
//   The evaluated tail's part older than 11:50 (none here) would be stored; the next refresh at
//   12:00:30 finds 06:00:30..11:50 cached and evaluates 11:50:30..12:00:30.
//
// Exactness: a range query's value at each evaluation time depends only on that time and the data,
// so joined pieces equal one evaluation — except where a query names its own range (`@ start()`,
// `@ end()`: never cached) or reads ahead of its evaluation time (negative offsets, `@` in the
// future: the freshness limit moves back by that much, or the query is not cached). Data older than
// the window is taken to be final: a replica that fills a gap later than that is not seen by cached
// pieces until they expire or a reload clears the cache. Pieces with warnings (a group left out
// under ignore_error) are never stored. A cached piece is not charged against max_samples again, so
// a query refused whole for too many samples may be answered when most of it is cached (Thanos's
// frontend behaves the same).
//
// Identical range queries running at the same time share one evaluation (coalescing).

import { createHash } from 'node:crypto';
import { walkExpr, type Expr } from '../../promql/ast.js';
import { formatExpr } from '../../promql/parser.js';
import type { PreparedQuery, QueryOutput } from '../../promql/engine.js';
import type { CacheBackend } from './backend.js';
import {
  alignDown,
  alignUp,
  extentBytes,
  gridOf,
  joinExtents,
  joinInfos,
  missingRanges,
  sliceBytes,
  sliceExtent,
  storeExtent,
  type Extent,
  type Grid,
} from './extents.js';

/** How an answer came about, for the response header and the cache's metrics. */
export type CacheOutcome = 'hit' | 'partial' | 'miss' | 'uncacheable';

export interface ResultsCacheOptions {
  backend: CacheBackend;
  /** Evaluation times newer than now minus this are never stored. */
  freshnessMs: number;
  /** Width of a bucket; each bucket is one backend entry. */
  splitMs: number;
  /**
   * An entry larger than this (extentBytes) is not stored, and counted: holding a 7.2M-point answer
   * took the process from under 500 MB to 1.1 GB, for a query no dashboard refreshes.
   */
  maxItemBytes?: number;
  /** Part of every key: a new config (reload) starts from an empty cache in a shared backend too. */
  generation: string;
  now?: () => number;
}

/** Evaluates the query over [start, end] on the request's grid. */
export type Evaluate = (start: number, end: number) => Promise<QueryOutput>;

interface Inflight {
  done: Promise<{ out: QueryOutput; outcome: CacheOutcome }>;
  signal: AbortSignal;
}

export class ResultsCache {
  readonly counts = { hit: 0, partial: 0, miss: 0, uncacheable: 0, coalesced: 0, storedExtents: 0, evaluatedSteps: 0, cachedSteps: 0, tooLarge: 0 };
  private readonly now: () => number;
  private readonly inflight = new Map<string, Inflight>();

  constructor(private readonly opts: ResultsCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  get backend(): CacheBackend {
    return this.opts.backend;
  }

  /**
   * The answer of a range query, from the cache where it can. `evaluate` runs the engine on a part
   * of the range; `signal` is the request's (a coalesced request whose leader went away evaluates
   * for itself).
   */
  async range(
    prepared: PreparedQuery,
    start: number,
    end: number,
    step: number,
    signal: AbortSignal,
    evaluate: Evaluate,
  ): Promise<{ out: QueryOutput; outcome: CacheOutcome }> {
    const grid = gridOf(start, step);
    const base = this.keyBase(prepared.expr, grid);
    const flightKey = `${base}|${start}|${end}`;
    const running = this.inflight.get(flightKey);
    if (running) {
      this.counts.coalesced++;
      try {
        return fresh(await running.done);
      } catch (err) {
        // The leader's client left or its own deadline passed: not this request's failure.
        if (!running.signal.aborted) throw err;
      }
    }
    const done = this.answer(prepared.expr, base, grid, start, end, evaluate);
    const entry: Inflight = { done, signal };
    this.inflight.set(flightKey, entry);
    try {
      return fresh(await done);
    } finally {
      if (this.inflight.get(flightKey) === entry) this.inflight.delete(flightKey);
    }
  }

  private keyBase(expr: Expr, grid: Grid): string {
    return createHash('sha256')
      .update(`${this.opts.generation}\n${grid.step}\n${grid.phase}\n${formatExpr(expr)}`)
      .digest('base64url');
  }

  private async answer(
    expr: Expr,
    base: string,
    grid: Grid,
    start: number,
    end: number,
    evaluate: Evaluate,
  ): Promise<{ out: QueryOutput; outcome: CacheOutcome }> {
    const limit = this.cacheableUntil(expr, grid);
    if (limit === undefined || limit < start) {
      this.counts.uncacheable++;
      return { out: await evaluate(start, end), outcome: 'uncacheable' };
    }
    const buckets = this.bucketsOf(start, Math.min(end, limit));
    const stored = await Promise.all(buckets.map((b) => this.opts.backend.get(`${base}:${b}`)));
    const have: Extent[] = [];
    for (const list of stored) for (const e of list ?? []) if (e.end >= start && e.start <= end) have.push(sliceExtent(e, start, end));
    have.sort((a, b) => a.start - b.start);
    let gaps = missingRanges(grid, start, end, have);
    // Many small holes cost more as many evaluations (each reads its data again) than as one.
    if (gaps.length > 3) gaps = [[gaps[0][0], gaps[gaps.length - 1][1]]];
    const evaluated: Extent[] = [];
    const outputs: QueryOutput[] = [];
    const warnings: string[] = [];
    const writes = new Map<number, Extent[]>();
    const maxItem = this.opts.maxItemBytes ?? Infinity;
    const tooLarge = new Set<number>();
    for (const [from, to] of gaps) {
      const out = await evaluate(from, to);
      if (out.result.resultType !== 'matrix') throw new Error(`range query answered ${out.result.resultType}, not matrix`);
      const piece: Extent = { start: from, end: to, series: out.result.result, infos: out.infos };
      warnings.push(...out.warnings);
      if (out.warnings.length === 0 && from <= limit) {
        // Only what is older than the freshness window, one write per bucket.
        for (const b of this.bucketsOf(from, Math.min(to, limit))) {
          if (tooLarge.has(b)) continue;
          const [bs, be] = this.bucketRange(grid, b);
          const [lo, hi] = [Math.max(from, bs), Math.min(to, limit, be)];
          // Sized before it is cut out: an entry that will not be stored costs no copy of its points.
          if (sliceBytes(piece, lo, hi) > maxItem) {
            tooLarge.add(b);
            writes.delete(b);
            continue;
          }
          const i = buckets.indexOf(b);
          const prev = writes.get(b) ?? (i >= 0 ? (stored[i] ?? []) : ((await this.opts.backend.get(`${base}:${b}`)) ?? []));
          writes.set(b, storeExtent(grid, prev, sliceExtent(piece, lo, hi)));
        }
      }
      this.counts.evaluatedSteps += Math.floor((to - from) / grid.step) + 1;
      evaluated.push(piece);
      outputs.push(out);
    }
    for (const [b, list] of writes) {
      if (extentBytes(list) <= maxItem) continue;
      writes.delete(b);
      tooLarge.add(b);
    }
    this.counts.tooLarge += tooLarge.size;
    await Promise.all([...writes].map(([b, list]) => this.opts.backend.set(`${base}:${b}`, list)));
    this.counts.storedExtents += writes.size;
    // Where holes were joined into one evaluation it overlaps cached pieces: the evaluated values are used there.
    const cached = have.flatMap((e) => outside(grid, e, gaps));
    this.counts.cachedSteps += cached.reduce((n, e) => n + Math.floor((e.end - e.start) / grid.step) + 1, 0);
    const outcome: CacheOutcome = gaps.length === 0 ? 'hit' : cached.length === 0 ? 'miss' : 'partial';
    this.counts[outcome]++;
    if (cached.length === 0 && outputs.length === 1) {
      // A miss is one evaluation of the whole range: its answer as the engine made it (series in
      // label order already), nothing joined.
      const out = outputs[0];
      return { out: { result: out.result, warnings: [...new Set(out.warnings)], infos: [...new Set(out.infos)] }, outcome };
    }
    const pieces = [...cached, ...evaluated].sort((a, b) => a.start - b.start);
    return { out: { result: { resultType: 'matrix', result: joinExtents(pieces) }, warnings: [...new Set(warnings)], infos: joinInfos(pieces) }, outcome };
  }

  /**
   * The last evaluation time whose value may be stored, or undefined when none may: now minus the
   * freshness window, moved back by how far the query reads ahead of its evaluation time.
   */
  private cacheableUntil(expr: Expr, grid: Grid): number | undefined {
    let ahead = 0;
    let fixed = -Infinity;
    let ownRange = false;
    walkExpr(expr, (n) => {
      if (n.type === 'VectorSelector' || n.type === 'SubqueryExpr') {
        if (n.startOrEnd) ownRange = true;
        if (n.offsetMs < 0) ahead += -n.offsetMs;
        if (n.timestampMs !== undefined) fixed = Math.max(fixed, n.timestampMs);
      }
    });
    if (ownRange) return undefined;
    const limit = this.now() - this.opts.freshnessMs;
    // A fixed `@` newer than the limit reads data that may still change, at every step.
    if (fixed + ahead > limit) return undefined;
    return alignDown(grid, limit - ahead);
  }

  private bucketsOf(from: number, to: number): number[] {
    const out: number[] = [];
    for (let b = Math.floor(from / this.opts.splitMs); b <= Math.floor(to / this.opts.splitMs); b++) out.push(b);
    return out;
  }

  /** The first and last grid times of bucket b. */
  private bucketRange(grid: Grid, b: number): [number, number] {
    const s = b * this.opts.splitMs;
    return [alignUp(grid, s), alignDown(grid, s + this.opts.splitMs - 1)];
  }
}

/** The parts of extent e outside the evaluated ranges. */
function outside(grid: Grid, e: Extent, ranges: readonly [number, number][]): Extent[] {
  const keep = missingRanges(
    grid,
    e.start,
    e.end,
    ranges.map(([start, end]) => ({ start, end })),
  );
  return keep.length === 1 && keep[0][0] === e.start && keep[0][1] === e.end ? [e] : keep.map(([from, to]) => sliceExtent(e, from, to));
}

/** A copy each caller may consume: the API lets go of series as it writes them. */
function fresh(r: { out: QueryOutput; outcome: CacheOutcome }): { out: QueryOutput; outcome: CacheOutcome } {
  const res = r.out.result;
  return res.resultType === 'matrix' ? { out: { ...r.out, result: { resultType: 'matrix', result: res.result.slice() } }, outcome: r.outcome } : r;
}
