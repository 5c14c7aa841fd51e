// HA replica merge: gaps filled from the other replica, anti-affinity, series sets merged in order.

import { prng } from '../../../dev/backfill.js';
import { describe, expect, it } from 'vitest';
import { adaptiveWindow, isCounterName, mergeReplicaSamples, mergeReuseCount, mergeSeriesSets, replicaCoverage } from '../../../src/query/merge.js';
import { type Series } from '../../../src/storage/interface.js';
import { compareLabels, labelsFromRecord } from '../../../src/model/labels.js';

const L = labelsFromRecord;
const LBL = L({ __name__: 'up', job: 'x' });

function series(ts: number[], vs?: number[], staleIdx: number[] = [], labels = LBL): Series {
  const s: Series = {
    labels,
    timestamps: Float64Array.from(ts),
    values: Float64Array.from(vs ?? ts.map((t) => t / 1000)),
  };
  if (staleIdx.length > 0) {
    s.stale = new Uint8Array(ts.length);
    for (const i of staleIdx) {
      s.stale[i] = 1;
      s.values[i] = NaN;
    }
  }
  return s;
}

const rng = prng;

function jittered(n: number, intervalMs: number, jitterMs: number, rand: () => number, skip = new Set<number>()): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (skip.has(i)) continue;
    out.push(1_000_000 + i * intervalMs + Math.round((rand() * 2 - 1) * jitterMs));
  }
  return out;
}

function staleFlags(s: Series): number[] {
  return Array.from(s.stale ?? new Uint8Array(s.timestamps.length));
}

describe('mergeReplicaSamples', () => {
  it('identical replicas give one copy', () => {
    const ts = [0, 15_000, 30_000, 45_000];
    const m = mergeReplicaSamples([series(ts), series(ts), series(ts)], 10_000);
    expect(Array.from(m.timestamps)).toEqual(ts);
    expect(Array.from(m.values)).toEqual([0, 15, 30, 45]);
    expect(m.labels).toBe(LBL);
    expect(m.stale).toBeUndefined();
  });

  it('fills a gap in replica A from replica B', () => {
    const a = series([0, 15_000, 75_000, 90_000], [1, 2, 6, 7]);
    const b = series([1_000, 16_000, 31_000, 46_000, 61_000, 76_000, 91_000], [1, 2, 3, 4, 5, 6, 7]);
    const m = mergeReplicaSamples([a, b], 10_000);
    // A is followed until its gap, B fills it and is then followed (sticky) to the end.
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 31_000, 46_000, 61_000, 76_000, 91_000]);
    expect(Array.from(m.values)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('switches back to A when B ends', () => {
    const a = series([0, 15_000, 30_000, 45_000, 60_000]);
    const b = series([-20_000, -5_000, 10_000]);
    const m = mergeReplicaSamples([a, b], 10_000);
    // B starts first and is followed; A's 0 and 15000 are near-duplicates of B's samples... 0 is 5 s
    // after -5000 (dropped), 15000 is 5 s after 10000 (dropped); after B ends A takes over.
    expect(Array.from(m.timestamps)).toEqual([-20_000, -5_000, 10_000, 30_000, 45_000, 60_000]);
  });

  it('keeps one sample per interval with ±2 s jitter at 15 s and anti-affinity 10 s', () => {
    const rand = rng(42);
    const n = 240;
    const a = series(jittered(n, 15_000, 2_000, rand));
    const b = series(jittered(n, 15_000, 2_000, rand));
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(m.timestamps.length).toBe(n);
    for (let i = 1; i < m.timestamps.length; i++) {
      expect(m.timestamps[i] - m.timestamps[i - 1]).toBeGreaterThanOrEqual(10_000);
    }
    // Sticky: all samples come from one replica.
    const fromA = Array.from(m.timestamps).every((t, i) => t === a.timestamps[i]);
    const fromB = Array.from(m.timestamps).every((t, i) => t === b.timestamps[i]);
    expect(fromA || fromB).toBe(true);
  });

  it('with jitter and gaps in both replicas, fills the gaps and keeps density', () => {
    const rand = rng(7);
    const n = 240;
    const a = series(jittered(n, 15_000, 2_000, rand, new Set([10, 11, 12, 100, 101])));
    const b = series(jittered(n, 15_000, 2_000, rand, new Set([50, 51, 200])));
    const m = mergeReplicaSamples([a, b], 10_000);
    // Every 15 s slot is covered once (no slot is missing in both replicas).
    expect(m.timestamps.length).toBe(n);
    for (let i = 1; i < m.timestamps.length; i++) {
      const d = m.timestamps[i] - m.timestamps[i - 1];
      expect(d).toBeGreaterThanOrEqual(10_000);
      expect(d).toBeLessThanOrEqual(20_000);
    }
  });

  it('anti-affinity 0 gives the strictly increasing union of timestamps', () => {
    const m = mergeReplicaSamples([series([0, 10, 20]), series([0, 10, 15, 20, 30])], 0);
    expect(Array.from(m.timestamps)).toEqual([0, 10, 15, 20, 30]);
  });

  it('takes every sample of the followed replica even when its interval is below anti-affinity', () => {
    const m = mergeReplicaSamples([series([0, 5_000, 10_000, 15_000]), series([1_000, 6_000, 11_000])], 10_000);
    expect(Array.from(m.timestamps)).toEqual([0, 5_000, 10_000, 15_000]);
  });

  it('drops a stale marker when another replica still has a sample within anti-affinity after it', () => {
    // A goes stale at 32 s (e.g. its scrape failed); B keeps scraping.
    const a = series([0, 15_000, 32_000], undefined, [2]);
    const b = series([5_000, 20_000, 35_000, 50_000]);
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 35_000, 50_000]);
    expect(m.stale).toBeUndefined();
  });

  it('drops a stale marker when another replica was live just before it (interval > anti-affinity)', () => {
    const a = series([0, 15_000, 30_000], undefined, [2]);
    const b = series([12_000, 27_000, 42_000, 57_000]);
    const m = mergeReplicaSamples([a, b], 5_000);
    // B's 27 s is within 5 s before A's marker at 30 s and is B's latest event up to 35 s: B is live.
    // B's next sample is 15 s after the marker (beyond anti-affinity), so only this clause applies.
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 27_000, 42_000, 57_000]);
    expect(m.stale).toBeUndefined();
  });

  it('keeps a stale marker when no other replica has data after it', () => {
    const a = series([0, 15_000, 30_000], undefined, [2]);
    const b = series([1_000, 16_000]);
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 30_000]);
    expect(staleFlags(m)).toEqual([0, 0, 1]);
    expect(Number.isNaN(m.values[2])).toBe(true);
  });

  it('keeps a stale marker when both replicas go stale', () => {
    const a = series([0, 15_000, 30_000], undefined, [2]);
    const b = series([2_000, 17_000, 31_000], undefined, [2]);
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 30_000]);
    expect(staleFlags(m)).toEqual([0, 0, 1]);
  });

  it('keeps a stale marker and later samples when the series comes back', () => {
    const a = series([0, 15_000, 30_000, 120_000], undefined, [2]);
    const b = series([1_000, 16_000, 31_000, 121_000], undefined, [2]);
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(Array.from(m.timestamps)).toEqual([0, 15_000, 30_000, 120_000]);
    expect(staleFlags(m)).toEqual([0, 0, 1, 0]);
  });

  it('handles empty inputs', () => {
    const e = mergeReplicaSamples([], 10_000);
    expect(e.timestamps.length).toBe(0);
    expect(e.values.length).toBe(0);
    expect(e.timestamps).toBeInstanceOf(Float64Array);
    const e2 = mergeReplicaSamples([series([]), series([])], 10_000);
    expect(e2.labels).toBe(LBL);
    expect(e2.timestamps.length).toBe(0);
    const one = series([1, 2, 3]);
    const m = mergeReplicaSamples([series([]), one], 10_000);
    expect(Array.from(m.timestamps)).toEqual([1, 2, 3]);
  });

  it('replicas holding disjoint halves give the whole series (more samples than the longest replica)', () => {
    // A holds the first 100 scrapes with a stale marker in them, B the next 100: the answer outgrows
    // the room first made for about one replica's samples, stale flags included.
    const first = Array.from({ length: 100 }, (_, i) => i * 15_000);
    const second = Array.from({ length: 100 }, (_, i) => (100 + i) * 15_000 + 1_000);
    const m = mergeReplicaSamples([series(first, undefined, [50]), series(second)], 10_000);
    expect(Array.from(m.timestamps)).toEqual([...first, ...second]);
    expect(Array.from(m.values.subarray(100))).toEqual(second.map((t) => t / 1000));
    expect(staleFlags(m)).toEqual(first.map((_, i) => (i === 50 ? 1 : 0)).concat(second.map(() => 0)));
    expect(m.timestamps.length).toBe(200);
    expect(m.values.length).toBe(200);
  });

  it('outputs Float64Array timestamps and values', () => {
    const m = mergeReplicaSamples([series([0, 15_000]), series([30_000, 45_000], undefined, [1])], 10_000);
    expect(m.timestamps).toBeInstanceOf(Float64Array);
    expect(m.values).toBeInstanceOf(Float64Array);
    expect(m.stale).toBeInstanceOf(Uint8Array);
    expect(m.timestamps.length).toBe(4);
    expect(m.values.length).toBe(4);
    expect(m.stale!.length).toBe(4);
  });
});

describe('a merge that is one replica as it is', () => {
  const cols = (s: Series): unknown => ({
    t: Array.from(s.timestamps),
    v: Array.from(new Uint32Array(Float64Array.from(s.values).buffer)),
    stale: staleFlags(s),
  });

  it('identical replicas: the answer is the first replica’s arrays, no copy', () => {
    const a = series([0, 15_000, 30_000], [1, 2, 3], [2]);
    const b = series([0, 15_000, 30_000], [1, 2, 3], [2]);
    const m = mergeReplicaSamples([a, b], 10_000);
    expect(m.timestamps).toBe(a.timestamps);
    expect(m.values).toBe(a.values);
    expect(m.stale).toBe(a.stale);
    expect(cols(m)).toEqual(cols(mergeReplicaSamples([a, b], 10_000, { verbatim: false })));
  });

  it('equals the merge writing every sample, to the bit, over random replicas with gaps, jitter, markers, counter dips, -0 and NaN', () => {
    const rand = rng(41);
    for (let c = 0; c < 3000; c++) {
      const R = 1 + Math.floor(rand() * 3);
      const n = Math.floor(rand() * 40);
      const counter = rand() < 0.5;
      const labels = L({ __name__: counter ? 'x_total' : 'x', c: String(c) });
      const reps: Series[] = [];
      for (let r = 0; r < R; r++) {
        const skip = new Set<number>();
        const mode = rand();
        // Some replicas identical to the first, some jittered, some with gaps.
        for (let i = 0; i < n; i++) if (mode < 0.3 && rand() < 0.15) skip.add(i);
        const ts =
          mode < 0.6 ? Array.from({ length: n }, (_, i) => 1_000_000 + i * 15_000).filter((_, i) => !skip.has(i)) : jittered(n, 15_000, 3_000, rand, skip);
        const vs = ts.map((_, i) => {
          const x = rand();
          if (x < 0.03) return -0;
          if (x < 0.06) return NaN;
          return counter ? i + (rand() < 0.1 ? -1 : 0) : Math.round(x * 100);
        });
        const stale = ts.map((_, i) => i).filter(() => rand() < 0.05);
        reps.push(series(ts, vs, stale, labels));
      }
      const want = mergeReplicaSamples(reps, 10_000, { verbatim: false });
      const got = mergeReplicaSamples(reps, 10_000);
      expect(cols(got), `case ${c}`).toEqual(cols(want));
      expect(got.labels).toEqual(want.labels);
    }
  });
});

describe('mergeSeriesSets', () => {
  const la = L({ __name__: 'up', instance: 'a' });
  const lb = L({ __name__: 'up', instance: 'b' });
  const lc = L({ __name__: 'up', instance: 'c' });
  const ld = L({ __name__: 'up', instance: 'd' });

  it('the same input sets merged again answer the first merge (a list of their own); equal sets that are other arrays are merged afresh', () => {
    const r1 = [series([0, 15_000, 30_000], [1, 2, 3], [], la)];
    const r2 = [series([1_000, 16_000, 61_000], [1, 2, 5], [], la), series([0], [3], [], lb)];
    const before = mergeReuseCount();
    const first = mergeSeriesSets([r1, r2], 10_000);
    const again = mergeSeriesSets([r1, r2], 10_000);
    expect(mergeReuseCount() - before).toBe(1);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
    expect(again[0]).toBe(first[0]);
    // Another window, the sets in another order, or copies of the arrays: merged again.
    mergeSeriesSets([r1, r2], 1_000);
    expect(mergeSeriesSets([r2, r1], 10_000).map((s) => s.labels)).toEqual([la, lb]);
    expect(mergeSeriesSets([r1.slice(), r2], 10_000)).toEqual(first);
    expect(mergeReuseCount() - before).toBe(1);
    expect(Array.from(first[0].timestamps)).toEqual([0, 15_000, 30_000, 61_000]);
  });

  it('keeps series with different labels apart, merges equal ones, output sorted', () => {
    const r1 = [series([0, 15_000], [1, 1], [], la), series([0, 15_000], [2, 2], [], lc)];
    const r2 = [series([1_000, 16_000, 31_000], [1, 1, 1], [], la), series([0], [3], [], lb), series([0], [4], [], ld)];
    const out = mergeSeriesSets([r1, r2], 10_000);
    expect(out.map((s) => s.labels)).toEqual([la, lb, lc, ld]);
    for (let i = 1; i < out.length; i++) expect(compareLabels(out[i - 1].labels, out[i].labels)).toBeLessThan(0);
    expect(Array.from(out[0].timestamps)).toEqual([0, 15_000, 31_000]);
    expect(Array.from(out[1].values)).toEqual([3]);
    expect(Array.from(out[2].values)).toEqual([2, 2]);
  });

  it('merges many series through one arena: each answer keeps its own samples, gap fills past the first estimate and stale markers included', () => {
    const rand = rng(23);
    const a: Series[] = [];
    const b: Series[] = [];
    const want: { ts: number[]; stale: number[] }[] = [];
    for (let k = 0; k < 400; k++) {
      const labels = L({ __name__: 'g', k: String(k).padStart(3, '0') });
      const n = 1 + Math.floor(rand() * 300);
      const ts = Array.from({ length: n }, (_, i) => 1_000_000 + i * 15_000);
      // A holds the first part and B the rest (the merge outgrows room for the longest copy),
      // or both hold everything; the last sample of both is a staleness marker now and then.
      const cut = k % 3 === 0 ? n : Math.floor(n / 2);
      const stale = k % 5 === 0 ? [n - 1] : [];
      a.push(
        series(
          ts.slice(0, cut),
          undefined,
          stale.filter((i) => i < cut),
          labels,
        ),
      );
      b.push(series(k % 3 === 0 ? ts : ts.slice(cut), undefined, k % 3 === 0 ? stale : stale.filter((i) => i >= cut).map((i) => i - cut), labels));
      want.push({ ts, stale: ts.map((_, i) => (stale.includes(i) ? 1 : 0)) });
    }
    const out = mergeSeriesSets([a, b], 10_000);
    expect(out).toHaveLength(400);
    out.forEach((s, k) => {
      expect(Array.from(s.timestamps), `series ${k}`).toEqual(want[k].ts);
      expect(staleFlags(s), `series ${k}`).toEqual(want[k].stale);
      s.values.forEach((v, i) => {
        if (want[k].stale[i] === 0) expect(v).toBe(want[k].ts[i] / 1000);
      });
    });
  });

  it('handles empty inputs', () => {
    expect(mergeSeriesSets([], 10_000)).toEqual([]);
    expect(mergeSeriesSets([[], []], 10_000)).toEqual([]);
    const s = [series([0], [1], [], la)];
    expect(mergeSeriesSets([[], s], 10_000)).toEqual(s);
  });

  it('merges 2 replicas × 10,000 series × 240 samples (the time is printed, not asserted)', () => {
    const rand = rng(1);
    const nSeries = 10_000;
    const n = 240;
    const mk = (): Series[] => {
      const out: Series[] = [];
      for (let k = 0; k < nSeries; k++) {
        const labels = L({ __name__: 'm', id: String(k).padStart(6, '0') });
        const ts = new Float64Array(n);
        const vs = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          ts[i] = i * 15_000 + Math.round((rand() * 2 - 1) * 2_000);
          vs[i] = i;
        }
        out.push({ labels, timestamps: ts, values: vs });
      }
      return out;
    };
    const a = mk();
    const b = mk();
    const t0 = performance.now();
    const out = mergeSeriesSets([a, b], 10_000);
    const ms = performance.now() - t0;
    console.log(`mergeSeriesSets 2 × ${nSeries} series × ${n} samples: ${ms.toFixed(1)} ms`);
    expect(out.length).toBe(nSeries);
    expect(out[0].timestamps.length).toBe(n);
    expect(out[nSeries - 1].timestamps.length).toBe(n);
  });
});

describe('replicaCoverage', () => {
  /** A series with samples at the given times (ms). */
  const at = (ts: number[], instance = 'a'): Series => ({
    labels: [{ name: 'instance', value: instance }],
    timestamps: Float64Array.from(ts),
    values: new Float64Array(ts.length),
  });
  const every15s = (from: number, to: number) => Array.from({ length: Math.floor((to - from) / 15_000) + 1 }, (_, i) => from + i * 15_000);

  it('covered: samples every interval from start to end, a series born inside the range included', () => {
    expect(replicaCoverage([at(every15s(0, 150_000)), at(every15s(60_000, 150_000), 'b')], 0, 150_000, 10_000)).toEqual({ covered: true });
  });

  it('not covered: a gap longer than interval + anti-affinity, a late start, an early end, no samples', () => {
    const gap = [...every15s(0, 45_000), ...every15s(90_000, 150_000)];
    expect(replicaCoverage([at(gap)], 0, 150_000, 10_000)).toEqual({ covered: false, why: 'has a gap of 45s in a series' });
    expect(replicaCoverage([at(every15s(60_000, 150_000))], 0, 150_000, 10_000)).toEqual({
      covered: false,
      why: 'has no samples in the first 60s of the range',
    });
    expect(replicaCoverage([at(every15s(0, 90_000))], 0, 150_000, 10_000)).toEqual({ covered: false, why: 'has no samples in the last 60s of the range' });
    expect(replicaCoverage([], 0, 150_000, 10_000)).toEqual({ covered: false, why: 'returned no samples' });
  });

  it('a gap shorter than interval + anti-affinity is jitter, not a hole', () => {
    expect(replicaCoverage([at([0, 15_000, 32_000, 45_000, 60_000])], 0, 60_000, 5_000)).toEqual({ covered: true });
  });
});

describe('adaptive anti-affinity (default anti-affinity 10 s)', () => {
  const AA = 10_000;
  const times = (n: number, interval: number, offset = 0) => Array.from({ length: n }, (_, i) => i * interval + offset);
  const without = (ts: number[], from: number, to: number) => ts.filter((t) => t < from || t > to);

  for (const interval of [1_000, 5_000, 15_000, 60_000]) {
    it(`aligned replicas at ${interval / 1000} s with a gap each: exactly the full data`, () => {
      const all = times(200, interval);
      const a = without(all, 40 * interval, 60 * interval);
      const b = without(all, 120 * interval, 150 * interval);
      const m = mergeReplicaSamples([series(a), series(b)], AA);
      expect([...m.timestamps]).toEqual(all);
      expect([...m.values]).toEqual(all.map((t) => t / 1000));
    });

    for (const skewFrac of [0.1, 0.45]) {
      // A skew beyond anti-affinity is not recognised (docs/merge-rules.md): capped below it.
      const skew = Math.min(Math.round(interval * skewFrac), 9_000);
      it(`replicas skewed by ${skew / 1000} s at ${interval / 1000} s with gaps: one sample per interval, gaps filled`, () => {
        const a = without(times(200, interval), 40 * interval, 60 * interval);
        const b = without(times(200, interval, skew), 120 * interval, 150 * interval);
        const m = mergeReplicaSamples([series(a), series(b)], AA);
        const t = [...m.timestamps];
        for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1], `at ${t[i]}`).toBeGreaterThan(interval / 2);
        // Every interval has its sample: the gaps are filled, nothing doubled.
        expect(t.length).toBeGreaterThanOrEqual(199);
        expect(t.length).toBeLessThanOrEqual(200);
      });
    }
  }

  it('mixed intervals: a 15 s replica followed sample by sample, its gap filled by a 5 s replica', () => {
    const a = without(times(100, 15_000), 300_000, 600_000);
    const b = times(300, 5_000, 1_000);
    const m = mergeReplicaSamples([series(a), series(b)], AA);
    const t = [...m.timestamps];
    expect(t.filter((x) => x <= 285_000)).toEqual(a.filter((x) => x <= 285_000));
    // Inside A's gap, B's 5 s samples from the first one more than half A's spacing after A's last.
    expect(t.filter((x) => x > 285_000 && x < 600_000)).toEqual(b.filter((x) => x > 285_000 + 7_500 && x < 600_000));
  });

  it('the window is more than half the median spacing, capped by anti-affinity', () => {
    expect(adaptiveWindow(Float64Array.from(times(10, 5_000)), AA)).toBe(2_501);
    expect(adaptiveWindow(Float64Array.from(times(10, 60_000)), AA)).toBe(AA);
    expect(adaptiveWindow(Float64Array.from([0]), AA)).toBe(AA);
    // A gap does not move the median.
    expect(adaptiveWindow(Float64Array.from([0, 1_000, 2_000, 3_000, 60_000, 61_000]), AA)).toBe(501);
  });

  it('adaptive: false keeps the fixed window (the first filling sample at 5 s is dropped)', () => {
    const all = times(40, 5_000);
    const a = without(all, 50_000, 100_000);
    const m = mergeReplicaSamples([series(a), series(all)], AA, { adaptive: false });
    expect(m.timestamps.length).toBe(all.length - 1);
  });
});

describe('counter adjustment at a switch of replica', () => {
  const CTR = L({ __name__: 'requests_total', job: 'x' });
  const GAUGE = L({ __name__: 'temp', job: 'x' });
  const ts = Array.from({ length: 40 }, (_, i) => i * 15_000);
  const a = ts.filter((t) => t < 150_000 || t > 300_000);
  const b = ts.map((t) => t + 1_000);
  // B's counter reads 20 below A's at about the same time, more than one interval's increase.
  const valA = (t: number) => t / 1000;
  const valB = (t: number) => (t - 1_000) / 1000 - 20;

  it('a counter switched to a replica slightly behind shows no decrease; its increments are kept', () => {
    const m = mergeReplicaSamples([series(a, a.map(valA), [], CTR), series(b, b.map(valB), [], CTR)], 10_000);
    const v = [...m.values];
    for (let i = 1; i < v.length; i++) expect(v[i], `at ${m.timestamps[i]}`).toBeGreaterThanOrEqual(v[i - 1]);
    // After the switch, each step adds B's own increment (15), as the single counter would.
    const k = [...m.timestamps].indexOf(151_000);
    expect(v[k]).toBe(135);
    expect(v[k + 1] - v[k]).toBe(15);
  });

  it('a reset the new replica saw itself is kept (not adjusted away)', () => {
    const t = [0, 15_000, 30_000, 45_000, 60_000, 75_000];
    const v = [100, 110, 120, 2, 12, 22];
    const m = mergeReplicaSamples([series(t.slice(0, 3), v.slice(0, 3), [], CTR), series(t, v, [], CTR)], 10_000);
    expect([...m.values]).toEqual(v);
  });

  it('a gauge is not adjusted; a counter-less name by choice neither', () => {
    const m = mergeReplicaSamples([series(a, a.map(valA), [], GAUGE), series(b, b.map(valB), [], GAUGE)], 10_000);
    expect(m.values[[...m.timestamps].indexOf(151_000)]).toBe(130);
    expect(isCounterName(CTR)).toBe(true);
    expect(isCounterName(L({ __name__: 'x_bucket' }))).toBe(true);
    expect(isCounterName(GAUGE)).toBe(false);
    const off = mergeReplicaSamples([series(a, a.map(valA), [], CTR), series(b, b.map(valB), [], CTR)], 10_000, { counter: false });
    expect(off.values[[...off.timestamps].indexOf(151_000)]).toBe(130);
  });
});
