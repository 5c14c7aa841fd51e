// /series, /labels, /label/:name/values, /metadata, /status/config and /federate over in-memory
// storages and a fan-out of them: parameters, defaults, limits, errors and output shapes. The error
// texts were taken from a running Prometheus 2.42 (and api.go of 3.x for limit); the live
// comparison is in api-e2e.test.ts.

import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { type MetricMetadataMap, type Series, type Storage } from '../../../src/storage/interface.js';
import { labelsToRecord } from '../../../src/model/labels.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { createMetadataApi } from '../../../src/server/api/metadata-api.js';
import { createSeriesApi, unescapeLabelName } from '../../../src/server/api/series-api.js';
import { configToYaml } from '../../../src/server/config-yaml.js';
import { createFederation } from '../../../src/server/federate.js';
import { goFormatFloatG } from '../../../src/server/federate-text.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';
import { GroupError } from '../../../src/errors.js';
import { eq } from '../../support/matchers.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000;

function memory(): MemoryStorage {
  const m = new MemoryStorage();
  for (let i = 0; i < 10; i++) {
    const t = T0 + i * 15_000;
    m.add({ __name__: 'up', job: 'api', instance: 'a' }, t, 1);
    m.add({ __name__: 'up', job: 'web', instance: 'b' }, t, 0);
    m.add({ __name__: 'http_requests_total', job: 'api', instance: 'a', code: '200' }, t, i * 10);
    m.add({ __name__: 'dotted', 'a.b': 'x<y>', job: 'odd' }, t, 2);
  }
  // Only in the first minute.
  for (let i = 0; i < 4; i++) m.add({ __name__: 'early', job: 'batch' }, T0 + i * 15_000, i);
  return m;
}

/** A storage that only has select (no series method), counting the calls. */
function selectOnly(inner: Storage): Storage & { selects: number } {
  const s = {
    selects: 0,
    select: (...a: Parameters<Storage['select']>) => {
      s.selects++;
      return inner.select(...a);
    },
    labelNames: inner.labelNames.bind(inner),
    labelValues: inner.labelValues.bind(inner),
  };
  return s;
}

/** A MemoryStorage whose select must not be called (series are looked up without samples). */
function seriesOnly(inner: MemoryStorage): Storage & { selects: number; seriesCalls: number } {
  const s = {
    selects: 0,
    seriesCalls: 0,
    select: async (): Promise<Series[]> => {
      s.selects++;
      throw new Error('select called for a series lookup');
    },
    series: (...a: Parameters<NonNullable<Storage['series']>>) => {
      s.seriesCalls++;
      return inner.series(...a);
    },
    labelNames: inner.labelNames.bind(inner),
    labelValues: inner.labelValues.bind(inner),
  };
  return s;
}

function failing(): Storage {
  const boom = async (): Promise<never> => {
    throw new Error('HTTP 503: down');
  };
  return { select: boom, labelNames: boom, labelValues: boom, series: boom, metadata: boom };
}

function withMetadata(m: MetricMetadataMap): Storage {
  const e = new MemoryStorage();
  return {
    select: e.select.bind(e),
    labelNames: e.labelNames.bind(e),
    labelValues: e.labelValues.bind(e),
    metadata: async (metric, limitPerMetric) => {
      const out: MetricMetadataMap = new Map();
      for (const [k, v] of m) if (metric === undefined || k === metric) out.set(k, limitPerMetric > 0 ? v.slice(0, limitPerMetric) : v);
      return out;
    },
  };
}

function group(name: string, targets: Storage[], extra: Partial<GroupSpec> = {}): GroupSpec {
  return { name, targets, targetNames: targets.map((_, i) => `${name}-r${i}`), antiAffinityMs: 5_000, ignoreError: false, ...extra };
}

async function call(app: { request: (p: string, init?: RequestInit) => Response | Promise<Response> }, path: string, init?: RequestInit) {
  const res = await app.request(path, init);
  const text = await res.text();
  return {
    status: res.status,
    text,
    type: res.headers.get('content-type'),
    json: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined,
  };
}

const postForm = (body: string): RequestInit => ({ method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });

// ---------------------------------------------------------------------------------------------

describe('FanoutStorage.series', () => {
  it('asks targets for label sets without select when they can, and falls back to select otherwise', async () => {
    const a = memory();
    const b = new MemoryStorage();
    b.add({ __name__: 'up', job: 'db', instance: 'c' }, T0, 1);
    const sa = seriesOnly(a);
    const sb = selectOnly(b);
    const f = new FanoutStorage([group('g1', [sa]), group('g2', [sb])], { maxConcurrency: 4 });
    const q = f.forQuery();
    const out = await q.storage.series!([eq('__name__', 'up')], T0 - MIN, T0 + 10 * MIN);
    expect(out.map(labelsToRecord)).toEqual([
      { __name__: 'up', instance: 'a', job: 'api' },
      { __name__: 'up', instance: 'b', job: 'web' },
      { __name__: 'up', instance: 'c', job: 'db' },
    ]);
    expect(sa.selects).toBe(0);
    expect(sa.seriesCalls).toBe(1);
    expect(sb.selects).toBe(1);
    expect(q.warnings).toEqual([]);
  });

  it('HA replicas are unioned: a series one replica lacks comes from the other, once', async () => {
    const r1 = memory();
    const r2 = new MemoryStorage();
    r2.add({ __name__: 'up', job: 'api', instance: 'a' }, T0, 1);
    r2.add({ __name__: 'up', job: 'api', instance: 'z' }, T0, 1);
    const f = new FanoutStorage([group('g', [r1, r2])], { maxConcurrency: 4 });
    const out = await f.forQuery().storage.series!([eq('__name__', 'up')], T0, T0 + 10 * MIN);
    expect(out.map((l) => labelsToRecord(l).instance)).toEqual(['a', 'b', 'z']);
  });

  it('group labels are added and prune groups the way select does', async () => {
    const eu = memory();
    const us = new MemoryStorage();
    us.add({ __name__: 'up', job: 'api', instance: 'a' }, T0, 1);
    // A series with its own value of the group label keeps it.
    us.add({ __name__: 'up', job: 'own', instance: 'x', region: 'mars' }, T0, 1);
    const usSpy = selectOnly(us);
    const f = new FanoutStorage([group('eu', [eu], { labels: { region: 'eu' } }), group('us', [usSpy], { labels: { region: 'us' } })], { maxConcurrency: 4 });
    expect(f.groupsFor([eq('region', 'eu')])).toEqual(['eu']);
    expect(f.groupsFor([eq('__name__', 'up')])).toEqual(['eu', 'us']);

    const onlyEu = await f.forQuery().storage.series!([eq('__name__', 'up'), eq('region', 'eu')], T0, T0 + 10 * MIN);
    expect(onlyEu.map(labelsToRecord)).toEqual([
      { __name__: 'up', instance: 'a', job: 'api', region: 'eu' },
      { __name__: 'up', instance: 'b', job: 'web', region: 'eu' },
    ]);
    expect(usSpy.selects).toBe(0); // pruned

    const all = await f.forQuery().storage.series!([eq('__name__', 'up')], T0, T0 + 10 * MIN);
    expect(all.map(labelsToRecord)).toEqual([
      { __name__: 'up', instance: 'a', job: 'api', region: 'eu' },
      { __name__: 'up', instance: 'a', job: 'api', region: 'us' },
      { __name__: 'up', instance: 'b', job: 'web', region: 'eu' },
      { __name__: 'up', instance: 'x', job: 'own', region: 'mars' },
    ]);
    // The group's value satisfies region="us", but the series' own "mars" does not: dropped.
    const us2 = await f.forQuery().storage.series!([eq('__name__', 'up'), eq('region', 'us')], T0, T0 + 10 * MIN);
    expect(us2.map((l) => labelsToRecord(l).instance)).toEqual(['a']);
  });

  it('a failing group: GroupError without ignore_error, a warning with it', async () => {
    const strict = new FanoutStorage([group('g1', [memory()]), group('g2', [failing()])], { maxConcurrency: 4 });
    const err = await strict.forQuery().storage.series!([eq('__name__', 'up')], T0, T0 + MIN).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupError);
    expect((err as Error).message).toBe('server group "g2" failed: target "g2-r0": HTTP 503: down');

    const lenient = new FanoutStorage([group('g1', [memory()]), group('g2', [failing()], { ignoreError: true })], { maxConcurrency: 4 });
    const q = lenient.forQuery();
    const out = await q.storage.series!([eq('__name__', 'up')], T0, T0 + MIN);
    expect(out.length).toBe(2);
    expect(q.warnings).toEqual(['server group "g2" failed: target "g2-r0": HTTP 503: down']);
  });
});

describe('FanoutStorage.metadata', () => {
  const counter = { type: 'counter', help: 'Requests.', unit: '' };
  const counter2 = { type: 'counter', help: 'All requests.', unit: '' };
  const gauge = { type: 'gauge', help: 'Up.', unit: '' };

  it('unions every target in group order, identical entries once, limit_per_metric applied after the union', async () => {
    const a = withMetadata(
      new Map([
        ['http_requests_total', [counter]],
        ['up', [gauge]],
      ]),
    );
    const b = withMetadata(new Map([['http_requests_total', [counter, counter2]]]));
    const empty = new MemoryStorage(); // no metadata at all
    const f = new FanoutStorage([group('g1', [a, empty]), group('g2', [b])], { maxConcurrency: 4 });
    const all = await f.forQuery().storage.metadata!(undefined, 0);
    expect(Object.fromEntries(all)).toEqual({ http_requests_total: [counter, counter2], up: [gauge] });
    const one = await f.forQuery().storage.metadata!(undefined, 1);
    expect(Object.fromEntries(one)).toEqual({ http_requests_total: [counter], up: [gauge] });
    const only = await f.forQuery().storage.metadata!('up', 0);
    expect(Object.fromEntries(only)).toEqual({ up: [gauge] });
  });

  it('failing groups follow select rules', async () => {
    const a = withMetadata(new Map([['up', [gauge]]]));
    const f = new FanoutStorage([group('g1', [a]), group('g2', [failing()], { ignoreError: true })], { maxConcurrency: 4 });
    const q = f.forQuery();
    expect(Object.fromEntries(await q.storage.metadata!(undefined, 0))).toEqual({ up: [gauge] });
    expect(q.warnings).toEqual(['server group "g2" failed: target "g2-r0": HTTP 503: down']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('/series', () => {
  const api = createSeriesApi({ storage: memory(), semantics: 'prometheus-2' });

  it('needs match[]', async () => {
    const r = await call(api, '/series');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'error', errorType: 'bad_data', error: 'no match[] parameter provided' });
  });

  it('without start and end covers all time; several match[] are unioned in label order', async () => {
    const r = await call(
      api,
      `/series?${new URLSearchParams([
        ['match[]', 'up'],
        ['match[]', '{job="api"}'],
        ['match[]', 'up{job="web"}'],
      ])}`,
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe(
      '{"status":"success","data":[' +
        '{"__name__":"http_requests_total","code":"200","instance":"a","job":"api"},' +
        '{"__name__":"up","instance":"a","job":"api"},' +
        '{"__name__":"up","instance":"b","job":"web"}]}',
    );
  });

  it('start and end bound the series by their samples', async () => {
    const q = (start: number, end: number) => call(api, `/series?match[]=${encodeURIComponent('{job=~".+"}')}&start=${start / 1000}&end=${end / 1000}`);
    const names = (r: { json: { data: Record<string, string>[] } }) => r.json.data.map((l) => l.__name__);
    expect(names(await q(T0, T0 + 10 * MIN))).toEqual(['dotted', 'early', 'http_requests_total', 'up', 'up']);
    expect(names(await q(T0 + 2 * MIN, T0 + 10 * MIN))).toEqual(['dotted', 'http_requests_total', 'up', 'up']);
    expect(names(await q(T0 + 10 * MIN, T0 + 20 * MIN))).toEqual([]);
  });

  it("limit truncates with Prometheus's warning (3.x), and only when there are more; 2.42 ignores it", async () => {
    const api3 = createSeriesApi({ storage: memory() });
    const r = await call(api3, '/series?match[]=up&limit=1');
    expect(r.json).toEqual({ status: 'success', data: [{ __name__: 'up', instance: 'a', job: 'api' }], warnings: ['results truncated due to limit'] });
    expect((await call(api, '/series?match[]=up&limit=1')).json).toEqual((await call(api, '/series?match[]=up')).json);
    expect((await call(api, '/series?match[]=up&limit=x')).status).toBe(200);
    const exact = await call(api3, '/series?match[]=up&limit=2');
    expect(exact.json.warnings).toBeUndefined();
    expect(exact.json.data.length).toBe(2);
  });

  it('takes a POST form (Grafana, promtool), match[] from body and URL together', async () => {
    const r = await call(
      api,
      `/series?match[]=${encodeURIComponent('{job="web"}')}`,
      postForm(`match[]=${encodeURIComponent('{job="api"}')}&start=${T0 / 1000}`),
    );
    expect(r.json.data.map((l: Record<string, string>) => `${l.__name__}/${l.job}`)).toEqual(['http_requests_total/api', 'up/api', 'up/web']);
  });

  it('escapes label values the way Go does', async () => {
    const r = await call(api, '/series?match[]=dotted');
    expect(r.text).toBe('{"status":"success","data":[{"__name__":"dotted","a.b":"x\\u003cy\\u003e","job":"odd"}]}');
  });

  it.each([
    ['/series?match[]=up(', 'invalid parameter "match[]": 1:3: parse error: unexpected "("'],
    ['/series?match[]=up[5m]', 'invalid parameter "match[]": 1:3: parse error: unexpected "["'],
    ['/series?match[]=', 'invalid parameter "match[]": 1:1: parse error: unexpected end of input'],
    [`/series?match[]=${encodeURIComponent('{job=""}')}`, 'invalid parameter "match[]": match[] must contain at least one non-empty matcher'],
    ['/series?match[]=up&start=abc', `invalid parameter "start": Invalid time value for 'start': cannot parse "abc" to a valid timestamp`],
    ['/series?match[]=up&end=x', `invalid parameter "end": Invalid time value for 'end': cannot parse "x" to a valid timestamp`],
  ])('%s is bad_data: %s', async (path, msg) => {
    const r = await call(api, path);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'error', errorType: 'bad_data', error: msg });
  });

  it.each([
    ['/series?match[]=up&limit=x', 'invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax'],
    ['/series?match[]=up&limit=-1', 'invalid parameter "limit": limit must be non-negative'],
  ])('3.x: %s is bad_data: %s', async (path, msg) => {
    const r = await call(createSeriesApi({ storage: memory() }), path);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 'error', errorType: 'bad_data', error: msg });
  });

  it('3.x wording of the time error in prometheus-3 mode', async () => {
    const r = await call(createSeriesApi({ storage: memory() }), '/series?match[]=up&start=abc');
    expect(r.json.error).toBe(`invalid parameter "start": invalid time value for 'start': cannot parse "abc" to a valid timestamp`);
  });

  it('a server group that is down is "unavailable" (503); its warnings reach the answer otherwise', async () => {
    const down = createSeriesApi({ storage: () => new FanoutStorage([group('g', [failing()])], { maxConcurrency: 1 }).forQuery() });
    const r = await call(down, '/series?match[]=up');
    expect(r.status).toBe(503);
    expect(r.json).toEqual({ status: 'error', errorType: 'unavailable', error: 'server group "g" failed: target "g-r0": HTTP 503: down' });
    const partial = createSeriesApi({
      storage: () => new FanoutStorage([group('ok', [memory()]), group('g', [failing()], { ignoreError: true })], { maxConcurrency: 1 }).forQuery(),
    });
    const p = await call(partial, '/series?match[]=up&limit=1');
    expect(p.json.warnings).toEqual(['server group "g" failed: target "g-r0": HTTP 503: down', 'results truncated due to limit']);
  });
});

describe('/labels and /label/:name/values', () => {
  const api = createSeriesApi({ storage: memory(), semantics: 'prometheus-2' });

  it('label names: all series without match[], the union over several match[]', async () => {
    expect((await call(api, '/labels')).json.data).toEqual(['__name__', 'a.b', 'code', 'instance', 'job']);
    const r = await call(
      api,
      `/labels?${new URLSearchParams([
        ['match[]', 'up'],
        ['match[]', 'early'],
      ])}`,
    );
    expect(r.json).toEqual({ status: 'success', data: ['__name__', 'instance', 'job'] });
    const post = await call(api, '/labels', postForm(`match[]=http_requests_total&start=${T0 / 1000}&end=${(T0 + MIN) / 1000}`));
    expect(post.json.data).toEqual(['__name__', 'code', 'instance', 'job']);
    expect((await call(api, `/labels?match[]=up&start=${(T0 + 20 * MIN) / 1000}`)).json.data).toEqual([]);
  });

  it('label values: __name__, union over match[], time range, limit', async () => {
    expect((await call(api, '/label/__name__/values')).json.data).toEqual(['dotted', 'early', 'http_requests_total', 'up']);
    expect(
      (
        await call(
          api,
          `/label/job/values?${new URLSearchParams([
            ['match[]', 'up'],
            ['match[]', 'early'],
          ])}`,
        )
      ).json.data,
    ).toEqual(['api', 'batch', 'web']);
    expect((await call(api, `/label/__name__/values?start=${(T0 + 2 * MIN) / 1000}`)).json.data).toEqual(['dotted', 'http_requests_total', 'up']);
    expect((await call(api, '/label/job/values?limit=2')).json.warnings).toBeUndefined();
    expect((await call(createSeriesApi({ storage: memory() }), '/label/job/values?limit=2')).json).toEqual({
      status: 'success',
      data: ['api', 'batch'],
      warnings: ['results truncated due to limit'],
    });
    expect((await call(api, '/label/nosuch/values')).text).toBe('{"status":"success","data":[]}');
  });

  it('label names are checked the 2.42 way in prometheus-2 mode, the 3.x way (UTF-8, U__ escapes) otherwise', async () => {
    for (const name of ['0abc', 'a-b', 'a.b']) {
      const r = await call(api, `/label/${encodeURIComponent(name)}/values`);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ status: 'error', errorType: 'bad_data', error: `invalid label name: "${name}"` });
    }
    const p3 = createSeriesApi({ storage: memory() });
    expect((await call(p3, `/label/${encodeURIComponent('a.b')}/values`)).json.data).toEqual(['x<y>']);
    expect((await call(p3, '/label/U__a_2e_b/values')).json.data).toEqual(['x<y>']);
    expect(unescapeLabelName('U__a__b_1F600_')).toBe('a_b😀');
    expect(unescapeLabelName('U__bad_zz_')).toBe('U__bad_zz_');
  });

  it("bad match[] is bad_data with the parser's text alone; POST to label values is 405 as in Prometheus", async () => {
    expect((await call(api, '/labels?match[]=up(')).json).toEqual({ status: 'error', errorType: 'bad_data', error: '1:3: parse error: unexpected "("' });
    expect((await call(api, `/label/job/values?match[]=${encodeURIComponent('{}')}`)).json).toEqual({
      status: 'error',
      errorType: 'bad_data',
      error: 'match[] must contain at least one non-empty matcher',
    });
    const r = await call(api, '/label/job/values', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.text).toBe('Method Not Allowed\n');
  });
});

describe('/metadata', () => {
  const counter = { type: 'counter', help: 'Requests "quoted" <b>.', unit: '' };
  const gauge = { type: 'gauge', help: 'Up.', unit: 'seconds' };
  const api = createMetadataApi({
    storage: withMetadata(
      new Map([
        ['up', [gauge]],
        ['http_requests_total', [counter, { ...counter, help: 'Other.' }]],
        ['a_first', [gauge]],
      ]),
    ),
  });

  it("writes metrics in name order with Prometheus's field order", async () => {
    const r = await call(api, '/metadata');
    expect(r.text).toBe(
      '{"status":"success","data":{"a_first":[{"type":"gauge","help":"Up.","unit":"seconds"}],' +
        '"http_requests_total":[{"type":"counter","help":"Requests \\"quoted\\" \\u003cb\\u003e.","unit":""},{"type":"counter","help":"Other.","unit":""}],' +
        '"up":[{"type":"gauge","help":"Up.","unit":"seconds"}]}}',
    );
  });

  it('limit, limit_per_metric and metric', async () => {
    expect(Object.keys((await call(api, '/metadata?limit=2')).json.data)).toEqual(['a_first', 'http_requests_total']);
    expect((await call(api, '/metadata?limit=0')).json.data).toEqual({});
    expect(Object.keys((await call(api, '/metadata?limit=-1')).json.data).length).toBe(3);
    expect((await call(api, '/metadata?limit_per_metric=1&metric=http_requests_total')).json.data).toEqual({ http_requests_total: [counter] });
    expect((await call(api, '/metadata?metric=nope')).text).toBe('{"status":"success","data":{}}');
  });

  it("bad numbers get Prometheus's texts", async () => {
    expect((await call(api, '/metadata?limit=x')).json).toEqual({ status: 'error', errorType: 'bad_data', error: 'limit must be a number' });
    expect((await call(api, '/metadata?limit_per_metric=1.5')).json).toEqual({
      status: 'error',
      errorType: 'bad_data',
      error: 'limit_per_metric must be a number',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('/federate', () => {
  const NOW = T0 + 20 * MIN;
  function fedStorage(): MemoryStorage {
    const m = new MemoryStorage();
    for (let i = 0; i <= 80; i++) {
      const t = T0 + i * 15_000; // up to NOW
      m.add({ __name__: 'up', job: 'api', instance: 'a' }, t, 1);
      m.add({ __name__: 'mem_bytes', job: 'api', instance: 'a' }, t, 1_523_456_789 + i);
      m.add({ __name__: 'tiny', job: 'api' }, t, 0.00004);
      m.add({ __name__: 'esc', job: 'api', instance: 'a', v: 'a"b\\c\nd' }, t, -2.5);
    }
    // Latest sample stale: left out entirely (not its previous sample).
    m.add({ __name__: 'up', job: 'gone', instance: 'g' }, NOW - 30_000, 1);
    m.add({ __name__: 'up', job: 'gone', instance: 'g' }, NOW - 15_000, NaN, { stale: true });
    // Last sample older than the 5m lookback: left out.
    m.add({ __name__: 'up', job: 'old', instance: 'o' }, NOW - 5 * MIN - 1, 1);
    // Exactly at the lookback edge: kept.
    m.add({ __name__: 'up', job: 'edge', instance: 'e' }, NOW - 5 * MIN, 1);
    // After "now": not seen; the sample before it is.
    m.add({ __name__: 'up', job: 'future', instance: 'f' }, NOW - MIN, 7);
    m.add({ __name__: 'up', job: 'future', instance: 'f' }, NOW + 1, 8);
    m.add({ job: 'nameless' }, NOW, 1);
    return m;
  }
  const app = createFederation({ storage: fedStorage(), lookbackDeltaMs: 5 * MIN, now: () => NOW });

  it('writes the latest sample of each series in the lookback window, grouped by name, as Prometheus does', async () => {
    const q = new URLSearchParams([
      ['match[]', '{__name__=~"up|mem_bytes"}'],
      ['match[]', 'up{job="api"}'],
      ['match[]', 'tiny'],
      ['match[]', 'esc'],
    ]);
    const r = await call(app, `/federate?${q}`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.text).toBe(
      '# TYPE esc untyped\n' +
        `esc{instance="a",job="api",v="a\\"b\\\\c\\nd"} -2.5 ${NOW}\n` +
        '# TYPE mem_bytes untyped\n' +
        `mem_bytes{instance="a",job="api"} 1.523456869e+09 ${NOW}\n` +
        '# TYPE tiny untyped\n' +
        `tiny{job="api",instance=""} 4e-05 ${NOW}\n` +
        '# TYPE up untyped\n' +
        `up{instance="a",job="api"} 1 ${NOW}\n` +
        `up{instance="e",job="edge"} 1 ${NOW - 5 * MIN}\n` +
        `up{instance="f",job="future"} 7 ${NOW - MIN}\n`,
    );
  });

  it('the output parses back as text format 0.0.4', async () => {
    const r = await call(app, `/federate?match[]=${encodeURIComponent('{job=~".+"}')}`);
    const samples: string[] = [];
    parseExposition(r.text, 'text', { family: () => {}, sample: (s) => samples.push(`${s.name} ${s.value} ${s.timestampMs}`) });
    expect(samples).toContain(`mem_bytes 1523456869 ${NOW}`);
    expect(samples.length).toBe(6); // the nameless, stale and too old series are left out
  });

  it('no match[] is an empty answer; a bad selector a plain-text 400; POST is not allowed', async () => {
    const empty = await call(app, '/federate');
    expect(empty.status).toBe(200);
    expect(empty.text).toBe('');
    const bad = await call(app, '/federate?match[]=up(');
    expect(bad.status).toBe(400);
    expect(bad.type).toBe('text/plain; charset=utf-8');
    expect(bad.text).toBe('1:3: parse error: unexpected "("\n');
    expect((await call(app, '/federate', { method: 'POST' })).status).toBe(405);
  });

  it('a server group that is down without ignore_error: 503 naming it', async () => {
    const down = createFederation({ storage: () => new FanoutStorage([group('g', [failing()])], { maxConcurrency: 1 }).forQuery(), lookbackDeltaMs: 5 * MIN });
    const r = await call(down, '/federate?match[]=up');
    expect(r.status).toBe(503);
    expect(r.text).toBe('server group "g" failed: target "g-r0": HTTP 503: down\n');
  });

  it("formats values as Go's strconv.FormatFloat(v, 'g', -1, 64)", () => {
    const cases: [number, string][] = [
      [1, '1'],
      [0, '0'],
      [-0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
      [123456, '123456'],
      [1e6, '1e+06'],
      [54685696, '5.4685696e+07'],
      [0.0001, '0.0001'],
      [4.9734e-5, '4.9734e-05'],
      [-2.5e-7, '-2.5e-07'],
      [1e21, '1e+21'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [5e-324, '5e-324'],
      [NaN, 'NaN'],
      [Infinity, '+Inf'],
      [-Infinity, '-Inf'],
      [999999.9, '999999.9'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [v, want] of cases) expect(goFormatFloatG(v), String(v)).toBe(want);
  });
});

describe('/status/config YAML', () => {
  it('shows defaults and durations with units, and no secret', () => {
    const config = parseConfigText(`
shard:
  num_shards: 2
  sources:
    - url: http://user:URLPASS-1@127.0.0.1:9100/metrics
      basic_auth: {username: prom, password: BASICPASS-2}
    - url: http://127.0.0.1:9101/metrics
      bearer_token: TOKEN-4
    - url: http://127.0.0.1:9102/metrics
      headers: {Authorization: "Bearer HEADER-3", X-Scope-OrgID: tenant-1}
query:
  server_groups:
    - name: a
      static_configs: [{targets: ["127.0.0.1:9090"]}]
      http_headers: {Authorization: "Basic HEADER-5", X-Api-Key: KEY-6, Cookie: "s=COOKIE-7", X-Scope-OrgID: tenant-2}
      query_params: {access_token: PARAM-8, tenant: t3}
      timeout: 90s
`);
    const yaml = configToYaml(config);
    for (const secret of ['URLPASS-1', 'BASICPASS-2', 'HEADER-3', 'TOKEN-4', 'HEADER-5', 'KEY-6', 'COOKIE-7', 'PARAM-8']) expect(yaml).not.toContain(secret);
    expect(yaml).toContain('url: http://user:<secret>@127.0.0.1:9100/metrics');
    expect(yaml).toContain('password: <secret>');
    expect(yaml).toContain('bearer_token: <secret>');
    expect(yaml).toContain('X-Scope-OrgID: tenant-2');
    expect(yaml).toContain('tenant: t3');
    expect(yaml).toContain('timeout: 1m30s');
    expect(yaml).toContain('scrape_interval: 15s');
    expect(yaml).toContain('lookback_delta: 5m');
    expect(yaml).toContain('anti_affinity: 10s');
  });
});
