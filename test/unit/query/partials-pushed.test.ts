// Per-group partial aggregates pushed to the groups' servers (src/query/partials/pushed.ts,
// FanoutStorage.evaluatePartials): each fake server is our own engine over its group's series (a
// server "evaluating PromQL as we do"), and the engine through the fan-out with pushed partials must
// answer as the engine over all series. Then every case that must not push: a series in two groups,
// an unverified server, a refusal, a matcher on a group label, max_samples, `stats`.

import { describe, expect, it } from 'vitest';
import { prng } from '../../../dev/backfill.js';
import { Engine } from '../../../src/promql/engine.js';
import { compareSeriesValue } from '../../../src/promql/promqltest/testfile.js';
import { FanoutStorage, type GroupSpec, type PushdownOutcome } from '../../../src/query/fanout.js';
import type { ServerIdentity } from '../../../src/query/downstream/server-identity.js';
import { PushedPartials } from '../../../src/query/partials/pushed.js';
import { planPartials } from '../../../src/query/partials/plan.js';
import { parseExpr } from '../../../src/promql/parser.js';
import type { AggregateExpr } from '../../../src/promql/ast.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { PushdownRequest, PushdownResult, Storage } from '../../../src/storage/interface.js';
import { labelsFromRecord, labelsKey, type Labels } from '../../../src/model/labels.js';
import { DownstreamApiError } from '../../../src/errors.js';

const P2: ServerIdentity = { version: '2.42.0', major: 2, lookbackDeltaMs: 300_000, maxSamples: 50_000_000 };
const engine = new Engine({ semantics: 'prometheus-2' });
const [START, END, STEP] = [600_000, 3600_000, 30_000];

/** A server holding one group's series: it evaluates with our engine, as a verified Prometheus would. */
function server(id: ServerIdentity | undefined = P2) {
  const s = Object.assign(new MemoryStorage(), {
    evaluated: 0,
    refuse: false,
    async evaluate(req: PushdownRequest): Promise<PushdownResult> {
      s.evaluated++;
      if (s.refuse) throw new DownstreamApiError('t', 'bad_data', 'refused here', 'api_error', 422);
      if (req.stepMs === 0) {
        const r = (await engine.instantQuery(s, req.query, req.startMs)).result;
        if (r.resultType !== 'vector') throw new Error(r.resultType);
        return { series: r.result.map((x) => ({ labels: x.labels, timestamps: Float64Array.of(x.t), values: Float64Array.of(x.v) })) };
      }
      const r = (await engine.rangeQuery(s, req.query, req.startMs, req.endMs, req.stepMs)).result;
      if (r.resultType !== 'matrix') throw new Error(r.resultType);
      return { series: r.result.map((x) => ({ labels: x.labels, timestamps: Float64Array.from(x.timestamps), values: Float64Array.from(x.values) })) };
    },
    identity: (): Promise<ServerIdentity | undefined> => Promise.resolve(id),
    // Raw samples come as binary: pushed partials still pay (their answers are small).
    readsBinarySamples: () => true,
  });
  return s;
}

type Server = ReturnType<typeof server>;

/** n series of x split at random over the servers; `all` holds them all, with the groups' labels added. */
function fill(seed: number, n: number, servers: Server[], groupLabels: Record<string, string>[] = []): MemoryStorage {
  const rnd = prng(seed);
  const all = new MemoryStorage();
  for (let i = 0; i < n; i++) {
    const own: Record<string, string> = { __name__: 'x', job: `j${i % 3}`, instance: `i${i}`, le: ['0.5', '1', '+Inf'][Math.floor(i / 3) % 3] };
    // A few series carry their own value of the group label (theirs wins on the raw path).
    if (i % 7 === 0) own.shard = 'own';
    const g = Math.floor(rnd() * servers.length);
    const withGroup = labelsFromRecord({ ...groupLabels[g], ...own });
    let v = rnd() * 100;
    for (let t = 0; t <= END; t += 15_000) {
      if (rnd() < 0.1) continue;
      v += rnd() < 0.01 ? -v : rnd() * 10;
      servers[g].add(labelsFromRecord(own), t, v);
      all.add(withGroup, t, v);
    }
  }
  return all;
}

function spec(name: string, s: Server, extra: Partial<GroupSpec> = {}): GroupSpec {
  return {
    name,
    targets: [s],
    targetNames: [name],
    antiAffinityMs: 10_000,
    ignoreError: false,
    autoPushdown: { major: 2, lookbackDeltaMs: 300_000, maxSamples: 50_000_000 },
    ...extra,
  };
}

function pushedStorage(f: FanoutStorage, maxSamples = 50_000_000): Storage {
  const v = f.forQuery();
  const pushed = new PushedPartials({
    evaluatePartials: (req, signal) => f.evaluatePartials(req, signal),
    groupsFor: (m) => f.groupsFor(m),
    count: (o) => f.pushdownOutcomes.set(o, (f.pushdownOutcomes.get(o) ?? 0) + 1),
    maxSamples,
    lookbackDeltaMs: 300_000,
  });
  return {
    ...v.storage,
    aggregate: async (req, signal) => {
      const a = await pushed.aggregate(req, v.warnings, signal);
      return a === 'raw' ? undefined : a;
    },
  };
}

async function expectSame(want: Storage, got: Storage, q: string): Promise<void> {
  const w = (await engine.rangeQuery(want, q, START, END, STEP)).result;
  const g = (await engine.rangeQuery(got, q, START, END, STEP)).result;
  if (w.resultType !== 'matrix' || g.resultType !== 'matrix') throw new Error('not a matrix');
  expect(
    g.result.map((s) => labelsKey(s.labels)),
    q,
  ).toEqual(w.result.map((s) => labelsKey(s.labels)));
  let points = 0;
  for (const [k, s] of w.result.entries()) {
    expect(g.result[k].timestamps).toEqual(s.timestamps);
    for (let i = 0; i < s.values.length; i++)
      expect(compareSeriesValue(s.values[i], g.result[k].values[i]), `${q} ${labelsKey(s.labels)} @${s.timestamps[i]}`).toBe(true);
    points += s.values.length;
  }
  expect(points, q).toBeGreaterThan(50);
  // Instant, at a step and between steps.
  for (const t of [END, START + 7_000]) {
    const wi = (await engine.instantQuery(want, q, t)).result;
    const gi = (await engine.instantQuery(got, q, t)).result;
    if (wi.resultType !== 'vector' || gi.resultType !== 'vector') throw new Error('not a vector');
    expect(gi.result.map((s) => labelsKey(s.labels))).toEqual(wi.result.map((s) => labelsKey(s.labels)));
    for (const [k, s] of wi.result.entries()) expect(compareSeriesValue(s.v, gi.result[k].v), `${q} @${t}`).toBe(true);
  }
}

/** The fan-out's pushdown decisions, without the whole-query and per-series ones the engine also asks for. */
const outcomes = (f: FanoutStorage): Partial<Record<PushdownOutcome, number>> =>
  Object.fromEntries([...f.pushdownOutcomes].filter(([o]) => o !== 'several_groups' && o !== 'disabled'));

describe('partial aggregates pushed to the servers', () => {
  it('plans the series window of the operand and which labels the output keeps', () => {
    const p = planPartials(parseExpr('sum by (job, shard) (rate(x[5m] offset 1m))') as AggregateExpr);
    if (typeof p === 'string') throw new Error(p);
    expect([p.windowMs, p.offsetMs, p.keepsLabel('shard'), p.keepsLabel('zone')]).toEqual([300_000, 60_000, true, false]);
    const w = planPartials(parseExpr('count without (zone) (x)') as AggregateExpr);
    if (typeof w === 'string') throw new Error(w);
    expect([w.windowMs, w.keepsLabel('shard'), w.keepsLabel('zone'), w.keepsLabel('__name__')]).toEqual([undefined, true, false, false]);
  });

  const queries = [
    'sum by (job) (rate(x[5m]))',
    'sum(x)',
    'avg by (job) (x)',
    'count(x > 50)',
    'min by (job) (x)',
    'max(irate(x[1m]))',
    'group by (job) (x)',
    'histogram_quantile(0.9, sum by (le) (rate(x[5m])))',
    'sum(rate(x[5m])) / sum(rate(x[10m] offset 5m))',
  ];
  it('answers as the engine over all series, each server evaluating its own share', async () => {
    const servers = [server(), server(), server(), server()];
    const all = fill(1, 60, servers);
    const f = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s)),
      { maxConcurrency: 4 },
    );
    for (const q of queries) await expectSame(all, pushedStorage(f), q);
    expect(outcomes(f).pushed_partials).toBeGreaterThanOrEqual(queries.length * 3);
    expect(Object.keys(outcomes(f))).toEqual(['pushed_partials']);
    for (const s of servers) expect(s.evaluated).toBeGreaterThan(0);
  });

  it("adds a group label the output keeps (a series' own value wins), as the raw path does", async () => {
    const servers = [server(), server(), server()];
    const labels: Record<string, string>[] = [{ shard: 's0' }, { shard: 's1' }, { shard: 's2', zone: 'z' }];
    const all = fill(2, 60, servers, labels);
    const f = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s, { labels: labels[i] })),
      { maxConcurrency: 4 },
    );
    for (const q of ['sum by (shard) (x)', 'count without (instance) (x)', 'sum by (job, zone) (rate(x[5m]))', 'max without (shard, instance) (x)', 'avg(x)']) {
      await expectSame(all, pushedStorage(f), q);
    }
    expect(Object.keys(outcomes(f))).toEqual(['pushed_partials']);
  });

  it('a series in two groups (after a reshard): the raw path merges it first', async () => {
    const servers = [server(), server(), server()];
    const all = fill(3, 30, servers);
    // A copy of one series of group 0 in group 2.
    const [one] = await servers[0].select([], 0, END);
    for (let i = 0; i < one.timestamps.length; i++) servers[2].add(one.labels, one.timestamps[i], one.values[i]);
    const f = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s)),
      { maxConcurrency: 4 },
    );
    await expectSame(all, pushedStorage(f), 'sum by (job) (rate(x[5m]))');
    expect(outcomes(f).same_series_in_two_groups).toBeGreaterThan(0);
    expect(outcomes(f).pushed_partials).toBeUndefined();
  });

  it('series differing only in their name count as one series in two groups', async () => {
    const a = server();
    const b = server();
    const labels: Labels = labelsFromRecord({ __name__: 'x', job: 'j' });
    const renamed: Labels = labelsFromRecord({ __name__: 'y', job: 'j' });
    for (let t = 0; t <= END; t += 15_000) {
      a.add(labels, t, t / 1000);
      b.add(renamed, t, t / 1000);
    }
    const f = new FanoutStorage([spec('a', a), spec('b', b)], { maxConcurrency: 4 });
    await expect(engine.rangeQuery(pushedStorage(f), 'sum(rate({job="j"}[5m]))', START, END, STEP)).rejects.toThrow(/same labelset/);
    expect(outcomes(f).same_series_in_two_groups).toBeGreaterThan(0);
  });

  it('keeps the raw path for an unverified server, a refusal, a group-label matcher, max_samples and stats', async () => {
    const servers = [server(), server({ ...P2, lookbackDeltaMs: 60_000 })];
    const all = fill(4, 30, servers, [{ shard: 's0' }, { shard: 's1' }]);
    const q = 'sum by (job) (rate(x[5m]))';
    const unverified = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s, { labels: { shard: `s${i}` } })),
      { maxConcurrency: 4 },
    );
    await expectSame(all, pushedStorage(unverified), q);
    expect(Object.keys(outcomes(unverified))).toEqual(['unverified']);

    const explicit = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s, { labels: { shard: `s${i}` }, pushdown: true })),
      { maxConcurrency: 4 },
    );
    await expectSame(all, pushedStorage(explicit), q);
    expect(outcomes(explicit).pushed_partials).toBeGreaterThan(0);

    await expectSame(all, pushedStorage(explicit), 'sum by (job) (rate(x{shard=~"s.*"}[5m]))');
    expect(outcomes(explicit).group_label_matcher).toBeGreaterThan(0);

    servers[1].refuse = true;
    await expectSame(all, pushedStorage(explicit), q);
    expect(outcomes(explicit).refused).toBeGreaterThan(0);
    servers[1].refuse = false;

    await expectSame(all, pushedStorage(explicit, 1000), q);
    expect(outcomes(explicit).max_samples).toBeGreaterThan(0);

    const off = new FanoutStorage(
      servers.map((s, i) => spec(`g${i}`, s, { labels: { shard: `s${i}` }, pushdown: false })),
      { maxConcurrency: 4 },
    );
    await expectSame(all, pushedStorage(off), q);
    expect(Object.keys(outcomes(off))).toEqual([]);
    expect(off.pushdownOutcomes.get('disabled')).toBeGreaterThan(0);

    const before = servers[0].evaluated;
    const storage = pushedStorage(explicit);
    const counted = await engine.execRange(engine.prepare(q), storage, START, END, STEP, undefined, { countSamples: true });
    expect(counted.samples?.total).toBeGreaterThan(0);
    expect(servers[0].evaluated).toBe(before);
  });
});
