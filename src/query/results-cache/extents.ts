// The arithmetic of the results cache, no I/O: a range query's answer is a set of series sampled at
// the evaluation times start, start+step, ... ; each time's values depend only on that time (and
// the data), so an answer can be cut at any evaluation time, cached piece by piece ("extents") and
// put back together. This is what lets a dashboard's next refresh evaluate only the new tail.
//
// Times here are evaluation times in ms; an extent's `start` and `end` are its first and last
// evaluation times, both on the query's step grid (same step, same start modulo step).

import { compareLabels, labelsKey, type Labels } from '../../model/labels.js';
import { lowerBoundOf } from '../../util/sorted.js';

export interface CachedSeries {
  labels: Labels;
  timestamps: number[];
  values: number[];
}

/** One cached piece of an answer: every series' points at evaluation times start..end. */
export interface Extent {
  start: number;
  end: number;
  series: CachedSeries[];
  /** The engine's info annotations for this piece (warnings make a piece uncacheable). */
  infos: string[];
}

/** The step grid of a query: its step and its start modulo step. */
export interface Grid {
  step: number;
  phase: number;
}

export function gridOf(start: number, step: number): Grid {
  return { step, phase: ((start % step) + step) % step };
}

/** The first time on the grid at or after t. */
export function alignUp(g: Grid, t: number): number {
  const r = (((t - g.phase) % g.step) + g.step) % g.step;
  return r === 0 ? t : t + (g.step - r);
}

/** The last time on the grid at or before t. */
export function alignDown(g: Grid, t: number): number {
  const r = (((t - g.phase) % g.step) + g.step) % g.step;
  return t - r;
}

/**
 * The parts of [start, end] (grid times, inclusive) that `have` does not cover, in order, as
 * inclusive grid ranges. `have` must be sorted by start and not overlap.
 */
export function missingRanges(g: Grid, start: number, end: number, have: readonly { start: number; end: number }[]): [number, number][] {
  const out: [number, number][] = [];
  let next = start;
  for (const e of have) {
    if (e.end < next) continue;
    if (e.start > end) break;
    if (e.start > next) out.push([next, Math.min(end, e.start - g.step)]);
    next = Math.max(next, e.end + g.step);
    if (next > end) break;
  }
  if (next <= end) out.push([next, end]);
  return out;
}

/**
 * The part of `e` at evaluation times from..to; series with no point there are left out. A series
 * wholly inside keeps its arrays (points arrays are read-only once made, see joinExtents).
 */
export function sliceExtent(e: Extent, from: number, to: number): Extent {
  const series: CachedSeries[] = [];
  for (const s of e.series) {
    const i = lowerBoundOf(s.timestamps, from);
    const j = lowerBoundOf(s.timestamps, to + 1);
    if (i === 0 && j === s.timestamps.length) {
      if (j > 0) series.push(s);
    } else if (j > i) series.push({ labels: s.labels, timestamps: s.timestamps.slice(i, j), values: s.values.slice(i, j) });
  }
  return { start: Math.max(e.start, from), end: Math.min(e.end, to), series, infos: e.infos };
}

/**
 * One answer from pieces that are in time order and do not overlap: each series' points joined
 * in time order, series sorted by their labels as Prometheus sorts a range query's matrix.
 * Points arrays are read-only once made (the engine shares one timestamps array between series,
 * the memory backend hands out what it stores): a series found in one piece keeps its arrays, one
 * found in several gets new arrays made once at their final length.
 */
export function joinExtents(pieces: readonly Extent[]): CachedSeries[] {
  const byKey = new Map<string, CachedSeries[]>();
  for (const p of pieces) {
    for (const s of p.series) {
      const key = labelsKey(s.labels);
      const have = byKey.get(key);
      if (have) have.push(s);
      else byKey.set(key, [s]);
    }
  }
  const out: CachedSeries[] = [];
  for (const parts of byKey.values()) {
    if (parts.length === 1) {
      out.push(parts[0]);
      continue;
    }
    let n = 0;
    for (const p of parts) n += p.timestamps.length;
    // Exact-size arrays filled in order stay packed doubles.
    const timestamps = new Array<number>(n).fill(0);
    const values = new Array<number>(n).fill(0);
    let k = 0;
    for (const p of parts) {
      for (let i = 0; i < p.timestamps.length; i++, k++) {
        timestamps[k] = p.timestamps[i];
        values[k] = p.values[i];
      }
    }
    out.push({ labels: parts[0].labels, timestamps, values });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** Info annotations of several pieces, each once, in first-seen order. */
export function joinInfos(pieces: readonly Extent[]): string[] {
  const seen = new Set<string>();
  for (const p of pieces) for (const i of p.infos) seen.add(i);
  return [...seen];
}

/**
 * The extents of a bucket after `add` is stored: overlapping or touching extents (the next grid
 * time follows the previous end) become one, so a dashboard refreshed for days keeps one extent per
 * bucket instead of one per refresh. Inputs are not changed.
 */
export function storeExtent(g: Grid, have: readonly Extent[], add: Extent): Extent[] {
  const all = [...have, add].sort((a, b) => a.start - b.start);
  const out: Extent[] = [];
  for (const e of all) {
    const last = out[out.length - 1];
    if (last && e.start <= last.end + g.step) {
      // Where two overlap, the earlier-stored piece's points stay: both were evaluated over data
      // older than the freshness window, so they agree.
      const tail = e.end > last.end ? sliceExtent(e, last.end + g.step, e.end) : undefined;
      out[out.length - 1] = tail ? { start: last.start, end: tail.end, series: joinExtents([last, tail]), infos: joinInfos([last, tail]) } : last;
    } else out.push(e);
  }
  return out;
}

/** Roughly the bytes an extent list holds in memory: what the cache's size bound counts. */
export function extentBytes(extents: readonly Extent[]): number {
  let n = LIST_BYTES;
  for (const e of extents) {
    n += EXTENT_BYTES;
    for (const s of e.series) n += seriesBytes(s, s.timestamps.length);
    for (const i of e.infos) n += 2 * i.length;
  }
  return n;
}

/**
 * extentBytes([sliceExtent(e, from, to)]) without making the slice: an entry too large to store is
 * refused before any of its points are copied (a 7.2M-point answer's copy is ~120 MB).
 */
export function sliceBytes(e: Extent, from: number, to: number): number {
  let n = LIST_BYTES + EXTENT_BYTES;
  for (const s of e.series) {
    const k = lowerBoundOf(s.timestamps, to + 1) - lowerBoundOf(s.timestamps, from);
    if (k > 0) n += seriesBytes(s, k);
  }
  for (const i of e.infos) n += 2 * i.length;
  return n;
}

const LIST_BYTES = 64;
const EXTENT_BYTES = 64;

function seriesBytes(s: CachedSeries, points: number): number {
  let n = 80 + 16 * points;
  for (const l of s.labels) n += 48 + 2 * (l.name.length + l.value.length);
  return n;
}

/** Extents as JSON (values that JSON cannot hold, NaN and the infinities, as strings). */
export function encodeExtents(extents: readonly Extent[]): string {
  return JSON.stringify(extents, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** The inverse of encodeExtents; throws on a value that is not an extent list. */
export function decodeExtents(text: string): Extent[] {
  const raw = JSON.parse(text) as unknown;
  if (!Array.isArray(raw)) throw new Error('not a list of extents');
  return raw.map((e: Extent) => {
    if (typeof e.start !== 'number' || typeof e.end !== 'number' || !Array.isArray(e.series) || !Array.isArray(e.infos)) throw new Error('not an extent');
    return {
      start: e.start,
      end: e.end,
      infos: e.infos.map(String),
      series: e.series.map((s) => {
        if (!Array.isArray(s.labels) || !Array.isArray(s.timestamps) || !Array.isArray(s.values) || s.timestamps.length !== s.values.length) {
          throw new Error('not a cached series');
        }
        return {
          labels: (s.labels as readonly { name: unknown; value: unknown }[]).map((l) => ({ name: String(l.name), value: String(l.value) })),
          timestamps: s.timestamps.map(Number),
          values: s.values.map(Number),
        };
      }),
    };
  });
}
