// The query layer's main correctness suite: ./proxy over real servers answers like one Prometheus 2.42
// holding all the data.
//
// Data: four hours at 15 s (generateReferenceData: counters with resets, gauges, classic histograms,
// a summary, series that start and stop mid-range, NaN samples). A reference Prometheus holds all of
// it. The same series are split over 3 server groups by the sharding core's shard key, each group
// two Prometheus replicas that each miss different stretches of time (long and short, one at the
// very start and one at the very end), so that only the HA merge of a group has all its samples.
//
// Three proxies answer every query of test/support/reference-corpus.ts, as instant queries at
// several times (inside gaps, at the edges) and as range queries over three windows:
//   sharded    ./proxy over the 3 groups of 2 replicas;
//   two-layer  ./proxy whose single group is the sharded proxy (its JSON API as a downstream);
//   vm         ./proxy over one VictoriaMetrics 1.79 holding all the data.
// Results are compared like the promqltest runner compares them (same series, same timestamps,
// values equal within compareSeriesValue's tolerance; errors of the same type).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReferenceData, loadIntoMemory, startBackfilledPrometheus, type BackfillDataSet } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { shardPlacement } from '../../dev/split.js';
import { startBackfilledVictoriaMetrics, type VictoriaMetricsProcess } from '../../dev/victoria-metrics.js';
import { jumpHash, keyBytes } from '../../src/shard/hash.js';
import { walkExpr } from '../../src/promql/ast.js';
import { parseExpr } from '../../src/promql/parser.js';
import type { MemoryStorage } from '../../src/storage/memory.js';
import { CORPUS, T0, T_END, type Case, type Mode } from '../support/reference-corpus.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { REFERENCE_GROUPS as GROUPS, gappedReplicas } from '../support/reference-gaps.js';
import { diffNormalised, fromApiData, isOrdered, keyOf, pointCount as pointsIn, type Normalised } from '../support/normalised-answer.js';

/**
 * Instant-query times (s): the very start (inside shard-0 replica A's opening gap), inside long gaps
 * (shard-0 A at 10 min, shard-0 B at 160 min), inside a two-scrape gap (shard-1 B at 63 min), the
 * very end (inside shard-1 A's and shard-2 B's closing gaps) and the lookback after it.
 */
const INSTANT_TIMES = [T0, T0 + 10 * 60, T0 + 63 * 60 + 20, T0 + 160 * 60, T_END, T_END + 240];
/** Range-query windows (s). */
const RANGES = [
  { start: T0 - 300, end: T_END + 300, step: 60 },
  { start: T0 + 35 * 60, end: T0 + 70 * 60, step: 15 },
  { start: T_END - 40 * 60, end: T_END + 120, step: 37 },
];

// ---------------------------------------------------------------------------------------------------
// Normalised answers and their differences

type NError = { kind: 'error'; errorType: string; error: string };
type Answer = (Normalised | NError) & { warnings?: string[] };

async function ask(base: string, path: string, params: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${base}${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  const warnings = body.warnings as string[] | undefined;
  if (body.status !== 'success') return { kind: 'error', errorType: String(body.errorType), error: String(body.error), warnings };
  return { ...fromApiData(body.data), warnings };
}

/** Differences of `got` from the reference's `want`, one line each; empty when they agree. */
function diff(want: Answer, got: Answer, ordered: boolean): string[] {
  const out: string[] = [];
  // Any warning of the proxy's own (a server group or target failing) is a difference. PromQL
  // annotations are not: the engine emits those of later Prometheus versions (2.45+), 2.42 has none.
  const own = (got.warnings ?? []).filter((w) => !/^PromQL (warning|info): /.test(w));
  if (own.length > 0) out.push(`unexpected warnings: ${own.join('; ')}`);
  if (want.kind === 'error' || got.kind === 'error') {
    if (want.kind !== 'error') return [...out, `proxy failed (${(got as NError).errorType}: ${(got as NError).error}), reference answered a ${want.kind}`];
    if (got.kind !== 'error') return [...out, `proxy answered a ${got.kind}, reference failed (${want.errorType}: ${want.error})`];
    if (got.errorType !== want.errorType) out.push(`error type ${got.errorType} (${got.error}), reference ${want.errorType} (${want.error})`);
    return out;
  }
  return [...out, ...diffNormalised(want, got, ordered, { want: 'reference', got: 'proxy' })];
}

function pointCount(a: Answer): number {
  return a.kind === 'error' ? 0 : pointsIn(a);
}

interface Evaluation {
  what: string;
  path: string;
  params: Record<string, string>;
}

function evaluations(c: Case, mode: Mode): Evaluation[] {
  if (mode === 'instant') {
    return INSTANT_TIMES.map((t) => ({
      what: `instant at ${t} (${new Date(t * 1000).toISOString()})`,
      path: '/api/v1/query',
      params: { query: c.q, time: String(t) },
    }));
  }
  return RANGES.map((r) => ({
    what: `range ${new Date(r.start * 1000).toISOString()}..${new Date(r.end * 1000).toISOString()} step ${r.step}s`,
    path: '/api/v1/query_range',
    params: { query: c.q, start: String(r.start), end: String(r.end), step: String(r.step) },
  }));
}

// ---------------------------------------------------------------------------------------------------
// The topology

let data: BackfillDataSet;
let memory: MemoryStorage;
let reference: PrometheusProcess;
let groupData: BackfillDataSet[] = [];
/** [group][replica] */
let replicaData: BackfillDataSet[][] = [];
let replicas: PrometheusProcess[][] = [];
let vm: VictoriaMetricsProcess;
let sharded: ProxyProcess;
let twoLayer: ProxyProcess;
let overVm: ProxyProcess;

const referenceAnswers = new Map<string, Promise<Answer>>();
function referenceAnswer(e: Evaluation): Promise<Answer> {
  const key = `${e.path}?${new URLSearchParams(e.params).toString()}`;
  let p = referenceAnswers.get(key);
  if (!p) {
    p = ask(reference.url, e.path, e.params);
    referenceAnswers.set(key, p);
  }
  return p;
}

/**
 * Why a query cannot be answered exactly through VictoriaMetrics 1.79, or undefined: it reads series
 * with NaN samples, which VictoriaMetrics drops at ingestion (see docs/victoriametrics.md).
 */
async function vmRestriction(c: Case): Promise<string | undefined> {
  const selectors: Parameters<MemoryStorage['select']>[0][] = [];
  walkExpr(parseExpr(c.q), (e) => {
    if (e.type === 'VectorSelector') selectors.push(e.matchers);
  });
  for (const m of selectors) {
    for (const s of await memory.select(m, -Infinity, Infinity)) {
      if (s.values.some((v) => Number.isNaN(v))) return 'reads series with NaN samples, which VictoriaMetrics 1.79 drops at ingestion';
    }
  }
  return undefined;
}

async function startAll(): Promise<void> {
  data = generateReferenceData();
  memory = loadIntoMemory(data);
  ({ groups: groupData, replicas: replicaData } = await gappedReplicas(data));
  const proms = startBackfilledPrometheus;
  const [ref, vmProc, ...reps] = await Promise.all([proms(data), startBackfilledVictoriaMetrics(data), ...replicaData.flat().map(proms)]);
  reference = ref;
  vm = vmProc;
  replicas = replicaData.map((_, gi) => reps.slice(2 * gi, 2 * gi + 2));

  const groupsYaml = replicas
    .map(
      (rs, gi) => `
    - name: shard-${gi}
      static_configs: [{targets: [${rs.map((r) => `"127.0.0.1:${r.port}"`).join(', ')}]}]
      anti_affinity: 10s`,
    )
    .join('');
  const single = (name: string, port: number): string => `
    - name: ${name}
      static_configs: [{targets: ["127.0.0.1:${port}"]}]`;
  const config = (groups: string) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:${groups}
`;
  sharded = await startProxy(config(groupsYaml));
  [twoLayer, overVm] = await Promise.all([startProxy(config(single('sharded-proxy', sharded.port))), startProxy(config(single('victoria-metrics', vm.port)))]);
}

// ---------------------------------------------------------------------------------------------------

interface Stats {
  cases: number;
  /** Wall time spent in this downstream's cases, by mode. */
  ms: Record<Mode, number>;
  evaluations: number;
  points: number;
  restricted: string[];
  emptyEverywhere: string[];
}

interface Downstream {
  name: string;
  /** Tag in messages. */
  short: string;
  proxy: () => ProxyProcess;
  /** Why a case cannot be compared exactly on this downstream (printed, never silent). */
  restriction?: (c: Case) => Promise<string | undefined>;
  stats: Stats;
}

const DOWNSTREAMS: Downstream[] = [
  { name: 'sharded: 3 groups of 2 gappy Prometheus replicas', short: 'sharded', proxy: () => sharded, stats: newStats() },
  { name: 'two-layer: a proxy over the sharded proxy', short: 'two-layer', proxy: () => twoLayer, stats: newStats() },
  { name: 'vm: a proxy over VictoriaMetrics 1.79', short: 'vm', proxy: () => overVm, restriction: vmRestriction, stats: newStats() },
];

function newStats(): Stats {
  return { cases: 0, ms: { instant: 0, range: 0 }, evaluations: 0, points: 0, restricted: [], emptyEverywhere: [] };
}

/** Runs `c` on one downstream's proxy; one block of text per evaluation that differs from the reference. */
async function compareOn(ds: Downstream, c: Case, mode: Mode, evals: Evaluation[]): Promise<string[]> {
  ds.stats.cases++;
  const began = Date.now();
  const why = ds.restriction ? await ds.restriction(c) : undefined;
  if (why !== undefined) {
    ds.stats.restricted.push(`${mode}: ${c.q}`);
    console.log(`query-reference [${ds.short}] not compared: ${mode} ${c.q}: ${why}`);
    return [];
  }
  const problems: string[] = [];
  let points = 0;
  let refErrors = 0;
  await Promise.all(
    evals.map(async (e) => {
      const [want, got] = await Promise.all([referenceAnswer(e), ask(ds.proxy().url, e.path, e.params)]);
      if (want.kind === 'error') refErrors++;
      points += pointCount(want);
      const d = diff(want, got, mode === 'instant' && isOrdered(c.q));
      if (d.length > 0) problems.push(`[${ds.short}] ${e.what}:\n  ${d.slice(0, 12).join('\n  ')}${d.length > 12 ? `\n  … ${d.length - 12} more` : ''}`);
    }),
  );
  if (c.fails && refErrors === 0) problems.push(`[${ds.short}] the reference never failed (the corpus says it should fail)`);
  ds.stats.evaluations += evals.length;
  ds.stats.ms[mode] += Date.now() - began;
  ds.stats.points += points;
  if (points === 0 && !c.fails) ds.stats.emptyEverywhere.push(`${mode}: ${c.q}`);
  return problems;
}

const startedAt = Date.now();
const CORPUS_CASES = CORPUS.reduce((n, c) => n + (c.modes ?? ['instant', 'range']).length, 0);

describe('query layer against a reference Prometheus 2.42', () => {
  beforeAll(async () => {
    await startAll();
    console.log(`query-reference: topology up in ${Date.now() - startedAt} ms (${data.seriesCount} series, ${data.sampleCount} samples)`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([sharded, twoLayer, overVm].filter(Boolean).map((p) => p.stop()));
    await Promise.all([reference, vm, ...replicas.flat()].filter(Boolean).map((p) => p.stop()));
  });

  it('the sharding core spreads the series over all groups and keeps each histogram and summary child on one', async () => {
    const placement = await shardPlacement(data, GROUPS);
    const childGroups = new Map<string, Set<number>>();
    data.families.forEach((f, fi) =>
      f.series.forEach((s, si) => {
        const { __name__: name, le: _le, quantile: _q, ...rest } = s.labels;
        const child = `${f.name} ${keyOf(rest)}`;
        expect(name.startsWith(f.name)).toBe(true);
        (childGroups.get(child) ?? childGroups.set(child, new Set()).get(child)!).add(placement[fi][si]);
      }),
    );
    for (const [child, groups] of childGroups) expect(groups.size, child).toBe(1);
    // The same placement from the key as docs/sharding.md defines it: jump_hash(xxh64(family
    // (0xFF name 0xFF value)* over the labels sorted by name, without __name__, le and quantile)).
    data.families.forEach((f, fi) =>
      f.series.forEach((s, si) => {
        keyBytes.reset();
        keyBytes.add(f.name);
        for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (name === '__name__' || name === 'le' || name === 'quantile' || value === '') continue;
          keyBytes.separator();
          keyBytes.add(name);
          keyBytes.separator();
          keyBytes.add(value);
        }
        const [hi, lo] = keyBytes.hash();
        expect(placement[fi][si], JSON.stringify(s.labels)).toBe(jumpHash(hi, lo, GROUPS));
      }),
    );
    expect(groupData.map((g) => g.seriesCount).reduce((a, b) => a + b)).toBe(data.seriesCount);
    for (const g of groupData) expect(g.seriesCount).toBeGreaterThan(data.seriesCount / 6);
  });

  it('each replica misses samples; the replicas of a group together hold all of its samples', async () => {
    // Counted by the servers themselves: every sample of the 4 h is inside a [4h] window ending at T_END
    // (Prometheus 2 windows are closed at both ends).
    const total = async (p: PrometheusProcess): Promise<number> => {
      const r = (await p.query('{__name__=~".+"}[4h]', T_END)) as { values: unknown[] }[];
      return r.reduce((n, s) => n + s.values.length, 0);
    };
    expect(await total(reference)).toBe(data.sampleCount);
    for (let g = 0; g < GROUPS; g++) {
      const [a, b] = await Promise.all(replicas[g].map(total));
      expect(a).toBe(replicaData[g][0].sampleCount);
      expect(b).toBe(replicaData[g][1].sampleCount);
      expect(a).toBeLessThan(groupData[g].sampleCount);
      expect(b).toBeLessThan(groupData[g].sampleCount);
      // Gaps of the two replicas never overlap: each sample is missing from at most one of them.
      expect(a + b).toBeGreaterThan(groupData[g].sampleCount);
      for (const [fi, f] of groupData[g].families.entries()) {
        for (const [si, s] of f.series.entries()) {
          const seen = new Set<number>();
          for (const r of replicaData[g]) {
            const rs = r.families.find((x) => x.name === f.name)?.series.find((x) => keyOf(x.labels) === keyOf(s.labels));
            for (const t of rs?.timestamps ?? []) seen.add(t);
          }
          expect(seen.size, `group ${g} family ${fi} series ${si}`).toBe(s.timestamps.length);
        }
      }
    }
  });

  // One test per query and mode; each evaluation asks the reference once and the three proxies at
  // the same time, so the servers' work overlaps on both cores.
  for (const c of CORPUS) {
    for (const mode of c.modes ?? (['instant', 'range'] as Mode[])) {
      it(`${mode}: ${c.q}`, async () => {
        const evals = evaluations(c, mode);
        const perDownstream = await Promise.all(DOWNSTREAMS.map((ds) => compareOn(ds, c, mode, evals)));
        const problems = perDownstream.flat();
        expect(problems, `${mode} ${c.q}\n${problems.join('\n')}`).toEqual([]);
      });
    }
  }

  it('compared real data, not just empty answers, on every downstream', () => {
    for (const ds of DOWNSTREAMS) {
      const s = ds.stats;
      console.log(
        `query-reference [${ds.short}]: ${s.cases} cases, ${s.evaluations} evaluations, ${s.points} reference points compared ` +
          `(instant ${(s.ms.instant / 1000).toFixed(1)} s, range ${(s.ms.range / 1000).toFixed(1)} s); ` +
          `not compared: ${s.restricted.length}; empty everywhere: ${s.emptyEverywhere.length === 0 ? 'none' : s.emptyEverywhere.join('; ')}`,
      );
    }
    console.log(`query-reference: ${Date.now() - startedAt} ms in all`);
    for (const ds of DOWNSTREAMS) {
      const s = ds.stats;
      if (s.cases < CORPUS_CASES) return; // a filtered run (-t) proves nothing here
      expect(s.points, ds.name).toBeGreaterThan(100_000);
      expect(s.emptyEverywhere.length, ds.name).toBeLessThanOrEqual(6);
      expect(s.restricted.length, ds.name).toBeLessThanOrEqual(20);
    }
  });
});
