// The PromQL engine's query lifecycle and evaluation on in-memory data.

import { describe, expect, it } from 'vitest';
import { Engine, type QueryOutput, type QueryResult } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { labelsToString } from '../../../src/model/labels.js';
import { PromQLError } from '../../../src/errors.js';

const S = 1000;
const M = 60 * S;

function storage(): MemoryStorage {
  const st = new MemoryStorage();
  for (let i = 0; i <= 10; i++) {
    st.add({ __name__: 'http_requests_total', job: 'api', instance: 'a' }, i * M, 10 * i);
    st.add({ __name__: 'http_requests_total', job: 'api', instance: 'b' }, i * M, 20 * i);
    st.add({ __name__: 'http_requests_total', job: 'db', instance: 'a' }, i * M, 5 * i);
  }
  st.add({ __name__: 'instance_info', instance: 'a', zone: 'z1' }, 0, 1);
  st.add({ __name__: 'instance_info', instance: 'a', zone: 'z1' }, 5 * M, 1);
  st.add({ __name__: 'instance_info', instance: 'b', zone: 'z2' }, 0, 1);
  st.add({ __name__: 'instance_info', instance: 'b', zone: 'z2' }, 5 * M, 1);
  st.add({ __name__: 'stale_metric', a: 'x' }, 0, 1);
  st.add({ __name__: 'stale_metric', a: 'x' }, M, 2);
  st.add({ __name__: 'stale_metric', a: 'x' }, 2 * M, NaN, { stale: true });
  st.add({ __name__: 'gap' }, 0, 1);
  // classic histogram: 10 observations, 2 <= 0.1, 6 <= 0.5, all <= 1
  st.add({ __name__: 'req_bucket', le: '0.1' }, 5 * M, 2);
  st.add({ __name__: 'req_bucket', le: '0.5' }, 5 * M, 6);
  st.add({ __name__: 'req_bucket', le: '1' }, 5 * M, 10);
  st.add({ __name__: 'req_bucket', le: '+Inf' }, 5 * M, 10);
  return st;
}

const st = storage();
const p3 = new Engine();
const p2 = new Engine({ semantics: 'prometheus-2' });

/** Instant vector result as "labels => value" strings, in result order. */
function vec(r: QueryResult): string[] {
  if (r.resultType !== 'vector') throw new Error(`expected vector, got ${r.resultType}`);
  return r.result.map((s) => `${labelsToString(s.labels)} => ${s.v}`);
}

async function inst(q: string, t: number, engine = p3, s = st): Promise<string[]> {
  return vec((await engine.instantQuery(s, q, t)).result);
}

async function err(p: Promise<QueryOutput>): Promise<PromQLError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PromQLError);
    return e as PromQLError;
  }
  throw new Error('expected an error');
}

describe('selectors', () => {
  it('instant selection picks the latest sample in the lookback window', async () => {
    expect(await inst('http_requests_total', 5 * M + 30 * S)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="a", job="db"} => 25',
      'http_requests_total{instance="b", job="api"} => 100',
    ]);
  });

  it('lookback window is left-open in prometheus-3 and closed in prometheus-2', async () => {
    expect(await inst('gap', 5 * M)).toEqual([]);
    expect(await inst('gap', 5 * M, p2)).toEqual(['gap => 1']);
    expect(await inst('gap', 5 * M - 1)).toEqual(['gap => 1']);
    expect(await inst('gap', 5 * M + 1, p2)).toEqual([]);
  });

  it('a staleness marker ends the series', async () => {
    expect(await inst('stale_metric', 90 * S)).toEqual(['stale_metric{a="x"} => 2']);
    expect(await inst('stale_metric', 2 * M)).toEqual([]);
    expect(await inst('stale_metric', 4 * M)).toEqual([]);
    const r = (await p3.rangeQuery(st, 'stale_metric', 0, 3 * M, M)).result;
    expect(r).toEqual({
      resultType: 'matrix',
      result: [
        {
          labels: [
            { name: '__name__', value: 'stale_metric' },
            { name: 'a', value: 'x' },
          ],
          timestamps: [0, M],
          values: [1, 2],
        },
      ],
    });
  });

  it('range selection: (t-range, t] in prometheus-3, [t-range, t] in prometheus-2, staleness markers dropped', async () => {
    const q = 'http_requests_total{job="db"}[2m]';
    const r3 = (await p3.instantQuery(st, q, 5 * M)).result;
    expect(r3.resultType).toBe('matrix');
    if (r3.resultType !== 'matrix') return;
    expect(r3.result[0].timestamps).toEqual([4 * M, 5 * M]);
    expect(r3.result[0].values).toEqual([20, 25]);
    const r2 = (await p2.instantQuery(st, q, 5 * M)).result;
    if (r2.resultType !== 'matrix') throw new Error();
    expect(r2.result[0].values).toEqual([15, 20, 25]);
    const rs = (await p3.instantQuery(st, 'stale_metric[5m]', 3 * M)).result;
    if (rs.resultType !== 'matrix') throw new Error();
    expect(rs.result[0].values).toEqual([1, 2]);
  });

  it('offset and @', async () => {
    expect(await inst('http_requests_total{job="db"} offset 2m', 5 * M)).toEqual(['http_requests_total{instance="a", job="db"} => 15']);
    const r = (await p3.rangeQuery(st, 'http_requests_total{job="db"} @ 120', 0, 5 * M, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result[0].values).toEqual([10, 10, 10, 10, 10, 10]);
    const r2 = (await p3.rangeQuery(st, 'http_requests_total{job="db"} @ start()', M, 3 * M, M)).result;
    if (r2.resultType !== 'matrix') throw new Error();
    expect(r2.result[0].values).toEqual([5, 5, 5]);
    const r3 = (await p3.rangeQuery(st, 'http_requests_total{job="db"} @ end() offset 1m', M, 3 * M, M)).result;
    if (r3.resultType !== 'matrix') throw new Error();
    expect(r3.result[0].values).toEqual([10, 10, 10]);
  });

  it('range query results sort series and keep points per step', async () => {
    const r = (await p3.rangeQuery(st, 'http_requests_total{instance="a"}', 0, 2 * M, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result.map((s) => labelsToString(s.labels))).toEqual([
      'http_requests_total{instance="a", job="api"}',
      'http_requests_total{instance="a", job="db"}',
    ]);
    expect(r.result[1]).toMatchObject({ timestamps: [0, M, 2 * M], values: [0, 5, 10] });
    const sc = (await p3.rangeQuery(st, '1 + 2', 0, M, M)).result;
    expect(sc).toEqual({ resultType: 'matrix', result: [{ labels: [], timestamps: [0, M], values: [3, 3] }] });
    expect((await p3.instantQuery(st, '1 + 2', M)).result).toEqual({ resultType: 'scalar', t: M, v: 3 });
    expect((await p3.instantQuery(st, '"hi"', M)).result).toEqual({ resultType: 'string', t: M, v: 'hi' });
    expect((await err(p3.rangeQuery(st, 'gap[5m]', 0, M, M))).message).toBe(
      'invalid expression type "range vector" for range query, must be Scalar or instant Vector',
    );
  });
});

describe('subqueries', () => {
  it('aligns inner steps to absolute multiples of the step', async () => {
    const r = (await p3.instantQuery(st, 'http_requests_total{job="db"}[5m:90s]', 10 * M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result[0].timestamps).toEqual([360 * S, 450 * S, 540 * S]);
    expect(r.result[0].values).toEqual([30, 35, 45]);
  });

  it('left-open in prometheus-3, closed in prometheus-2; default step 1m', async () => {
    const q = 'http_requests_total{job="db"}[3m:]';
    const r3 = (await p3.instantQuery(st, q, 6 * M)).result;
    const r2 = (await p2.instantQuery(st, q, 6 * M)).result;
    if (r3.resultType !== 'matrix' || r2.resultType !== 'matrix') throw new Error();
    expect(r3.result[0].timestamps).toEqual([4 * M, 5 * M, 6 * M]);
    expect(r2.result[0].timestamps).toEqual([3 * M, 4 * M, 5 * M, 6 * M]);
  });

  it('offset on a subquery and functions over subqueries', async () => {
    const r = (await p3.instantQuery(st, 'http_requests_total{job="db"}[2m:1m] offset 3m', 6 * M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result[0].timestamps).toEqual([2 * M, 3 * M]);
    expect(await inst('max_over_time((http_requests_total{job="db"} * 2)[3m:1m])', 6 * M)).toEqual(['{instance="a", job="db"} => 60']);
    const rr = (await p3.rangeQuery(st, 'sum_over_time(http_requests_total{job="db"}[2m:1m])', 2 * M, 4 * M, M)).result;
    if (rr.resultType !== 'matrix') throw new Error();
    expect(rr.result[0].values).toEqual([5 + 10, 10 + 15, 15 + 20]);
  });
});

describe('binary operators', () => {
  const t = 5 * M;
  it('arithmetic with scalars drops the name; filters keep it; bool drops it', async () => {
    expect(await inst('http_requests_total{job="db"} + 1', t)).toEqual(['{instance="a", job="db"} => 26']);
    expect(await inst('2 ^ http_requests_total{job="db"} / 2 ^ 24', t)).toEqual(['{instance="a", job="db"} => 2']);
    expect(await inst('http_requests_total{job="db"} % 7', t)).toEqual(['{instance="a", job="db"} => 4']);
    expect(await inst('http_requests_total > 40', t)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="b", job="api"} => 100',
    ]);
    expect(await inst('40 < http_requests_total', t)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="b", job="api"} => 100',
    ]);
    expect(await inst('http_requests_total > bool 40', t)).toEqual([
      '{instance="a", job="api"} => 1',
      '{instance="a", job="db"} => 0',
      '{instance="b", job="api"} => 1',
    ]);
    expect((await p3.instantQuery(st, '1 < bool 2', t)).result).toEqual({ resultType: 'scalar', t, v: 1 });
    expect(await inst('-http_requests_total{job="db"}', t)).toEqual(['{instance="a", job="db"} => -25']);
    expect(await inst('vector(3) atan2 vector(0)', t)).toEqual([`{} => ${Math.atan2(3, 0)}`]);
  });

  it('one-to-one matching with on/ignoring', async () => {
    expect(await inst('http_requests_total{job="api"} - ignoring(job) http_requests_total{job="db"}', t)).toEqual(['{instance="a"} => 25']);
    expect(await inst('http_requests_total{job="api"} - on(instance) http_requests_total{job="db"}', t)).toEqual(['{instance="a"} => 25']);
    // one-to-one: ignoring labels are removed from the result, also for filters (which keep the name)
    expect(await inst('http_requests_total{job="api"} >= ignoring(job) http_requests_total{job="db"}', t)).toEqual(['http_requests_total{instance="a"} => 50']);
    expect(await inst('http_requests_total{job="api"} == bool ignoring(job) http_requests_total{job="db"}', t)).toEqual(['{instance="a"} => 0']);
    expect(await inst('http_requests_total{job="api"} > on(instance) http_requests_total{job="db"}', t)).toEqual(['{instance="a"} => 50']);
  });

  it('many-to-one and one-to-many with included labels', async () => {
    const want = ['{instance="a", job="api", zone="z1"} => 50', '{instance="a", job="db", zone="z1"} => 25', '{instance="b", job="api", zone="z2"} => 100'];
    expect(await inst('http_requests_total * on(instance) group_left(zone) instance_info', t)).toEqual(want);
    expect(await inst('instance_info * on(instance) group_right(zone) http_requests_total', t)).toEqual(want);
    // Comparison filter with group_right keeps the lhs (the "one" side) value but the many side's labels.
    expect(await inst('instance_info < on(instance) group_right http_requests_total', t)).toEqual([
      'http_requests_total{instance="a", job="api"} => 1',
      'http_requests_total{instance="a", job="db"} => 1',
      'http_requests_total{instance="b", job="api"} => 1',
    ]);
  });

  it('matching errors', async () => {
    expect((await err(p3.instantQuery(st, 'http_requests_total * on(instance) instance_info', t))).message).toBe(
      'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
    );
    expect((await err(p3.instantQuery(st, 'instance_info + on(instance) group_left http_requests_total', t))).message).toBe(
      'found duplicate series for the match group {instance="a"} on the right hand-side of the operation: ' +
        '[{__name__="http_requests_total", instance="a", job="db"}, {__name__="http_requests_total", instance="a", job="api"}]' +
        ';many-to-many matching not allowed: matching labels must be unique on one side',
    );
    const e = await err(p3.instantQuery(st, 'http_requests_total + on(instance) group_right instance_info', t));
    expect(e.message).toContain('on the left hand-side of the operation');
    expect(e.errorType).toBe('execution');
  });

  it('set operators', async () => {
    expect(await inst('http_requests_total and on(instance) instance_info{zone="z1"}', t)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="a", job="db"} => 25',
    ]);
    expect(await inst('http_requests_total unless on(instance) instance_info{zone="z1"}', t)).toEqual(['http_requests_total{instance="b", job="api"} => 100']);
    expect(await inst('http_requests_total{job="db"} or instance_info', t)).toEqual([
      'http_requests_total{instance="a", job="db"} => 25',
      'instance_info{instance="a", zone="z1"} => 1',
      'instance_info{instance="b", zone="z2"} => 1',
    ]);
    expect(await inst('vector(1) or vector(2)', t)).toEqual(['{} => 1']);
    // and without on: all labels but the name
    expect(await inst('http_requests_total and (http_requests_total * 0 > 1)', t)).toEqual([]);
    // range: or fills the steps the lhs misses
    const r = (await p3.rangeQuery(st, 'stale_metric or vector(7)', 0, 2 * M, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result.map((s) => s.values)).toEqual([
      [7, 7, 7],
      [1, 2],
    ]);
  });

  it('same labelset after dropping the name is an error', async () => {
    const s2 = new MemoryStorage();
    s2.add({ __name__: 'x', job: 'j' }, 0, 1);
    s2.add({ __name__: 'y', job: 'j' }, 0, 2);
    expect((await err(p3.instantQuery(s2, '{job="j"} * 2', 0))).message).toBe('vector cannot contain metrics with the same labelset');
    expect(await inst('{job="j"} > 0', 0, p3, s2)).toEqual(['x{job="j"} => 1', 'y{job="j"} => 2']);
    expect((await err(p3.instantQuery(s2, '{job="j"} * on() group_left vector(1)', 0))).message).toBe(
      'multiple matches for labels: grouping labels must ensure unique matches',
    );
  });
});

describe('aggregations', () => {
  const t = 5 * M;
  it('sum avg min max count group stddev stdvar quantile', async () => {
    expect(await inst('sum(http_requests_total)', t)).toEqual(['{} => 175']);
    expect(await inst('sum by (job) (http_requests_total)', t)).toEqual(['{job="api"} => 150', '{job="db"} => 25']);
    expect(await inst('sum without (instance) (http_requests_total)', t)).toEqual(['{job="api"} => 150', '{job="db"} => 25']);
    expect(await inst('avg by (instance) (http_requests_total)', t)).toEqual(['{instance="a"} => 37.5', '{instance="b"} => 100']);
    expect(await inst('min(http_requests_total)', t)).toEqual(['{} => 25']);
    expect(await inst('max(http_requests_total)', t)).toEqual(['{} => 100']);
    expect(await inst('count by (instance) (http_requests_total)', t)).toEqual(['{instance="a"} => 2', '{instance="b"} => 1']);
    expect(await inst('group by (job) (http_requests_total)', t)).toEqual(['{job="api"} => 1', '{job="db"} => 1']);
    const mean = 175 / 3;
    const variance = ((50 - mean) ** 2 + (100 - mean) ** 2 + (25 - mean) ** 2) / 3;
    const [sv] = await inst('stdvar(http_requests_total)', t);
    expect(Number(sv.split(' => ')[1])).toBeCloseTo(variance, 9);
    const [sd] = await inst('stddev(http_requests_total)', t);
    expect(Number(sd.split(' => ')[1])).toBeCloseTo(Math.sqrt(variance), 9);
    expect(await inst('quantile(0.5, http_requests_total)', t)).toEqual(['{} => 50']);
    expect(await inst('quantile(0.25, http_requests_total)', t)).toEqual(['{} => 37.5']);
    const out = await p3.instantQuery(st, 'quantile(2, http_requests_total)', t);
    expect(vec(out.result)).toEqual(['{} => Infinity']);
    expect(out.warnings).toEqual(['PromQL warning: quantile value should be between 0 and 1, got 2']);
    expect(await inst('sum by (__name__) (http_requests_total)', t)).toEqual(['http_requests_total => 175']);
  });

  it('topk/bottomk keep labels and order', async () => {
    expect(await inst('topk(2, http_requests_total)', t)).toEqual([
      'http_requests_total{instance="b", job="api"} => 100',
      'http_requests_total{instance="a", job="api"} => 50',
    ]);
    expect(await inst('bottomk(1, http_requests_total) by (job)', t)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="a", job="db"} => 25',
    ]);
    expect(await inst('topk(0, http_requests_total)', t)).toEqual([]);
    expect((await err(p3.instantQuery(st, 'topk(NaN, http_requests_total)', t))).message).toBe('Parameter value is NaN');
    const r = (await p3.rangeQuery(st, 'topk(1, http_requests_total{job="api"})', M, 2 * M, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result.map((s) => s.values)).toEqual([[20, 40]]);
  });

  it('topk/bottomk break ties with Prometheus heap moves, which differ between 2.42 and 3.x', async () => {
    // Ten gauges where sensor-0 and sensor-1 tie for third lowest. In the query layer's reference
    // suite, a live Prometheus 2.42 answered bottomk(3, …) with sensor-9, sensor-8, sensor-1 (2.42 pops
    // the worst and pushes the new sample). 3.x overwrites the worst and fixes the heap, which keeps
    // sensor-0; worked through by hand from aggregationK in v3.5.0.
    const temps = [-9.89, -9.89, -1.29, -2.57, -2.97, 11.83, -1.59, 4.77, -10.06, -10.74];
    const s = new MemoryStorage();
    temps.forEach((v, i) => s.add({ __name__: 't', instance: `sensor-${i}` }, 0, v));
    expect(await inst('bottomk(3, t)', 0, p2, s)).toEqual([
      't{instance="sensor-9"} => -10.74',
      't{instance="sensor-8"} => -10.06',
      't{instance="sensor-1"} => -9.89',
    ]);
    expect(await inst('bottomk(3, t)', 0, p3, s)).toEqual([
      't{instance="sensor-9"} => -10.74',
      't{instance="sensor-8"} => -10.06',
      't{instance="sensor-0"} => -9.89',
    ]);
    // The same moves for topk, on the negated values.
    expect(await inst('topk(3, -t)', 0, p2, s)).toEqual(['{instance="sensor-9"} => 10.74', '{instance="sensor-8"} => 10.06', '{instance="sensor-1"} => 9.89']);
    expect(await inst('topk(3, -t)', 0, p3, s)).toEqual(['{instance="sensor-9"} => 10.74', '{instance="sensor-8"} => 10.06', '{instance="sensor-0"} => 9.89']);
    // A range query keeps the same series at that step.
    const r = (await p2.rangeQuery(s, 'bottomk(3, t)', 0, 0, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result.map((x) => labelsToString(x.labels)).sort()).toEqual(['t{instance="sensor-1"}', 't{instance="sensor-8"}', 't{instance="sensor-9"}']);
  });

  it('count_values', async () => {
    expect(await inst('count_values("value", http_requests_total)', t)).toEqual(['{value="100"} => 1', '{value="25"} => 1', '{value="50"} => 1']);
    expect(await inst('count_values by (job) ("v", http_requests_total / 1e22)', t)).toEqual([
      '{job="api", v="0.000000000000000000005"} => 1',
      '{job="api", v="0.00000000000000000001"} => 1',
      '{job="db", v="0.0000000000000000000025"} => 1',
    ]);
  });
});

describe('functions', () => {
  it('rate and other range functions through the dispatch', async () => {
    const [r] = await inst('rate(http_requests_total{job="db"}[5m])', 10 * M);
    expect(r.split(' => ')[0]).toBe('{instance="a", job="db"}');
    expect(Number(r.split(' => ')[1])).toBeCloseTo(5 / 60, 12);
    expect(await inst('last_over_time(http_requests_total{job="db"}[5m])', 10 * M)).toEqual(['http_requests_total{instance="a", job="db"} => 50']);
    expect(await inst('count_over_time(http_requests_total{job="db"}[5m])', 10 * M)).toEqual(['{instance="a", job="db"} => 5']);
    expect(await inst('count_over_time(http_requests_total{job="db"}[5m])', 10 * M, p2)).toEqual(['{instance="a", job="db"} => 6']);
    expect(await inst('quantile_over_time(0.5, http_requests_total{job="db"}[5m])', 10 * M)).toEqual(['{instance="a", job="db"} => 40']);
    expect(await inst('sum_over_time(http_requests_total{job="db"}[2m] @ 300)', 10 * M)).toEqual(['{instance="a", job="db"} => 45']);
    const out = await p3.instantQuery(st, 'rate(instance_info[11m])', 10 * M);
    expect(out.infos[0]).toMatch(/^PromQL info: metric might not be a counter, name does not end in _total\/_sum\/_count\/_bucket: "instance_info"/);
  });

  it('element-wise functions drop the name; defaults to vector(time())', async () => {
    expect(await inst('abs(-http_requests_total{job="db"})', 5 * M)).toEqual(['{instance="a", job="db"} => 25']);
    expect(await inst('round(http_requests_total{job="db"} / 10)', 5 * M)).toEqual(['{instance="a", job="db"} => 3']);
    expect(await inst('clamp(http_requests_total{job="db"}, 0, 10)', 5 * M)).toEqual(['{instance="a", job="db"} => 10']);
    expect(await inst('clamp(http_requests_total{job="db"}, 10, 0)', 5 * M)).toEqual([]);
    expect(await inst('days_in_month()', 0)).toEqual(['{} => 31']);
    expect(await inst('year()', 0)).toEqual(['{} => 1970']);
  });

  it('time, vector, scalar, timestamp, pi', async () => {
    expect((await p3.instantQuery(st, 'time()', 90 * S)).result).toEqual({ resultType: 'scalar', t: 90 * S, v: 90 });
    expect((await p3.instantQuery(st, 'pi()', 0)).result).toEqual({ resultType: 'scalar', t: 0, v: Math.PI });
    expect(await inst('vector(time())', 90 * S)).toEqual(['{} => 90']);
    expect((await p3.instantQuery(st, 'scalar(http_requests_total{job="db"})', 5 * M)).result).toEqual({ resultType: 'scalar', t: 5 * M, v: 25 });
    expect((await p3.instantQuery(st, 'scalar(http_requests_total)', 5 * M)).result).toMatchObject({ resultType: 'scalar', v: NaN });
    expect(await inst('timestamp(stale_metric)', 90 * S)).toEqual(['{a="x"} => 60']);
    expect(await inst('timestamp(stale_metric @ 30)', 90 * S)).toEqual(['{a="x"} => 0']);
    expect(await inst('timestamp(-stale_metric)', 90 * S)).toEqual(['{a="x"} => 90']);
  });

  it('absent and absent_over_time', async () => {
    expect(await inst('absent(nonexistent{job="x", a=~"b", c="d", c="e"})', 0)).toEqual(['{job="x"} => 1']);
    expect(await inst('absent(http_requests_total)', 5 * M)).toEqual([]);
    expect(await inst('absent_over_time(nonexistent{job="x"}[5m])', 0)).toEqual(['{job="x"} => 1']);
    const r = (await p3.rangeQuery(st, 'absent_over_time(stale_metric[1m])', 0, 4 * M, M)).result;
    if (r.resultType !== 'matrix') throw new Error();
    expect(r.result[0].timestamps).toEqual([2 * M, 3 * M, 4 * M]);
  });

  it('label_replace and label_join', async () => {
    expect(await inst('label_replace(http_requests_total{job="db"}, "foo", "$1-x", "instance", "(.*)")', 5 * M)).toEqual([
      'http_requests_total{foo="a-x", instance="a", job="db"} => 25',
    ]);
    expect(await inst('label_replace(http_requests_total{job="db"}, "foo", "$1", "instance", "z(.*)")', 5 * M)).toEqual([
      'http_requests_total{instance="a", job="db"} => 25',
    ]);
    expect(await inst('label_replace(http_requests_total{job="db"}, "job", "", "job", ".*")', 5 * M)).toEqual(['http_requests_total{instance="a"} => 25']);
    expect(await inst('label_join(http_requests_total{job="db"}, "foo", "/", "job", "instance", "none")', 5 * M)).toEqual([
      'http_requests_total{foo="db/a/", instance="a", job="db"} => 25',
    ]);
    expect((await err(p3.instantQuery(st, 'label_replace(http_requests_total, "instance", "x", "job", ".*")', 5 * M))).message).toBe(
      'vector cannot contain metrics with the same labelset',
    );
    expect((await err(p3.instantQuery(st, 'label_replace(http_requests_total, "foo", "x", "job", "(")', 5 * M))).message).toMatch(
      /^invalid regular expression in label_replace\(\): error parsing regexp: missing closing \)/,
    );
  });

  it('sort and sort_desc order the result', async () => {
    expect(await inst('sort(http_requests_total)', 5 * M)).toEqual([
      'http_requests_total{instance="a", job="db"} => 25',
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="b", job="api"} => 100',
    ]);
    expect(await inst('sort_desc(http_requests_total)', 5 * M)).toEqual([
      'http_requests_total{instance="b", job="api"} => 100',
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="a", job="db"} => 25',
    ]);
  });

  it('histogram_quantile on classic buckets', async () => {
    expect(await inst('histogram_quantile(0.5, req_bucket)', 5 * M)).toEqual(['{} => 0.4']);
    expect(await inst('histogram_quantile(0.9, req_bucket)', 5 * M)).toEqual(['{} => 0.875']);
  });
});

describe('feature flags', () => {
  it('rejects experimental functions and aggregations as Prometheus 3.5 does', async () => {
    const e = await err(p3.instantQuery(st, 'mad_over_time(gap[5m])', 0));
    expect(e.errorType).toBe('bad_data');
    expect(e.message).toBe('1:1: parse error: function "mad_over_time" is not enabled');
    expect((await err(p3.instantQuery(st, 'double_exponential_smoothing(gap[5m], 0.5, 0.5)', 0))).message).toBe(
      '1:1: parse error: function "double_exponential_smoothing" is not enabled',
    );
    expect((await err(p3.instantQuery(st, 'holt_winters(gap[5m], 0.5, 0.5)', 0))).message).toBe('1:1: parse error: unknown function with name "holt_winters"');
    expect((await err(p3.instantQuery(st, 'limitk(1, gap)', 0))).message).toBe(
      '1:1: parse error: limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions',
    );
    expect((await err(p3.instantQuery(st, 'sum(', 0))).errorType).toBe('bad_data');
    expect(await inst('holt_winters(http_requests_total{job="db"}[5m], 0.5, 0.5)', 10 * M, p2)).toHaveLength(1);
    const ex = new Engine({ enableExperimentalFunctions: true });
    expect(await inst('sort_by_label(http_requests_total, "job", "instance")', 5 * M, ex)).toEqual([
      'http_requests_total{instance="a", job="api"} => 50',
      'http_requests_total{instance="b", job="api"} => 100',
      'http_requests_total{instance="a", job="db"} => 25',
    ]);
  });
});

describe('limits', () => {
  it('maxSamples', async () => {
    const small = new Engine({ maxSamples: 2 });
    const e = await err(small.instantQuery(st, 'http_requests_total', 5 * M));
    expect(e.errorType).toBe('execution');
    expect(e.message).toBe('query processing would load too many samples into memory in query execution');
    expect((await err(small.instantQuery(st, 'sum_over_time(gap[5m]) + count_over_time(http_requests_total{job="db"}[5m])', 5 * M))).errorType).toBe(
      'execution',
    );
    expect(await inst('sum(http_requests_total{job="api"})', 5 * M, small)).toEqual(['{} => 150']);
  });

  it('cancellation and timeout', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await err(p3.instantQuery(st, 'http_requests_total', 0, ac.signal));
    expect(e.errorType).toBe('canceled');
    const slow = new Engine({ timeoutMs: -1 });
    expect((await err(slow.instantQuery(st, 'http_requests_total', 0))).errorType).toBe('timeout');
  });
});

describe('label sets that differ only by where separators fall', () => {
  it('stay two series (a value may hold any character, þ and ÿ included)', async () => {
    const m = new MemoryStorage();
    // With keys joined by \xff / \xfe these two sets would read the same.
    m.add({ __name__: 'm', a: 'x\u00feb\u00ffy' }, 0, 1);
    m.add({ __name__: 'm', a: 'x', b: 'y' }, 0, 2);
    expect(m.seriesCount).toBe(2);
    const out = await new Engine().instantQuery(m, 'm * 2', 0);
    expect(out.result.resultType === 'vector' && out.result.result.map((s) => `${labelsToString(s.labels)} ${s.v}`).sort()).toEqual([
      '{a="x", b="y"} 4',
      '{a="xþbÿy"} 2',
    ]);
  });
});
