// Combining per-group partial aggregates into the aggregation's answer: for each output label set
// and step, the partial values of the groups that had one, folded by the operator's rule. Partials
// are series of points at (a subset of) the evaluation's steps, as a range query answers them.
//
// The fold follows Prometheus's own per-series rules so that the combined value is the one a single
// aggregation over all series gives: min and max skip a NaN partial unless every partial is NaN (a
// group's partial is NaN only when all its inputs were); count partials add up; avg is the summed
// sums over the summed counts. Sums of partials are added with Kahan compensation; they differ from
// one sum over all series only in rounding (docs/parallel.md).

import { compareLabels, labelsKey, type Labels } from '../../model/labels.js';
import { kahanSumInc } from '../../promql/functions/kahan.js';
import type { CombineOp } from './plan.js';

export interface PartialSeries {
  labels: Labels;
  /** Step timestamps in ms, increasing. */
  timestamps: Float64Array;
  values: Float64Array;
}

/** The evaluation's steps: start, start+step, ... <= end (step 0: one instant at start). */
export interface Steps {
  startMs: number;
  endMs: number;
  stepMs: number;
}

interface Acc {
  labels: Labels;
  has: Uint8Array;
  /** The running value (sum, min, max, 1), or for avg the sum. */
  vals: Float64Array;
  /** Kahan compensation of a sum. */
  comp?: Float64Array;
  /** avg: the summed counts. */
  counts?: Float64Array;
}

/** Evaluation steps of an instant (1) or range query. */
export function stepCount(steps: Steps): number {
  return steps.stepMs > 0 ? Math.floor((steps.endMs - steps.startMs) / steps.stepMs) + 1 : 1;
}

/**
 * The combined series, sorted by labels. `groups[g][p]` is group g's answer to partial p of the
 * plan (for avg: p = 0 the sums, p = 1 the counts). Throws when a point is not at a step.
 */
/**
 * The warnings and infos of every part's answer, each text once: the groups' servers (or workers)
 * report the same annotation for the same function, and one Prometheus would report it once.
 */
export function distinctNotes(parts: Iterable<{ warnings?: readonly string[]; infos?: readonly string[] }>): {
  warnings: string[];
  infos: string[];
} {
  const warnings = new Set<string>();
  const infos = new Set<string>();
  for (const p of parts) {
    for (const w of p.warnings ?? []) warnings.add(w);
    for (const i of p.infos ?? []) infos.add(i);
  }
  return { warnings: [...warnings], infos: [...infos] };
}

export function combinePartials(op: CombineOp, groups: PartialSeries[][][], steps: Steps): PartialSeries[] {
  const n = stepCount(steps);
  const index = (t: number): number => {
    const i = steps.stepMs > 0 ? (t - steps.startMs) / steps.stepMs : t === steps.startMs ? 0 : -1;
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`a partial aggregate has a point at ${t}, which is not a step of the evaluation`);
    return i;
  };
  const byKey = new Map<string, Acc>();
  const accOf = (labels: Labels): Acc => {
    const k = labelsKey(labels);
    let a = byKey.get(k);
    if (a === undefined) {
      a = { labels, has: new Uint8Array(n), vals: new Float64Array(n) };
      if (op === 'sum' || op === 'avg') a.comp = new Float64Array(n);
      if (op === 'avg') a.counts = new Float64Array(n);
      byKey.set(k, a);
    }
    return a;
  };
  for (const partials of groups) {
    const main = partials[0] ?? [];
    for (const s of main) {
      const a = accOf(s.labels);
      for (let k = 0; k < s.timestamps.length; k++) {
        const i = index(s.timestamps[k]);
        const v = s.values[k];
        if (!a.has[i]) {
          a.has[i] = 1;
          a.vals[i] = op === 'group' ? 1 : v;
          continue;
        }
        switch (op) {
          case 'sum':
          case 'avg':
            [a.vals[i], a.comp![i]] = kahanSumInc(v, a.vals[i], a.comp![i]);
            break;
          case 'min':
            if (a.vals[i] > v || Number.isNaN(a.vals[i])) a.vals[i] = v;
            break;
          case 'max':
            if (a.vals[i] < v || Number.isNaN(a.vals[i])) a.vals[i] = v;
            break;
          case 'group':
            break;
        }
      }
    }
    if (op !== 'avg') continue;
    // The counts have the same label sets and steps as the sums (one aggregation's groups).
    for (const s of partials[1] ?? []) {
      const a = accOf(s.labels);
      for (let k = 0; k < s.timestamps.length; k++) a.counts![index(s.timestamps[k])] += s.values[k];
    }
  }
  const out: PartialSeries[] = [];
  for (const a of byKey.values()) {
    let count = 0;
    for (let i = 0; i < n; i++) count += a.has[i];
    if (count === 0) continue;
    const timestamps = new Float64Array(count);
    const values = new Float64Array(count);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (!a.has[i]) continue;
      timestamps[k] = steps.startMs + i * steps.stepMs;
      let v = a.vals[i];
      if (a.comp !== undefined && Number.isFinite(v)) v += a.comp[i];
      if (a.counts !== undefined) v /= a.counts[i];
      values[k++] = v;
    }
    out.push({ labels: a.labels, timestamps, values });
  }
  return out.sort((x, y) => compareLabels(x.labels, y.labels));
}
