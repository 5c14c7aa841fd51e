// Binary searches over increasing sample timestamps (a series' Float64Array, or its first n
// entries), shared by the storage, the HA merge and the shared reads, which all cut series by time;
// and over a plain number[] (the results cache's evaluation times). The number[] form is its own
// function so that each stays monomorphic in V8: one function fed both kinds of array would slow the
// Float64Array searches of the storage and the merge.

/** The first index i < n with a[i] >= x (n when none). */
export function lowerBound(a: Float64Array, x: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index i < n with a[i] > x (n when none). */
export function upperBound(a: Float64Array, x: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index i with a[i] >= x (a.length when none), for a plain increasing number[]. */
export function lowerBoundOf(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
