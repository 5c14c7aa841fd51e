// A rule group's round evaluated on the engine where the query layer lives (src/rules/round.ts):
// each answer equals the same query evaluated alone over the fan-out (as the query API would answer
// it), identical reads of the round reach the downstreams once, every rule gets the warnings of
// the reads it used (shared or not), scalars become one sample, other result types and failing
// groups are the rule's error, and a rule past its deadline times out without holding up the rest.

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { Engine } from '../../../src/promql/engine.js';
import { evaluateRound } from '../../../src/rules/round.js';
import type { RuleAnswer } from '../../../src/capability.js';
import { labelsKey, labelsToString } from '../../../src/model/labels.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { SelectHints, Series, Storage } from '../../../src/storage/interface.js';
import { QUERY_TIMEOUT_MESSAGE } from '../../../src/errors.js';

const T = 600_000;

/** One shard's data: requests per job, pod and code, a sample every 15 s over the last 10 minutes. */
function shard(jobs: string[]): MemoryStorage {
  const m = new MemoryStorage();
  for (const job of jobs) {
    for (const pod of ['p0', 'p1']) {
      for (const code of ['200', '500']) {
        for (let t = 0; t <= T; t += 15_000) m.add({ __name__: 'http_requests_total', job, pod, code }, t, (t / 1000) * (code === '200' ? 10 : 1) + pod.length);
      }
    }
  }
  return m;
}

/** A downstream that counts its selects (by matchers and range) and can be made to fail or hang. */
function counted(inner: Storage, mode: 'ok' | 'fail' | 'hang' = 'ok'): Storage & { reads: string[] } {
  const s = {
    reads: [] as string[],
    select: async (m: Parameters<Storage['select']>[0], start: number, end: number, h?: SelectHints, sig?: AbortSignal): Promise<Series[]> => {
      s.reads.push(`${m.map((x) => `${x.name}${x.type}${x.value}`).join(',')}@${start}-${end}`);
      if (mode === 'fail') throw new Error('connection refused');
      if (mode === 'hang') await new Promise((_, reject) => sig?.addEventListener('abort', () => reject(sig.reason)));
      return inner.select(m, start, end, h, sig);
    },
    labelNames: inner.labelNames.bind(inner),
    labelValues: inner.labelValues.bind(inner),
  };
  return s;
}

function group(name: string, target: Storage, ignoreError = false): GroupSpec {
  return { name, targets: [target], targetNames: [`${name}-0`], antiAffinityMs: 5_000, ignoreError };
}

const engine = new Engine({ semantics: 'prometheus-2' });

/** The answer the query API would give for one query alone: a fresh view, storage warnings first. */
async function alone(f: FanoutStorage, expr: string): Promise<{ vector: string[]; warnings: string[] }> {
  const v = f.forQuery();
  const out = await engine.instantQuery(v.storage, expr, T);
  const r = out.result;
  const vector = r.resultType === 'scalar' ? [`{} ${r.v}`] : r.resultType === 'vector' ? r.result.map((s) => `${labelsToString(s.labels)} ${s.v}`) : [];
  return { vector, warnings: [...v.warnings, ...out.warnings] };
}

function shown(a: RuleAnswer): { vector: string[]; warnings: string[] } | { error: string } {
  if ('error' in a) return { error: a.error };
  return { vector: a.vector.map((s) => `${labelsToString(s.labels)} ${s.v}`), warnings: a.warnings };
}

const EXPRS = [
  'sum by (pod) (rate(http_requests_total{job="a"}[1m]))',
  'sum by (code) (rate(http_requests_total{job="a"}[1m]))',
  'sum(rate(http_requests_total{job="a",code="500"}[1m])) / sum(rate(http_requests_total{job="a"}[1m]))',
  'max by (pod) (http_requests_total{job="a"})',
  'sum(rate(http_requests_total{job="b"}[1m])) > 0',
  'scalar(sum(http_requests_total{job="b",pod="p0"}))',
  'vector(1)',
];

describe('a rule round evaluated where the query layer lives', () => {
  it('answers each rule as its query alone would be answered, reading each distinct selection once', async () => {
    const a = counted(shard(['a']));
    const b = counted(shard(['b']));
    const f = new FanoutStorage([group('ga', a), group('gb', b)], { maxConcurrency: 4 });
    // What the round asks of the fan-out (below it, reads running at once share a target's request too).
    const asked: string[] = [];
    const view = () => {
      const v = f.forQuery();
      const select = v.storage.select.bind(v.storage);
      v.storage.select = (m, start, end, h, sig) => {
        asked.push(`${m.map((x) => `${x.name}${x.type}${x.value}`).join(',')}@${start}-${end}`);
        return select(m, start, end, h, sig);
      };
      return v;
    };
    const answers = await evaluateRound({ timeMs: T, exprs: EXPRS }, { engine, view, timeoutMs: 10_000 });
    const targetReads = a.reads.length;
    const expected = [];
    for (const e of EXPRS) expected.push(await alone(f, e));
    expect(answers.map(shown)).toEqual(expected);
    expect(answers.every((x) => 'seconds' in x && x.seconds >= 0)).toBe(true);
    // job="a" over [T-1m, T] asked once for three rules, with code="500" once, and over the lookback once.
    expect(asked.sort()).toEqual(
      [
        `job=a,__name__=http_requests_total@${T - 60_000}-${T}`,
        `job=a,code=500,__name__=http_requests_total@${T - 60_000}-${T}`,
        `job=a,__name__=http_requests_total@${T - 300_000}-${T}`,
        `job=b,__name__=http_requests_total@${T - 60_000}-${T}`,
        `job=b,pod=p0,__name__=http_requests_total@${T - 300_000}-${T}`,
      ].sort(),
    );
    expect(targetReads).toBeLessThanOrEqual(asked.length);
    // A scalar rule gives one sample without labels, as Prometheus's rule query function does.
    const sc = answers[5];
    expect('vector' in sc && sc.vector.length === 1 && labelsKey(sc.vector[0].labels) === labelsKey([])).toBe(true);
  });

  it('gives every rule the warnings of the reads it used, also when another rule made the read', async () => {
    const a = counted(shard(['a']));
    const down = counted(shard(['a']), 'fail');
    const f = new FanoutStorage([group('ga', a), group('gdown', down, true)], { maxConcurrency: 4 });
    const exprs = ['sum(rate(http_requests_total{job="a"}[1m]))', 'count(rate(http_requests_total{job="a"}[1m]))', 'vector(1)'];
    const answers = (await evaluateRound({ timeMs: T, exprs }, { engine, view: () => f.forQuery(), timeoutMs: 10_000 })).map(shown);
    expect(down.reads).toHaveLength(1);
    const w = (answers[0] as { warnings: string[] }).warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toBe('server group "gdown" failed: target "gdown-0": connection refused');
    expect((answers[1] as { warnings: string[] }).warnings).toEqual(w);
    expect(answers[2]).toEqual({ vector: ['{} 1'], warnings: [] });
    expect(answers[0]).toEqual(await alone(f, exprs[0]));
  });

  it("makes a failing group, a result that is not a vector or scalar, and a rule past its deadline that rule's error only", async () => {
    const a = counted(shard(['a']));
    const hung = counted(shard(['h']), 'hang');
    const down = counted(shard(['d']), 'fail');
    const f = new FanoutStorage([group('ga', a), group('gh', hung), group('gd', down)], { maxConcurrency: 4 });
    const exprs = ['sum(rate(http_requests_total{job="a"}[1m]))', 'http_requests_total{job="a"}[1m]', '"text"'];
    // Every group is asked for every selector: gh hangs, gd fails. Without gh and gd the round answers.
    const ok = new FanoutStorage([group('ga', a)], { maxConcurrency: 4 });
    const good = await evaluateRound({ timeMs: T, exprs }, { engine, view: () => ok.forQuery(), timeoutMs: 10_000 });
    expect(shown(good[0])).toEqual(await alone(ok, exprs[0]));
    expect(shown(good[1])).toEqual({ error: 'rule result is not a vector or scalar' });
    expect(shown(good[2])).toEqual({ error: 'rule result is not a vector or scalar' });

    const failing = new FanoutStorage([group('ga', a), group('gd', down)], { maxConcurrency: 4 });
    const [failed] = await evaluateRound({ timeMs: T, exprs: [exprs[0]] }, { engine, view: () => failing.forQuery(), timeoutMs: 10_000 });
    expect('error' in failed && failed.error).toBe('server group "gd" failed: target "gd-0": connection refused');

    // gh never answers: only the deadline ends the first rule; the second is answered all the same.
    const [slow, quick] = await evaluateRound({ timeMs: T, exprs: [exprs[0], 'vector(2)'] }, { engine, view: () => f.forQuery(), timeoutMs: 200 });
    expect(shown(slow)).toEqual({ error: QUERY_TIMEOUT_MESSAGE });
    expect(shown(quick)).toEqual({ vector: ['{} 2'], warnings: [] });
  });
});
