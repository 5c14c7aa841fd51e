// Go's container/heap and the small-slice path of sort.Sort, step for step, over an array of items
// with a `less` function. topk/bottomk keep their k best in such a heap in Prometheus, and which of
// several equal values survive (and in which order an instant query lists them) falls out of the
// heap's exact moves, so only the same moves give the same answer on ties.

export type Less<T> = (a: T, b: T) => boolean;

function up<T>(h: T[], j: number, less: Less<T>): void {
  for (;;) {
    const i = Math.trunc((j - 1) / 2); // Go's integer division: (0-1)/2 == 0
    if (i === j || !less(h[j], h[i])) break;
    [h[i], h[j]] = [h[j], h[i]];
    j = i;
  }
}

function down<T>(h: T[], i0: number, n: number, less: Less<T>): boolean {
  let i = i0;
  for (;;) {
    const j1 = 2 * i + 1;
    if (j1 >= n) break;
    let j = j1;
    const j2 = j1 + 1;
    if (j2 < n && less(h[j2], h[j1])) j = j2;
    if (!less(h[j], h[i])) break;
    [h[i], h[j]] = [h[j], h[i]];
    i = j;
  }
  return i > i0;
}

/** heap.Push */
export function heapPush<T>(h: T[], x: T, less: Less<T>): void {
  h.push(x);
  up(h, h.length - 1, less);
}

/** heap.Pop */
export function heapPop<T>(h: T[], less: Less<T>): T {
  const n = h.length - 1;
  [h[0], h[n]] = [h[n], h[0]];
  down(h, 0, n, less);
  return h.pop()!;
}

/** heap.Fix */
export function heapFix<T>(h: T[], i: number, less: Less<T>): void {
  if (!down(h, i, h.length, less)) up(h, i, less);
}

/**
 * sort.Sort(sort.Reverse(h)). Go's pdqsort insertion-sorts slices of up to 12 elements, which this
 * follows exactly; longer ones get a stable sort here, so among equal values their order can differ
 * from Go's (which depends on pdqsort's partitioning).
 */
export function sortReverse<T>(h: T[], less: Less<T>): void {
  if (h.length <= 12) {
    for (let i = 1; i < h.length; i++) {
      for (let j = i; j > 0 && less(h[j - 1], h[j]); j--) [h[j], h[j - 1]] = [h[j - 1], h[j]];
    }
    return;
  }
  const sorted = h
    .map((x, i) => ({ x, i }))
    .sort((a, b) => (less(b.x, a.x) ? -1 : less(a.x, b.x) ? 1 : a.i - b.i))
    .map((e) => e.x);
  for (let i = 0; i < h.length; i++) h[i] = sorted[i]!;
}
