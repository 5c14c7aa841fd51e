// Quantiles: the `quantile` aggregation / quantile_over_time (linear interpolation between the
// sorted values) and histogram_quantile over classic (bucketed) histograms.
// Semantics follow Prometheus's promql/quantile.go (v2.42 and v3.5).

import type { Semantics } from './types.js';

/** Ascending order with NaN first, as Prometheus's vectorByValueHeap sorts (NaN is "less" than everything). */
export function compareNaNFirst(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The q-quantile of `values` (the array is sorted in place): NaN for no values or q = NaN,
 * -Inf for q < 0, +Inf for q > 1, otherwise linear interpolation at rank q·(n−1). NaN values sort
 * first.
 */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  values.sort(compareNaNFirst);
  const n = values.length;
  const rank = q * (n - 1);
  const lowerIndex = Math.max(0, Math.floor(rank));
  const upperIndex = Math.min(n - 1, lowerIndex + 1);
  const weight = rank - Math.floor(rank);
  return values[lowerIndex] * (1 - weight) + values[upperIndex] * weight;
}

export interface ClassicBucket {
  upperBound: number;
  count: number;
}

export interface BucketQuantileResult {
  value: number;
  /** Counts had to be raised to keep them monotonic (3.5 reports an info annotation; always false in prometheus-2, which reports nothing). */
  forcedMonotonic: boolean;
  /** prometheus-3 only: insignificant differences (relative < 1e-12) between neighbouring buckets were ignored. */
  fixedPrecision?: boolean;
}

const SMALL_DELTA_TOLERANCE = 1e-12;
const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus's util/almost.Equal (without the stale-NaN distinction, which cannot reach here). */
export function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

/** Sorts by upper bound and merges buckets with equal upper bounds (returns a new array). */
function sortAndCoalesce(buckets: readonly ClassicBucket[]): ClassicBucket[] {
  const sorted = buckets.map((b) => ({ upperBound: b.upperBound, count: b.count }));
  sorted.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  const out: ClassicBucket[] = [];
  let last = sorted[0];
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i];
    if (b.upperBound === last.upperBound) {
      last.count += b.count;
    } else {
      out.push(last);
      last = b;
    }
  }
  out.push(last);
  return out;
}

/**
 * histogram_quantile over a classic histogram's buckets (the `le` label parsed to `upperBound`).
 * The input is not modified.
 */
export function bucketQuantile(q: number, buckets: readonly ClassicBucket[], semantics: Semantics): BucketQuantileResult {
  const v3 = semantics === 'prometheus-3';
  const none = (value: number): BucketQuantileResult => (v3 ? { value, forcedMonotonic: false, fixedPrecision: false } : { value, forcedMonotonic: false });
  if (Number.isNaN(q)) return none(NaN);
  if (q < 0) return none(-Infinity);
  if (q > 1) return none(Infinity);
  if (buckets.length === 0) return none(NaN);
  const bs = sortAndCoalesce(buckets);
  if (bs[bs.length - 1].upperBound !== Infinity) return none(NaN);

  let forcedMonotonic = false;
  let fixedPrecision = false;
  if (v3) {
    let prev = bs[0].count;
    for (let i = 1; i < bs.length; i++) {
      const curr = bs[i].count;
      if (curr === prev) continue;
      if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE)) {
        bs[i].count = prev;
        fixedPrecision = true;
        continue;
      }
      if (curr < prev) {
        bs[i].count = prev;
        forcedMonotonic = true;
        continue;
      }
      prev = curr;
    }
  } else {
    let max = bs[0].count;
    for (let i = 1; i < bs.length; i++) {
      const c = bs[i].count;
      if (c > max) max = c;
      else if (c < max) bs[i].count = max;
    }
  }
  const result = (value: number): BucketQuantileResult => (v3 ? { value, forcedMonotonic, fixedPrecision } : { value, forcedMonotonic: false });

  if (bs.length < 2) return none(NaN);
  const observations = bs[bs.length - 1].count;
  if (observations === 0) return none(NaN);
  let rank = q * observations;
  // Binary search (like Go's sort.Search) over buckets[0 .. n-2] for the first count >= rank.
  let lo = 0;
  let hi = bs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (!(bs[mid].count >= rank)) lo = mid + 1;
    else hi = mid;
  }
  const b = lo;
  if (b === bs.length - 1) return result(bs[bs.length - 2].upperBound);
  if (b === 0 && bs[0].upperBound <= 0) return result(bs[0].upperBound);
  let bucketStart = 0;
  const bucketEnd = bs[b].upperBound;
  let count = bs[b].count;
  if (b > 0) {
    bucketStart = bs[b - 1].upperBound;
    count -= bs[b - 1].count;
    rank -= bs[b - 1].count;
  }
  return result(bucketStart + (bucketEnd - bucketStart) * (rank / count));
}

/**
 * histogram_fraction over a classic histogram (Prometheus 3.5's BucketFraction; 2.42 has no classic
 * histogram_fraction). NaN without a +Inf bucket, with no observations or a NaN bound.
 */
export function bucketFraction(lower: number, upper: number, buckets: readonly ClassicBucket[]): number {
  if (buckets.length === 0) return NaN;
  const bs = sortAndCoalesce(buckets);
  if (bs[bs.length - 1].upperBound !== Infinity) return NaN;
  const count = bs[bs.length - 1].count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i];
    const lowerBound = i > 0 ? bs[i - 1].upperBound : -Infinity;
    const upperBound = b.upperBound;
    const interpolate = (v: number): number => rank + ((b.count - rank) * (v - lowerBound)) / (upperBound - lowerBound);
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interpolate(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interpolate(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}
