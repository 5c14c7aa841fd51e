// The default whole-query pushdown (docs/pushdown.md, "Whole queries"): ./proxy with one server
// group of one real Prometheus 2.42 and no `pushdown` setting sends whole queries to it once the
// server says it is Prometheus 2 with our lookback delta, and every answer of the reference corpus
// equals both Prometheus's own and the raw path's (the same proxy with `pushdown: false`). A proxy
// whose semantics (prometheus-3, the default) do not match the server keeps the raw path, and range
// queries whose answer is as large as the samples they read keep reading raw samples unless the
// answer passes on verbatim (as the server wrote it, which is what the engine would write).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReferenceData, startBackfilledPrometheus } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { askApi, sameData, type Answer } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { CORPUS, T0, T_END, type Case } from '../support/reference-corpus.js';

const INSTANT_TIMES = [T0 + 150 * 60 + 20];
const RANGE = { start: T0 - 300, end: T_END + 300, step: 120 };

let reference: PrometheusProcess;
let auto: ProxyProcess;
let raw: ProxyProcess;
let p3: ProxyProcess;
let uncached: ProxyProcess;

const config = (extra: string, semantics?: string) => (listen: string) => `
listen: ${listen}
log_level: warn
query:${semantics === undefined ? '' : `\n  semantics: ${semantics}`}
  server_groups:
    - name: one
      static_configs: [{targets: ["127.0.0.1:${reference.port}"]}]${extra}
`;

function evaluations(c: Case): { what: string; path: string; params: Record<string, string> }[] {
  const modes = c.modes ?? ['instant', 'range'];
  const out = [];
  if (modes.includes('instant')) {
    for (const t of INSTANT_TIMES) out.push({ what: `instant at ${t}`, path: '/api/v1/query', params: { query: c.q, time: String(t) } });
  }
  if (modes.includes('range')) {
    out.push({
      what: 'range',
      path: '/api/v1/query_range',
      params: { query: c.q, start: String(RANGE.start), end: String(RANGE.end), step: String(RANGE.step) },
    });
  }
  return out;
}

/** What differs between two answers: data within the PromQL tests' tolerance, or the error type. */
function differ(want: Answer, got: Answer): string | undefined {
  if (want.body.status !== 'success' || got.body.status !== 'success') {
    return want.body.errorType === got.body.errorType && want.status === got.status
      ? undefined
      : `${got.status} ${got.body.errorType ?? 'success'} (${got.body.error ?? ''}), expected ${want.status} ${want.body.errorType ?? 'success'} (${want.body.error ?? ''})`;
  }
  const [a, b] = [want.body.data!, got.body.data!];
  if (a.resultType === 'scalar' || a.resultType === 'string')
    return JSON.stringify(a) === JSON.stringify(b) ? undefined : `${JSON.stringify(b)}, expected ${JSON.stringify(a)}`;
  return sameData(want.body, got.body);
}

const pushedQueries = async (p: ProxyProcess, outcome: string): Promise<number> => {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const m = new RegExp(`^promfront_query_pushdown_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
};

describe('one group of one Prometheus 2.42, default config', () => {
  beforeAll(async () => {
    reference = await startBackfilledPrometheus(generateReferenceData());
    // One after the other: three Node processes starting at once on a busy 2-core machine can
    // take longer than startProxy's wait.
    auto = await startProxy(config('', 'prometheus-2'));
    raw = await startProxy(config('\n      pushdown: false', 'prometheus-2'));
    p3 = await startProxy(config(''));
    uncached = await startProxy(config('\n  results_cache: {enabled: false}', 'prometheus-2'));
  }, 180_000);
  afterAll(async () => {
    await Promise.all([auto, raw, p3, uncached].filter(Boolean).map((p) => p.stop()));
    await reference?.stop();
  });

  it('answers the whole reference corpus as Prometheus does and as the raw path does, pushing whole queries', async () => {
    const problems: string[] = [];
    let evaluated = 0;
    const queue = CORPUS.flatMap((c) => evaluations(c).map((e) => ({ c, e })));
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const { c, e } = job;
        const [want, viaAuto, viaRaw] = await Promise.all([reference, auto, raw].map((p) => askApi(p.url, e.path, e.params, { timeoutMs: 30_000 })));
        evaluated++;
        const d1 = differ(want, viaAuto);
        if (d1 !== undefined) problems.push(`${c.q} ${e.what}: default vs Prometheus: ${d1}`);
        const d2 = differ(viaRaw, viaAuto);
        if (d2 !== undefined) problems.push(`${c.q} ${e.what}: default vs raw path: ${d2}`);
        // The server's own warnings come with a pushed answer (2.42 warns rarely; none in this corpus).
        if (want.body.status === 'success' && (want.body.warnings ?? []).length > 0) {
          expect([...(viaAuto.body.warnings ?? [])].sort()).toEqual([...want.body.warnings!].sort());
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(evaluated).toBe(CORPUS.reduce((n, c) => n + (c.modes ?? ['instant', 'range']).length, 0));
    // Most of the corpus is vector queries with a selector: those went to the server whole.
    const pushed = (await pushedQueries(auto, 'pushed_query')) + (await pushedQueries(auto, 'pushed_query_verbatim'));
    expect(pushed).toBeGreaterThan(evaluated / 2);
    expect(await pushedQueries(auto, 'unverified')).toBe(0);
    // Range queries whose answer is as large as their input (bare selectors, element-wise
    // functions) read raw samples through remote read instead of JSON points: the results cache
    // (on by default) evaluates and stores range answers piecewise, so they are decoded here.
    expect(await pushedQueries(auto, 'binary_reads')).toBeGreaterThan(0);
    expect(await pushedQueries(raw, 'pushed_query')).toBe(0);
    expect(await pushedQueries(raw, 'pushed_query_verbatim')).toBe(0);
    expect(await pushedQueries(raw, 'disabled')).toBeGreaterThan(0);
  }, 240_000);

  it("passes pushed answers on verbatim, byte for byte what the engine path writes (and Prometheus's bytes), without the results cache", async () => {
    // With `stats` the answer is evaluated and encoded here (counting samples needs the reads, so
    // nothing is pushed): the engine path. Cut out, the rest must be the same bytes as the answer
    // passed on without `stats`, or Prometheus's own bytes where our math functions differ from
    // Go's in the last bit.
    const statsMember = /,"stats":\{"timings":\{[^}]*\},"samples":\{[^}]*\}\}/;
    const problems: string[] = [];
    let same = 0;
    let successes = 0;
    const queue = CORPUS.flatMap((c) => evaluations(c).map((e) => ({ c, e })));
    const text = async (base: string, path: string, params: Record<string, string>): Promise<string> =>
      (await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`)).text();
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const { c, e } = job;
        const [want, verbatim, encoded] = await Promise.all([
          text(reference.url, e.path, e.params),
          text(uncached.url, e.path, e.params),
          text(uncached.url, e.path, { ...e.params, stats: 'all' }),
        ]);
        if (!verbatim.startsWith('{"status":"success"')) continue;
        successes++;
        if (verbatim === want) same++;
        const engine = encoded.replace(statsMember, '');
        const ok = engine === verbatim || want === verbatim;
        if (!ok) problems.push(`${c.q} ${e.what}: ${verbatim.slice(0, 200)} vs ${engine.slice(0, 200)}`);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(problems.slice(0, 10)).toEqual([]);
    // Most answers are Prometheus's own bytes (instant vectors it did not sort are sorted here).
    expect(same).toBeGreaterThan(successes * 0.8);
    // Without the results cache, range queries as large as their input are pushed too (their
    // answer is never decoded here); the requests with `stats` (as many again) are never pushed.
    const verbatimCount = await pushedQueries(uncached, 'pushed_query_verbatim');
    expect(verbatimCount).toBeGreaterThan(successes * 0.8);
    expect(verbatimCount + (await pushedQueries(uncached, 'pushed_query'))).toBeLessThanOrEqual(successes);
  }, 240_000);

  it('keeps the raw path when the server is not the Prometheus that query.semantics names', async () => {
    const params = { query: 'sum by (job) (rate(http_requests_total[5m]))', start: String(T0 + 600), end: String(T_END), step: '60' };
    const [want, got] = await Promise.all([raw, p3].map((p) => askApi(p.url, '/api/v1/query_range', params, { timeoutMs: 30_000 })));
    expect(want.body.data?.result.length).toBeGreaterThan(0);
    expect(sameData(want.body, got.body)).toBeUndefined();
    expect(await pushedQueries(p3, 'unverified')).toBeGreaterThan(0);
    expect(await pushedQueries(p3, 'pushed_query')).toBe(0);
    // The identity is asked once per refresh, not per query.
    const metrics = await (await fetch(`${p3.url}/metrics`)).text();
    const asked = /^promfront_query_downstream_requests_total\{[^}]*endpoint="status_buildinfo"[^}]*\} (\d+)/m.exec(metrics);
    expect(asked?.[1], metrics).toBe('1');
  });
});
