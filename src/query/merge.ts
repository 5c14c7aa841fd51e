// Merging HA replicas' copies of the same series (see docs/merge-rules.md).
//
// A server group is a set of replicas scraping the same targets. Each replica's copy of a series has
// the same labels but samples at slightly different times (each replica scrapes on its own clock
// phase), and either copy may have gaps (replica restarted, scrape failed). The merge fills one
// copy's gaps from the other without doubling the sample density.
//
// Rule (anti-affinity merge), where `antiAffinityMs` stands for the window of the followed replica:
// adaptive by default, more than half its median sample spacing and at most anti_affinity.
//   * Walk all replicas' samples in time order. One replica is "followed" (the source of the last
//     taken sample). The followed replica's next sample is taken whenever it is after the last taken
//     sample, so its scrape stream passes through unchanged.
//   * Another replica's sample is eligible only when it is at least `antiAffinityMs` after the last
//     taken sample; samples of other replicas closer than that are near-duplicates and are dropped.
//   * Stickiness: when the followed replica's next sample is less than `antiAffinityMs` later than the
//     earliest eligible sample of another replica (equal or near-equal times), the followed replica
//     wins. The merge switches replica only when the followed one has a gap longer than
//     anti-affinity (or has ended). Sticking avoids zig-zagging between two replicas' slightly
//     different counter values, each switch of which can read as a tiny counter reset.
//   * Staleness markers: a marker from one replica is dropped when another replica is still live at
//     that time, i.e. it has a real (non-stale) sample within `antiAffinityMs` after the marker, or
//     its most recent sample at or before marker + antiAffinityMs is a real sample no older than
//     marker - antiAffinityMs. Otherwise the marker is kept. A dropped marker does not count as a
//     taken sample, so the other replica's samples fill in right after the followed one's last sample.
//
// Counters (by metric name) get Thanos's adjustment at a switch: a replica switched to whose value is
// below the last taken one has the shortfall added to its later values, so no false reset appears.
//
// Cannot handle: replicas whose clocks are offset by more than the window (their samples are not
// recognised as near-duplicates, density doubles), and replicas that disagree on the value at the
// same time where both are "right" (one is picked, the other silently dropped).

import type { Series } from '../storage/interface.js';
import { compareLabels } from '../model/labels.js';
import { upperBound } from '../util/sorted.js';
import { SampleArena } from '../util/sample-arena.js';

const EMPTY_F64 = new Float64Array(0);

/** Index of the last timestamp <= t in ts (strictly increasing), or -1. */
function lastAtOrBefore(ts: Float64Array, t: number): number {
  return upperBound(ts, t) - 1;
}

/** Whether replica q is still live around a staleness marker at time t (see the rule above). */
function liveAround(q: Series, t: number, aa: number): boolean {
  const ts = q.timestamps;
  const st = q.stale;
  const j = lastAtOrBefore(ts, t + aa);
  if (j < 0) return false;
  // A real sample within anti-affinity after the marker.
  for (let k = j; k >= 0 && ts[k] >= t; k--) {
    if (st === undefined || st[k] === 0) return true;
  }
  // Most recent event up to t + aa is a real sample, and recent enough.
  return ts[j] >= t - aa && (st === undefined || st[j] === 0);
}

/** Spacings looked at to estimate a replica's interval: enough for a median, cheap on long series. */
const SPACING_SAMPLE = 31;
const spacingScratch = new Float64Array(SPACING_SAMPLE);

/**
 * The near-duplicate window while following a replica whose samples are `ts`: more than half its
 * median spacing (so a sample of another replica half an interval away is still a near-duplicate,
 * and the next real scrape is not), never more than `aa`. `aa` when the spacing is unknown.
 */
export function adaptiveWindow(ts: Float64Array, aa: number): number {
  const n = Math.min(ts.length - 1, SPACING_SAMPLE);
  if (n <= 0) return aa;
  // Called twice per merged series: a scratch array, not an allocation each time (the merge of a
  // dashboard's short reads spent a fifth of its time allocating).
  const d = spacingScratch.subarray(0, n);
  // Spacings from the end: the latest interval is the one a switch follows.
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = ts[ts.length - 1 - i] - ts[ts.length - 2 - i];
    d[i] = x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  // Evenly spaced samples (a scrape's usual timestamps) need no sort for their median.
  if (lo !== hi) d.sort();
  return Math.min(aa, Math.floor(d[n >> 1] / 2) + 1);
}

/**
 * Whether a series is a counter (its metric name ends in _total, _count, _sum or _bucket): its
 * values after a switch of replica are adjusted so that the switch reads as no reset.
 */
export function isCounterName(labels: Series['labels']): boolean {
  for (const l of labels) {
    if (l.name !== '__name__') continue;
    const v = l.value;
    return v.endsWith('_total') || v.endsWith('_count') || v.endsWith('_sum') || v.endsWith('_bucket');
  }
  return false;
}

export interface MergeOptions {
  /** Adaptive anti-affinity (docs/merge-rules.md): the window follows the followed replica's spacing. Default true. */
  adaptive?: boolean;
  /** Counter adjustment at switches; default: by the metric name (isCounterName). */
  counter?: boolean;
  /**
   * Where the merged samples are written; the answer is a view of it. mergeSeriesSets passes one
   * arena for all the series it merges (a typed array of one's own per merged series cost more
   * than the merge on a dashboard's short reads). Default: a new one of about the answer's size.
   */
  arena?: SampleArena;
  /** False: every sample is written to the arena, even when the merge is one replica as it is (what the tests compare with). */
  verbatim?: boolean;
}

/** Merges the same series (same labels) from several replicas into one, filling gaps, keeping density. */
export function mergeReplicaSamples(replicas: Series[], antiAffinityMs: number, opts: MergeOptions = {}): Series {
  const maxAa = Number.isFinite(antiAffinityMs) && antiAffinityMs > 0 ? antiAffinityMs : 0;
  const live = replicas.filter((s) => s.timestamps.length > 0);
  if (live.length === 0) {
    return { labels: replicas.length > 0 ? replicas[0].labels : [], timestamps: EMPTY_F64, values: EMPTY_F64 };
  }
  if (live.length === 1) return live[0];

  const R = live.length;
  const ts = live.map((s) => s.timestamps);
  const vs = live.map((s) => s.values);
  const st = live.map((s) => s.stale);
  const len = ts.map((a) => a.length);
  const pos = new Array<number>(R).fill(0);
  let total = 0;
  let longest = 0;
  for (const l of len) {
    total += l;
    longest = Math.max(longest, l);
  }
  // Replicas mostly hold the same samples, so the merge is about as long as the longest one: room
  // for that plus an eighth, grown to the sum of all only when gaps were filled beyond it.
  let cap = Math.min(total, longest + (longest >> 3) + 8);
  const own = opts.arena === undefined;
  // Nothing is written while every sample taken is the next one of a single replica (`vr`, -1
  // before the first): replicas without gaps merge to the followed one's samples, which are then
  // the answer as they are (identical replicas, as a dashboard's newest minutes usually are, cost
  // a walk and no copy). The first sample that breaks the pattern writes what was taken so far.
  let vr = -1;
  let arena: SampleArena | undefined;
  // The window while following each replica; before any sample is taken, the widest.
  const win = opts.adaptive === false ? new Array<number>(R).fill(maxAa) : ts.map((a) => adaptiveWindow(a, maxAa));
  let aa = maxAa;
  // Counter adjustment (Thanos's dedup does the same): a replica switched to whose counter reads
  // below the last value taken gets the shortfall added to its values from then on.
  const counter = opts.counter ?? isCounterName(live[0].labels);
  const adj = counter ? new Float64Array(R) : undefined;
  let lastV = NaN;

  let outT: Float64Array = EMPTY_F64;
  let outV: Float64Array = EMPTY_F64;
  let base = 0;
  let n = 0;
  /** Stops the verbatim walk: room in the arena, and the n samples taken so far (vr's first n) written there. */
  const materialize = (): void => {
    arena = opts.arena ?? new SampleArena(cap);
    arena.reserve(cap);
    outT = arena.timestamps;
    outV = arena.values;
    base = arena.length;
    if (n > 0) {
      outT.set(ts[vr].subarray(0, n), base);
      outV.set(vs[vr].subarray(0, n), base);
      const s = st[vr];
      if (s !== undefined) for (let k = 0; k < n; k++) if (s[k] !== 0) arena.markStale(base + k);
    }
    vr = -2;
  };
  if (opts.verbatim === false) materialize();
  let lastT = -Infinity;
  let cur = -1;

  for (;;) {
    // The followed replica's next sample after the last taken one.
    let tf = Infinity;
    if (cur >= 0) {
      const a = ts[cur];
      let p = pos[cur];
      while (p < len[cur] && a[p] <= lastT) p++;
      pos[cur] = p;
      if (p < len[cur]) tf = a[p];
    }
    // The earliest eligible sample of the other replicas; near-duplicates are skipped for good.
    const minOther = lastT + aa;
    let best = -1;
    let tb = Infinity;
    for (let r = 0; r < R; r++) {
      if (r === cur) continue;
      const a = ts[r];
      let p = pos[r];
      while (p < len[r] && (a[p] < minOther || a[p] <= lastT)) p++;
      pos[r] = p;
      if (p < len[r] && a[p] < tb) {
        tb = a[p];
        best = r;
      }
    }
    let r: number;
    if (tf !== Infinity && (tf <= tb || tf < tb + aa)) r = cur;
    else if (best >= 0) r = best;
    else break;

    const i = pos[r]++;
    const t = ts[r][i];
    const s = st[r];
    let v = vs[r][i];
    const marker = s !== undefined && s[i] !== 0;
    if (marker) {
      let drop = false;
      for (let q = 0; q < R && !drop; q++) {
        if (q !== r && liveAround(live[q], t, aa)) drop = true;
      }
      if (drop) continue;
    } else if (adj !== undefined) {
      // Unless the replica's own series went down there too: then the counter really was reset.
      if (r !== cur && cur >= 0 && v + adj[r] < lastV && !(i > 0 && v < vs[r][i - 1])) adj[r] = lastV - v;
      // Written as it is only when unchanged to the bit (-0 + 0 is +0; a NaN may lose its payload).
      if (adj[r] !== 0 || v !== v || (v === 0 && 1 / v < 0)) {
        if (vr !== -2) materialize();
        v += adj[r];
      } else v += 0;
      lastV = v;
    }
    if (vr !== -2) {
      if ((vr === r || vr === -1) && i === n) {
        vr = r;
        n++;
        lastT = t;
        if (r !== cur) aa = win[r];
        cur = r;
        continue;
      }
      materialize();
    }
    if (marker) {
      if (n === cap) ({ cap, base, outT, outV } = grow(arena!, base, n, total));
      arena!.markStale(base + n);
    }
    if (n === cap) ({ cap, base, outT, outV } = grow(arena!, base, n, total));
    outT[base + n] = t;
    outV[base + n] = v;
    n++;
    lastT = t;
    if (r !== cur) aa = win[r];
    cur = r;
  }

  if (vr !== -2) {
    // The merge is replica vr's first n samples, which is all of them unless trailing ones were dropped.
    const k = vr < 0 ? 0 : vr;
    const whole = n === len[k];
    const out: Series = {
      labels: live[0].labels,
      timestamps: whole ? ts[k] : ts[k].subarray(0, n),
      values: whole ? vs[k] : vs[k].subarray(0, n),
    };
    const stale = st[k] === undefined ? undefined : whole ? st[k] : st[k].subarray(0, n);
    if (stale !== undefined && stale.indexOf(1) >= 0) out.stale = stale;
    return out;
  }
  arena = arena!;
  arena.length = base + n;
  const cols = arena.take();
  // An arena of its own that turned out much larger than the answer is not kept alive by it.
  const copy = own && arena.timestamps.length - n > (n >> 3) + 8;
  const out: Series = {
    labels: live[0].labels,
    timestamps: copy ? cols.timestamps.slice() : cols.timestamps,
    values: copy ? cols.values.slice() : cols.values,
  };
  if (cols.stale !== undefined) out.stale = copy ? cols.stale.slice() : cols.stale;
  return out;
}

/** Room in the arena for `total` samples of the series being merged, which holds `n` so far. */
function grow(arena: SampleArena, base: number, n: number, total: number): { cap: number; base: number; outT: Float64Array; outV: Float64Array } {
  arena.length = base + n;
  arena.reserve(total - n);
  return { cap: total, base: arena.length - n, outT: arena.timestamps, outV: arena.values };
}

/**
 * Merges several replicas' select results (each sorted by labels): series with identical labels are
 * merged with mergeReplicaSamples, others kept apart; output sorted by labels.
 */
export function mergeSeriesSets(sets: Series[][], antiAffinityMs: number, onConflict?: (copies: Series[], sets: number[]) => void): Series[] {
  if (onConflict !== undefined || sets.length < 2) return mergeSets(sets, antiAffinityMs, onConflict);
  // The same sets merged again (another query joined to the same reads, shared-reads.ts) get the
  // same answer: the merge depends on nothing but its inputs, which are read-only once made.
  let seen = mergedBefore.get(sets[0]);
  const hit = seen?.find((m) => m.antiAffinityMs === antiAffinityMs && m.sets.length === sets.length && m.sets.every((x, k) => x === sets[k]));
  if (hit !== undefined) {
    mergeReuses++;
    return hit.out.slice();
  }
  const out = mergeSets(sets, antiAffinityMs, undefined);
  if (seen === undefined) mergedBefore.set(sets[0], (seen = []));
  seen.push({ sets: sets.slice(), antiAffinityMs, out });
  return out.slice();
}

/**
 * Merges answered, by their first input set (held weakly: forgotten with the reads). A dashboard's
 * panels send the same selection over the same range at once (`rate(x[5m])` in four panels,
 * `count(x)` in a fifth): they share one read per replica, and merged it once each (a fifth of the
 * query thread's time on an HA pair's refresh, and most of its garbage).
 */
const mergedBefore = new WeakMap<Series[], { sets: Series[][]; antiAffinityMs: number; out: Series[] }[]>();
let mergeReuses = 0;

/** How many merges were answered by an earlier merge of the same sets (for the tests and benches). */
export function mergeReuseCount(): number {
  return mergeReuses;
}

function mergeSets(sets: Series[][], antiAffinityMs: number, onConflict: ((copies: Series[], sets: number[]) => void) | undefined): Series[] {
  const index = sets.map((_, k) => k).filter((k) => sets[k].length > 0);
  const nonEmpty = index.map((k) => sets[k]);
  if (nonEmpty.length === 0) return [];
  if (nonEmpty.length === 1) return nonEmpty[0].slice();
  const K = nonEmpty.length;
  const from: number[] = [];
  const pos = new Array<number>(K).fill(0);
  const out: Series[] = [];
  const group: Series[] = [];
  let arena: SampleArena | undefined;
  for (;;) {
    let min: Series | undefined;
    for (let k = 0; k < K; k++) {
      const s = nonEmpty[k][pos[k]];
      if (s !== undefined && (min === undefined || compareLabels(s.labels, min.labels) < 0)) min = s;
    }
    if (min === undefined) break;
    group.length = 0;
    from.length = 0;
    for (let k = 0; k < K; k++) {
      const set = nonEmpty[k];
      // A set should not repeat a label set, but take every repeat if it does.
      while (pos[k] < set.length && compareLabels(set[pos[k]].labels, min.labels) === 0) {
        group.push(set[pos[k]++]);
        from.push(index[k]);
      }
    }
    if (onConflict !== undefined && group.length > 1 && conflicting(group)) onConflict(group.slice(), [...new Set(from)]);
    out.push(group.length === 1 ? group[0] : mergeReplicaSamples(group, antiAffinityMs, { arena: (arena ??= new SampleArena(4096)) }));
  }
  return out;
}

/**
 * Whether copies of one series disagree: two of them hold samples over a common stretch of time
 * and are not the same samples. Copies of a series from different server groups should not overlap
 * (a series that moved shard has its old group's samples before the move and the new group's after
 * it); overlapping different copies are two series that collapsed into one label set (two shards'
 * own `up` before per-shard instances, docs/shard-identity.md), and their merge mixes both.
 */
export function conflicting(copies: readonly Series[]): boolean {
  for (let i = 0; i < copies.length; i++) {
    for (let j = i + 1; j < copies.length; j++) {
      const a = realSpan(copies[i]);
      const b = realSpan(copies[j]);
      if (a === undefined || b === undefined || Math.max(a[0], b[0]) > Math.min(a[1], b[1])) continue;
      if (!sameSamples(copies[i], copies[j])) return true;
    }
  }
  return false;
}

/**
 * First and last timestamps of a series' real samples: the staleness marker the old shard's
 * Prometheus writes after a series moved away comes after the new shard's first sample.
 */
function realSpan(s: Series): [number, number] | undefined {
  const n = s.timestamps.length;
  let first = 0;
  let last = n - 1;
  while (first < n && s.stale?.[first] === 1) first++;
  while (last >= first && s.stale?.[last] === 1) last--;
  return first > last ? undefined : [s.timestamps[first], s.timestamps[last]];
}

function sameSamples(a: Series, b: Series): boolean {
  const n = a.timestamps.length;
  if (n !== b.timestamps.length) return false;
  for (let i = 0; i < n; i++) {
    if (a.timestamps[i] !== b.timestamps[i]) return false;
    const va = a.values[i];
    const vb = b.values[i];
    if (va !== vb && !(Number.isNaN(va) && Number.isNaN(vb))) return false;
    if ((a.stale?.[i] ?? 0) !== (b.stale?.[i] ?? 0)) return false;
  }
  return true;
}

/** Whether one replica's answer holds everything a merge with its twin could add (see replicaCoverage). */
export type Coverage = { covered: true } | { covered: false; why: string };

/**
 * Whether a replica's series (its own answer, merged) cover [startMs, endMs] so that merging in a
 * twin's copy could add nothing: the merge takes another replica's samples only where the followed
 * one has a gap longer than anti-affinity (rules 3 and 4), and before its first or after its last
 * sample. The scrape interval is estimated as the median spacing of the replica's samples; a hole
 * is a spacing longer than that interval plus anti-affinity, and the data must reach within the same
 * tolerance of both ends of the range (of the earliest start and latest end over all series, since
 * a series may start or stop inside the range on every replica). No series at all proves nothing.
 */
export function replicaCoverage(series: readonly Series[], startMs: number, endMs: number, antiAffinityMs: number): Coverage {
  const aa = Number.isFinite(antiAffinityMs) && antiAffinityMs > 0 ? antiAffinityMs : 0;
  const spacings: number[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (const s of series) {
    const ts = s.timestamps;
    if (ts.length === 0) continue;
    first = Math.min(first, ts[0]);
    last = Math.max(last, ts[ts.length - 1]);
    // A bounded sample of spacings is enough to estimate the interval.
    for (let i = 1; i < ts.length && spacings.length < 10_000; i++) spacings.push(ts[i] - ts[i - 1]);
  }
  if (first === Infinity) return { covered: false, why: 'returned no samples' };
  spacings.sort((a, b) => a - b);
  const interval = spacings.length > 0 ? spacings[spacings.length >> 1] : 0;
  const tolerance = interval + aa;
  const secs = (ms: number): string => `${+(ms / 1000).toFixed(3)}s`;
  if (first - startMs > tolerance) return { covered: false, why: `has no samples in the first ${secs(first - startMs)} of the range` };
  if (endMs - last > tolerance) return { covered: false, why: `has no samples in the last ${secs(endMs - last)} of the range` };
  for (const s of series) {
    const ts = s.timestamps;
    for (let i = 1; i < ts.length; i++) {
      if (ts[i] - ts[i - 1] > tolerance) return { covered: false, why: `has a gap of ${secs(ts[i] - ts[i - 1])} in a series` };
    }
  }
  return { covered: true };
}

/**
 * One replica's select result without the replica labels `names` (Thanos's replica labels): series
 * left with equal labels (the replicas a Thanos or VictoriaMetrics downstream returns side by side)
 * are merged as replicas; output sorted by labels. The same array when no series has such a label.
 */
export function withoutReplicaLabels(set: Series[], names: ReadonlySet<string>, antiAffinityMs: number): Series[] {
  if (names.size === 0) return set;
  let changed = false;
  const stripped = set.map((s) => {
    const labels = withoutLabelNames(s.labels, names);
    if (labels === s.labels) return s;
    changed = true;
    return { ...s, labels };
  });
  if (!changed) return set;
  stripped.sort((a, b) => compareLabels(a.labels, b.labels));
  const out: Series[] = [];
  for (let i = 0; i < stripped.length;) {
    let j = i + 1;
    while (j < stripped.length && compareLabels(stripped[j].labels, stripped[i].labels) === 0) j++;
    out.push(j === i + 1 ? stripped[i] : mergeReplicaSamples(stripped.slice(i, j), antiAffinityMs));
    i = j;
  }
  return out;
}

/** A label set without the names in `names`; the same array when it has none of them. */
export function withoutLabelNames<L extends { name: string }>(labels: readonly L[], names: ReadonlySet<string>): L[] {
  let keep: L[] | undefined;
  for (let i = 0; i < labels.length; i++) {
    if (names.has(labels[i].name)) keep ??= labels.slice(0, i);
    else keep?.push(labels[i]);
  }
  return keep ?? (labels as L[]);
}
