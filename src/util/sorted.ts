// Binary searches over increasing sample timestamps (a series' Float64Array, or its first n
// entries), shared by the storage, the HA merge and the shared reads, which all cut series by time.

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
