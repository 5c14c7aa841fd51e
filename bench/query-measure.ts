// Measuring for the query-layer benchmark: whole range queries over HTTP, checking two answers
// agree, and an in-process breakdown of where the proxy's time goes (fetch vs evaluation).

import { loadavg } from 'node:os';
import { Pool, request } from 'undici';
import { parseConfigText } from '../src/config/load.js';
import { JsonApiTarget, matchersToSelector, parseMatrix } from '../src/query/downstream/json-api-client.js';
import { FanoutStorage, type GroupSpec } from '../src/query/fanout.js';
import type { LabelMatcher } from '../src/model/labels.js';
import { Engine } from '../src/promql/engine.js';
import { compareSeriesValue } from '../src/promql/promqltest/testfile.js';
import type { Series, Storage } from '../src/storage/interface.js';
import { createQueryLayer } from '../src/server/query-layer.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface Timed {
  ms: number;
  body: string;
}

/** GET /api/v1/query_range on `base`; the time covers the whole request including reading the body. */
export async function timedRange(base: string, query: string, startMs: number, endMs: number, stepMs: number): Promise<Timed> {
  const qs = new URLSearchParams({ query, start: String(startMs / 1000), end: String(endMs / 1000), step: `${stepMs / 1000}s` });
  const t = performance.now();
  const res = await request(`${base}/api/v1/query_range?${qs.toString()}`);
  const body = await res.body.text();
  const ms = performance.now() - t;
  if (res.statusCode !== 200) throw new Error(`${base}: ${query}: HTTP ${res.statusCode}: ${body.slice(0, 500)}`);
  return { ms, body };
}

type Json = { status: string; data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] } };

export interface Shape {
  series: number;
  points: number;
}

export function shapeOf(body: string): Shape {
  const j = JSON.parse(body) as Json;
  return { series: j.data.result.length, points: j.data.result.reduce((n, s) => n + s.values.length, 0) };
}

/**
 * Undefined when `got` is the same answer as `ref`: identical bytes, or the same series with the
 * same timestamps and values equal within the PromQL test files' tolerance (summation order differs
 * between one Prometheus and a merge of shards). Otherwise what differs.
 */
export function sameAnswer(ref: string, got: string): string | undefined {
  if (ref === got) return undefined;
  const a = JSON.parse(ref) as Json;
  const b = JSON.parse(got) as Json;
  if (b.status !== 'success') return `answered ${got.slice(0, 300)}`;
  if (a.data.resultType !== b.data.resultType) return `result type ${b.data.resultType}, expected ${a.data.resultType}`;
  const key = (m: Record<string, string>): string => JSON.stringify(Object.entries(m).sort());
  const byKey = new Map(a.data.result.map((s) => [key(s.metric), s]));
  if (b.data.result.length !== byKey.size) return `${b.data.result.length} series, expected ${byKey.size}`;
  for (const s of b.data.result) {
    const r = byKey.get(key(s.metric));
    if (!r) return `unexpected series ${key(s.metric)}`;
    if (r.values.length !== s.values.length) return `${key(s.metric)}: ${s.values.length} points, expected ${r.values.length}`;
    for (let i = 0; i < r.values.length; i++) {
      const [ta, va] = r.values[i];
      const [tb, vb] = s.values[i];
      if (ta !== tb || !compareSeriesValue(Number(va), Number(vb))) return `${key(s.metric)} point ${i}: [${tb},${vb}], expected [${ta},${va}]`;
    }
  }
  return undefined;
}

/**
 * For topk/bottomk: undefined when, at every timestamp, both answers hold the same multiset of
 * values and every series present in both has the same value, i.e. they differ at most in which of
 * several equal-valued series were picked. Otherwise what differs. `tieSteps` counts the timestamps
 * where the picked series differ.
 */
export function sameUpToTies(ref: string, got: string): { diff?: string; tieSteps: number } {
  const byTime = (body: string): Map<number, Map<string, string>> => {
    const m = new Map<number, Map<string, string>>();
    for (const s of (JSON.parse(body) as Json).data.result) {
      const k = JSON.stringify(Object.entries(s.metric).sort());
      for (const [t, v] of s.values) {
        let at = m.get(t);
        if (!at) m.set(t, (at = new Map<string, string>()));
        at.set(k, v);
      }
    }
    return m;
  };
  const a = byTime(ref);
  const b = byTime(got);
  if (a.size !== b.size) return { diff: `${b.size} timestamps, expected ${a.size}`, tieSteps: 0 };
  let tieSteps = 0;
  for (const [t, at] of a) {
    const bt = b.get(t);
    if (!bt) return { diff: `no points at ${t}`, tieSteps };
    const va = [...at.values()].map(Number).sort((x, y) => x - y);
    const vb = [...bt.values()].map(Number).sort((x, y) => x - y);
    if (va.length !== vb.length || va.some((v, i) => !compareSeriesValue(v, vb[i])))
      return { diff: `at ${t}: values ${vb.join(' ')}, expected ${va.join(' ')}`, tieSteps };
    let differs = false;
    for (const [k, v] of bt) {
      const r = at.get(k);
      if (r === undefined) differs = true;
      else if (!compareSeriesValue(Number(r), Number(v))) return { diff: `at ${t}: ${k} = ${v}, expected ${r}`, tieSteps };
    }
    if (differs) tieSteps++;
  }
  return { tieSteps };
}

// ---------------------------------------------------------------------------------------------
// In-process breakdown

export interface Breakdown {
  /** The proxy's query layer built from its config, asked in-process (API, engine, response encoding; no socket). */
  layerMs: number;
  /** layerMs - engineMs: parameter handling and writing the JSON answer. */
  encodeMs: number;
  /** Engine.rangeQuery over the fan-out storage, as the proxy runs it (no HTTP API around it). */
  engineMs: number;
  /** Wall time inside storage.select (downstream requests, decoding, replica/group merge). */
  selectMs: number;
  /** engineMs - selectMs. */
  evalMs: number;
  /** Replayed selects: downstream HTTP requests until the body is read (all targets in parallel). */
  httpMs: number;
  /** Replayed selects: JSON.parse of the downstream bodies. */
  jsonParseMs: number;
  /** Replayed selects: JSON matrix to columnar Series (parseMatrix). */
  toSeriesMs: number;
  /** Downstream body bytes per query. */
  bytes: number;
  /** Raw samples fetched per query. */
  samples: number;
}

interface SelectCall {
  matchers: LabelMatcher[];
  startMs: number;
  endMs: number;
}

/** Total length of the union of [t0, t1] intervals. */
function unionMs(iv: [number, number][]): number {
  const s = [...iv].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  for (const [a, b] of s) {
    if (a > curE) {
      if (curE > curS) total += curE - curS;
      curS = a;
      curE = b;
    } else curE = Math.max(curE, b);
  }
  if (curE > curS) total += curE - curS;
  return total;
}

/**
 * Runs the query `runs` times in this process: through the query layer built from the proxy's own
 * config (createQueryLayer, asked without a socket), and through the same pieces it wires up
 * (JsonApiTarget per server, FanoutStorage, Engine in prometheus-2 mode) with storage.select
 * timed; then replays each select's downstream request to split it into HTTP, JSON.parse and
 * conversion. Medians over runs. The split measures the JSON-API read path.
 */
export async function breakdown(
  configText: string,
  groups: string[][],
  query: string,
  startMs: number,
  endMs: number,
  stepMs: number,
  runs: number,
): Promise<Breakdown> {
  const layer = createQueryLayer(parseConfigText(configText).query!);
  const layerQs = new URLSearchParams({ query, start: String(startMs / 1000), end: String(endMs / 1000), step: `${stepMs / 1000}s` });
  const targets = groups.map((g) => g.map((a) => new JsonApiTarget({ url: `http://${a}`, timeoutMs: 300_000 })));
  const specs: GroupSpec[] = groups.map((g, i) => ({
    name: `shard-${i}`,
    targets: targets[i],
    targetNames: g,
    antiAffinityMs: 10_000,
    ignoreError: false,
    timeoutMs: 300_000,
  }));
  const fanout = new FanoutStorage(specs, { maxConcurrency: 64 });
  const engine = new Engine({ semantics: 'prometheus-2', lookbackDeltaMs: 300_000, timeoutMs: 300_000 });
  const pools = groups.flat().map((a) => new Pool(`http://${a}`, { connections: 4 }));
  const rows: Breakdown[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const l0 = performance.now();
      const res = await layer.api.request(`/query_range?${layerQs.toString()}`);
      await res.text();
      const layerMs = performance.now() - l0;
      if (res.status !== 200) throw new Error(`in-process query layer: ${query}: HTTP ${res.status}`);

      const calls: SelectCall[] = [];
      const intervals: [number, number][] = [];
      const view = fanout.forQuery().storage;
      const timedStorage: Storage = {
        ...view,
        select: async (matchers, s, e, hints, signal): Promise<Series[]> => {
          calls.push({ matchers, startMs: s, endMs: e });
          const t0 = performance.now();
          try {
            return await view.select(matchers, s, e, hints, signal);
          } finally {
            intervals.push([t0, performance.now()]);
          }
        },
      };
      const t = performance.now();
      await engine.rangeQuery(timedStorage, query, startMs, endMs, stepMs);
      const engineMs = performance.now() - t;
      const selectMs = unionMs(intervals);

      let httpMs = 0;
      let jsonParseMs = 0;
      let toSeriesMs = 0;
      let bytes = 0;
      let samples = 0;
      for (const c of calls) {
        const qs = new URLSearchParams({ query: `${matchersToSelector(c.matchers)}[${c.endMs - c.startMs + 1}ms]`, time: String(c.endMs / 1000) });
        const h0 = performance.now();
        const texts = await Promise.all(
          pools.map(async (p) => {
            const res = await p.request({ method: 'GET', path: `/api/v1/query?${qs.toString()}` });
            return res.body.text();
          }),
        );
        httpMs += performance.now() - h0;
        for (const text of texts) {
          bytes += text.length;
          const p0 = performance.now();
          const body = JSON.parse(text) as { data: unknown };
          const p1 = performance.now();
          const series = parseMatrix(body.data, c.startMs, c.endMs);
          const p2 = performance.now();
          jsonParseMs += p1 - p0;
          toSeriesMs += p2 - p1;
          for (const s of series) samples += s.timestamps.length;
        }
      }
      rows.push({ layerMs, encodeMs: layerMs - engineMs, engineMs, selectMs, evalMs: engineMs - selectMs, httpMs, jsonParseMs, toSeriesMs, bytes, samples });
    }
  } finally {
    await Promise.all([layer.close(), ...targets.flat().map((t) => t.close()), ...pools.map((p) => p.close())]);
  }
  const med = (f: (b: Breakdown) => number): number => median(rows.map(f));
  return {
    layerMs: med((b) => b.layerMs),
    encodeMs: med((b) => b.encodeMs),
    engineMs: med((b) => b.engineMs),
    selectMs: med((b) => b.selectMs),
    evalMs: med((b) => b.evalMs),
    httpMs: med((b) => b.httpMs),
    jsonParseMs: med((b) => b.jsonParseMs),
    toSeriesMs: med((b) => b.toSeriesMs),
    bytes: rows[0].bytes,
    samples: rows[0].samples,
  };
}

/** GET `p` with `params`; the time covers the whole request including reading the body. */
export async function timedGet(base: string, p: string, params: Record<string, string>): Promise<{ ms: number; body: string }> {
  const t = performance.now();
  const res = await request(`${base}${p}?${new URLSearchParams(params).toString()}`);
  const body = await res.body.text();
  return { ms: performance.now() - t, body };
}

/** An instant vector as a matrix of one point per series, for sameAnswer. */
function asMatrix(body: string): string {
  const b = JSON.parse(body) as { data: { resultType: string; result: { metric: Record<string, string>; value?: unknown; values?: unknown[] }[] } };
  if (b.data.resultType !== 'vector') return body;
  b.data.resultType = 'matrix';
  b.data.result = b.data.result.map((s) => ({ metric: s.metric, values: [s.value] }));
  return JSON.stringify(b);
}

/** sameAnswer for any API answer (instant vectors as one-point matrices; scalars and strings byte for byte; errors by status). */
export function sameApiAnswer(refBody: string, gotBody: string): string | undefined {
  const x = JSON.parse(refBody) as { status: string; data?: { resultType: string } };
  const y = JSON.parse(gotBody) as { status: string; data?: { resultType: string } };
  if (x.status !== 'success' || y.status !== 'success') return x.status === y.status ? undefined : `status ${y.status}, expected ${x.status}`;
  if (x.data!.resultType === 'scalar' || x.data!.resultType === 'string') return JSON.stringify(x.data) === JSON.stringify(y.data) ? undefined : 'differs';
  return sameAnswer(asMatrix(refBody), asMatrix(gotBody));
}

/** The 1, 5 and 15 minute load averages, printed with every figure. */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');
export const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
export const fmtX = (x: number): string => `${x.toFixed(2)}×`;
