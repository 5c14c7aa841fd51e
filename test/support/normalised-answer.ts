// Query answers in one normalised form (series keyed by their sorted labels, times in ms, values as
// numbers) and their comparison the way the promqltest runner compares results: same series, same
// timestamps, values equal within compareSeriesValue's tolerance. Shared by the engine's live
// cross-check (promql-live) and the query layer's reference suite (query-reference), which compare
// against a real Prometheus's answers.
import { compareSeriesValue } from '../../src/promql/promqltest/testfile.js';

export type NVector = { kind: 'vector'; samples: { key: string; t: number; v: number }[] };
export type NMatrix = { kind: 'matrix'; series: { key: string; timestamps: number[]; values: number[] }[] };
export type NScalar = { kind: 'scalar'; t: number; v: number };
export type NString = { kind: 'string'; t: number; v: string };
export type Normalised = NVector | NMatrix | NScalar | NString;

/** A label set as `{a="1", b="2"}`, labels sorted by name. */
export const keyOf = (metric: Record<string, string>): string =>
  `{${Object.entries(metric)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;

export function parseValue(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

const secToMs = (t: number): number => Math.round(t * 1000);
const fmt = (v: number): string => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/** The `data` of a Prometheus API answer (vector, matrix, scalar or string). */
export function fromApiData(data: { resultType: string; result: any }): Normalised {
  switch (data.resultType) {
    case 'vector':
      return {
        kind: 'vector',
        samples: (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
          key: keyOf(s.metric),
          t: secToMs(s.value[0]),
          v: parseValue(s.value[1]),
        })),
      };
    case 'matrix':
      return {
        kind: 'matrix',
        series: (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => ({
          key: keyOf(s.metric),
          timestamps: s.values.map((p) => secToMs(p[0])),
          values: s.values.map((p) => parseValue(p[1])),
        })),
      };
    case 'scalar':
      return { kind: 'scalar', t: secToMs(data.result[0]), v: parseValue(data.result[1]) };
    case 'string':
      return { kind: 'string', t: secToMs(data.result[0]), v: data.result[1] };
    default:
      throw new Error(`unexpected resultType ${data.resultType}`);
  }
}

/** The names the differences use for the two sides, e.g. `{ want: 'prometheus', got: 'ours' }`. */
export interface Sides {
  want: string;
  got: string;
}

/** Differences of `got` from `want`, one line each; empty when they agree. */
export function diffNormalised(want: Normalised, got: Normalised, ordered: boolean, sides: Sides): string[] {
  const out: string[] = [];
  if (want.kind !== got.kind) return [`result type: ${sides.want} ${want.kind}, ${sides.got} ${got.kind}`];
  switch (want.kind) {
    case 'scalar':
    case 'string': {
      const g = got as NScalar | NString;
      if (g.t !== want.t) out.push(`timestamp: ${sides.want} ${want.t}, ${sides.got} ${g.t}`);
      const same = want.kind === 'scalar' ? compareSeriesValue(want.v, g.v as number) : want.v === g.v;
      if (!same) out.push(`value: ${sides.want} ${String(want.v)}, ${sides.got} ${String(g.v)}`);
      return out;
    }
    case 'vector': {
      const g = got as NVector;
      const exp = new Map(want.samples.map((s) => [s.key, s]));
      const act = new Map(g.samples.map((s) => [s.key, s]));
      if (exp.size !== want.samples.length) out.push(`${sides.want} returned duplicate label sets`);
      if (act.size !== g.samples.length) out.push(`${sides.got} returned duplicate label sets`);
      for (const [k, e] of exp) {
        const a = act.get(k);
        if (!a) out.push(`missing in ${sides.got}: ${k} = ${fmt(e.v)} @${e.t}`);
        else {
          if (a.t !== e.t) out.push(`${k}: timestamp ${sides.want} ${e.t}, ${sides.got} ${a.t}`);
          if (!compareSeriesValue(e.v, a.v)) out.push(`${k}: ${sides.want} ${fmt(e.v)}, ${sides.got} ${fmt(a.v)}`);
        }
      }
      for (const [k, a] of act) if (!exp.has(k)) out.push(`extra in ${sides.got}: ${k} = ${fmt(a.v)} @${a.t}`);
      if (ordered && out.length === 0) {
        const eo = want.samples.map((s) => s.key).join(' | ');
        const ao = g.samples.map((s) => s.key).join(' | ');
        if (eo !== ao) out.push(`order differs:\n    ${sides.want}: ${eo}\n    ${sides.got}: ${ao}`);
      }
      return out;
    }
    case 'matrix': {
      const g = got as NMatrix;
      const exp = new Map(want.series.map((s) => [s.key, s]));
      const act = new Map(g.series.map((s) => [s.key, s]));
      if (exp.size !== want.series.length) out.push(`${sides.want} returned duplicate label sets`);
      if (act.size !== g.series.length) out.push(`${sides.got} returned duplicate label sets`);
      for (const [k, e] of exp) {
        const a = act.get(k);
        if (!a) {
          out.push(`missing in ${sides.got}: ${k} (${e.values.length} points from ${e.timestamps[0]})`);
          continue;
        }
        if (a.timestamps.join() !== e.timestamps.join()) {
          const onlyE = e.timestamps.filter((t) => !a.timestamps.includes(t));
          const onlyA = a.timestamps.filter((t) => !e.timestamps.includes(t));
          const list = (ts: number[]): string => `[${ts.slice(0, 5).join(', ')}${ts.length > 5 ? ', …' : ''}] (${ts.length})`;
          out.push(`${k}: timestamps differ; only in ${sides.want} ${list(onlyE)}, only in ${sides.got} ${list(onlyA)}`);
          continue;
        }
        let bad = 0;
        for (let i = 0; i < e.values.length; i++) {
          if (!compareSeriesValue(e.values[i], a.values[i])) {
            if (bad < 3) out.push(`${k} @${e.timestamps[i]}: ${sides.want} ${fmt(e.values[i])}, ${sides.got} ${fmt(a.values[i])}`);
            bad++;
          }
        }
        if (bad > 3) out.push(`${k}: ${bad} differing points in all`);
      }
      for (const [k, a] of act) if (!exp.has(k)) out.push(`extra in ${sides.got}: ${k} (${a.values.length} points from ${a.timestamps[0]})`);
      return out;
    }
  }
}

/** Instant queries whose result order is part of the answer (like promqltest's eval_ordered). */
export const isOrdered = (q: string): boolean => /^\s*(sort|sort_desc|topk|bottomk)\s*(\(|by|without)/.test(q);

/** Samples in an answer (a scalar or string counts one). */
export function pointCount(n: Normalised): number {
  switch (n.kind) {
    case 'vector':
      return n.samples.length;
    case 'matrix':
      return n.series.reduce((acc, s) => acc + s.values.length, 0);
    default:
      return 1;
  }
}
