// The query endpoints of the HTTP API against Prometheus's parameters, errors and JSON, byte for byte.

import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { Storage } from '../../../src/storage/interface.js';
import { createQueryApi, formatTimestamp, formatValue, parseDurationNs, parseTimeMs } from '../../../src/server/api/query-api.js';

const T0 = 1435781451781; // 2015-07-01T20:10:51.781Z

function makeStorage(): MemoryStorage {
  const s = new MemoryStorage();
  for (let i = 0; i <= 10; i++) {
    const t = T0 - 60_000 + i * 6_000;
    s.add({ __name__: 'up', job: 'api', instance: 'a:9090' }, t, 1);
    s.add({ __name__: 'up', job: 'api', instance: 'b:9090' }, t, 0);
    s.add({ __name__: 'odd', kind: 'nan' }, t, NaN);
    s.add({ __name__: 'odd', kind: 'pinf' }, t, Infinity);
    s.add({ __name__: 'odd', kind: 'ninf' }, t, -Infinity);
    s.add({ __name__: 'odd', kind: 'tiny' }, t, 1e-7);
    s.add({ __name__: 'odd', kind: 'html', v: '<a&b>' }, t, 0.1);
  }
  return s;
}

function makeApi(opts: { engine?: Engine; defaultTimeoutMs?: number } = {}) {
  return createQueryApi({ storage: makeStorage(), engine: opts.engine ?? new Engine(), now: () => T0, defaultTimeoutMs: opts.defaultTimeoutMs });
}

const api = makeApi();

async function get(path: string, params: Record<string, string>, app = api) {
  const res = await app.request(`${path}?${new URLSearchParams(params).toString()}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

async function post(path: string, params: Record<string, string>, urlParams: Record<string, string> = {}, app = api) {
  const qs = new URLSearchParams(urlParams).toString();
  const res = await app.request(`${path}${qs ? `?${qs}` : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, text: await res.text() };
}

function errBody(type: string, msg: string): string {
  return JSON.stringify({ status: 'error', errorType: type, error: msg });
}

describe('instant queries', () => {
  it('returns a vector in Prometheus envelope and label order', async () => {
    const r = await get('/query', { query: 'up', time: '1435781451.781' });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.text).toBe(
      '{"status":"success","data":{"resultType":"vector","result":[' +
        '{"metric":{"__name__":"up","instance":"a:9090","job":"api"},"value":[1435781451.781,"1"]},' +
        '{"metric":{"__name__":"up","instance":"b:9090","job":"api"},"value":[1435781451.781,"0"]}]}}',
    );
  });

  it('defaults time to now()', async () => {
    const r = await get('/query', { query: 'sum(up)' });
    expect(r.text).toBe('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1435781451.781,"1"]}]}}');
  });

  it('accepts RFC 3339 times', async () => {
    const r = await get('/query', { query: 'sum(up)', time: '2015-07-01T20:10:51.781Z' });
    expect(JSON.parse(r.text).data.result[0].value).toEqual([1435781451.781, '1']);
    const r2 = await get('/query', { query: 'sum(up)', time: '2015-07-01T22:10:51.781+02:00' });
    expect(JSON.parse(r2.text).data.result[0].value).toEqual([1435781451.781, '1']);
  });

  it('answers POST with a form body, and URL params too', async () => {
    const r = await post('/query', { query: 'sum(up)', time: '1435781451.781' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).data.result[0].value).toEqual([1435781451.781, '1']);
    const r2 = await post('/query', { query: 'count(up)' }, { time: '1435781451.781' });
    expect(JSON.parse(r2.text).data.result[0].value).toEqual([1435781451.781, '2']);
    // The body wins over the URL, like Go's FormValue.
    const r3 = await post('/query', { query: 'count(up)' }, { query: 'sum(up)', time: '1435781451.781' });
    expect(JSON.parse(r3.text).data.result[0].value[1]).toBe('2');
  });

  it('returns scalar results as [t,"v"]', async () => {
    const r = await get('/query', { query: '1 + 1.5', time: '1435781451' });
    expect(r.text).toBe('{"status":"success","data":{"resultType":"scalar","result":[1435781451,"2.5"]}}');
  });

  it('returns string results as [t,"s"]', async () => {
    const r = await get('/query', { query: '"hello <world>"', time: '1435781451.5' });
    expect(r.text).toBe('{"status":"success","data":{"resultType":"string","result":[1435781451.500,"hello \\u003cworld\\u003e"]}}');
  });

  it('formats NaN, +Inf, -Inf, tiny values and escapes label values like Go', async () => {
    const r = await get('/query', { query: 'odd', time: '1435781451.781' });
    expect(r.text).toBe(
      '{"status":"success","data":{"resultType":"vector","result":[' +
        '{"metric":{"__name__":"odd","kind":"html","v":"\\u003ca\\u0026b\\u003e"},"value":[1435781451.781,"0.1"]},' +
        '{"metric":{"__name__":"odd","kind":"nan"},"value":[1435781451.781,"NaN"]},' +
        '{"metric":{"__name__":"odd","kind":"ninf"},"value":[1435781451.781,"-Inf"]},' +
        '{"metric":{"__name__":"odd","kind":"pinf"},"value":[1435781451.781,"+Inf"]},' +
        '{"metric":{"__name__":"odd","kind":"tiny"},"value":[1435781451.781,"1e-07"]}]}}',
    );
  });

  it('returns range-vector selectors as a matrix', async () => {
    const r = await get('/query', { query: 'up{instance="a:9090"}[13s]', time: '1435781451.781' });
    expect(r.text).toBe(
      '{"status":"success","data":{"resultType":"matrix","result":[' +
        '{"metric":{"__name__":"up","instance":"a:9090","job":"api"},"values":[[1435781439.781,"1"],[1435781445.781,"1"],[1435781451.781,"1"]]}]}}',
    );
  });

  it('returns an empty result list', async () => {
    const r = await get('/query', { query: 'nothing_here', time: '1435781451' });
    expect(r.text).toBe('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });

  it('adds warnings and infos only when present', async () => {
    const s = new MemoryStorage();
    s.add({ __name__: 'g' }, T0 - 1000, 1);
    s.add({ __name__: 'g' }, T0, 2);
    const app = createQueryApi({ storage: s, engine: new Engine(), now: () => T0 });
    const r = await get('/query', { query: 'rate(g[1m])', time: String(T0 / 1000) }, app);
    const body = JSON.parse(r.text);
    expect(body.status).toBe('success');
    expect(body.infos).toEqual([expect.stringContaining('does not end in _total/_sum/_count/_bucket')]);
    expect('warnings' in body).toBe(false);
    const r2 = await get('/query', { query: 'g', time: String(T0 / 1000) }, app);
    expect(r2.text).not.toMatch(/warnings|infos/);
  });
});

describe('range queries', () => {
  it('returns a matrix (GET)', async () => {
    const r = await get('/query_range', { query: 'up{instance="b:9090"} + 1', start: '1435781440', end: '1435781451.5', step: '5' });
    expect(r.status).toBe(200);
    expect(r.text).toBe(
      '{"status":"success","data":{"resultType":"matrix","result":[' +
        '{"metric":{"instance":"b:9090","job":"api"},"values":[[1435781440,"1"],[1435781445,"1"],[1435781450,"1"]]}]}}',
    );
  });

  it('returns a matrix (POST, Prometheus durations and RFC 3339)', async () => {
    const r = await post('/query_range', { query: 'sum(up)', start: '2015-07-01T20:10:40Z', end: '2015-07-01T20:10:50.5Z', step: '5s' });
    expect(r.text).toBe(
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1435781440,"1"],[1435781445,"1"],[1435781450,"1"]]}]}}',
    );
  });

  it('turns a scalar into a one-series matrix', async () => {
    const r = await get('/query_range', { query: '0.5', start: '100', end: '100.25', step: '0.125' });
    expect(r.text).toBe('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[100,"0.5"],[100.125,"0.5"],[100.250,"0.5"]]}]}}');
  });

  it('rejects range-vector expressions', async () => {
    const r = await get('/query_range', { query: 'up[5m]', start: '1', end: '2', step: '1' });
    expect(r.status).toBe(400);
    expect(r.text).toBe(
      errBody('bad_data', 'invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector'),
    );
  });

  it('accepts exactly 11,000 steps and refuses one more', async () => {
    const ok = await get('/query_range', { query: '1', start: '0', end: '11000', step: '1' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).data.result[0].values).toHaveLength(11001);
    const bad = await get('/query_range', { query: '1', start: '0', end: '11001', step: '1' });
    expect(bad.status).toBe(400);
    expect(bad.text).toBe(errBody('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)'));
  });
});

describe('parameter errors', () => {
  const cases: [string, string, Record<string, string>, string][] = [
    ['missing start', '/query_range', { query: 'up', end: '2', step: '1' }, 'invalid parameter "start": cannot parse "" to a valid timestamp'],
    ['bad start', '/query_range', { query: 'up', start: 'x', end: '2', step: '1' }, 'invalid parameter "start": cannot parse "x" to a valid timestamp'],
    [
      'bad end',
      '/query_range',
      { query: 'up', start: '1', end: '2015-13-01T00:00:00Z', step: '1' },
      'invalid parameter "end": cannot parse "2015-13-01T00:00:00Z" to a valid timestamp',
    ],
    [
      'end before start',
      '/query_range',
      { query: 'up', start: '2', end: '1', step: '1' },
      'invalid parameter "end": end timestamp must not be before start time',
    ],
    ['bad step', '/query_range', { query: 'up', start: '1', end: '2', step: '1x' }, 'invalid parameter "step": cannot parse "1x" to a valid duration'],
    ['missing step', '/query_range', { query: 'up', start: '1', end: '2' }, 'invalid parameter "step": cannot parse "" to a valid duration'],
    [
      'zero step',
      '/query_range',
      { query: 'up', start: '1', end: '2', step: '0' },
      'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
    ],
    [
      'negative step',
      '/query_range',
      { query: 'up', start: '1', end: '2', step: '-5' },
      'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
    ],
    [
      'bad timeout (range)',
      '/query_range',
      { query: 'up', start: '1', end: '2', step: '1', timeout: 'soon' },
      'invalid parameter "timeout": cannot parse "soon" to a valid duration',
    ],
    [
      'bad time',
      '/query',
      { query: 'up', time: 'yesterday' },
      `invalid parameter "time": invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`,
    ],
    ['bad timeout', '/query', { query: 'up', timeout: '1h1h' }, 'invalid parameter "timeout": cannot parse "1h1h" to a valid duration'],
    ['missing query', '/query', {}, 'invalid parameter "query": 1:1: parse error: no expression found in input'],
    ['missing query (range)', '/query_range', { start: '1', end: '2', step: '1' }, 'invalid parameter "query": 1:1: parse error: no expression found in input'],
  ];
  for (const [name, path, params, msg] of cases) {
    it(`${name} → 400 bad_data`, async () => {
      const r = await get(path, params);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text)).toEqual({ status: 'error', errorType: 'bad_data', error: msg });
    });
  }

  it('reports a PromQL parse error with its position', async () => {
    const r = await get('/query', { query: 'sum(up', time: '1' });
    expect(r.status).toBe(400);
    const body = JSON.parse(r.text);
    expect(body.errorType).toBe('bad_data');
    expect(body.error).toMatch(/^invalid parameter "query": 1:\d+: parse error: /);
    expect(r.text).toBe(errBody('bad_data', body.error));
  });

  it("accepts Prometheus's max and min times", async () => {
    const r = await get('/query', { query: '1', time: '292277025-08-18T07:12:54.999999999Z' });
    expect(r.status).toBe(200);
    // Prometheus writes 9223309901257974.999; ms beyond 2^53 lose their last digits in a double.
    expect(r.text).toMatch(/^\{"status":"success","data":\{"resultType":"scalar","result":\[92233099012579\d\d\.\d{3},"1"\]\}\}$/);
    expect(parseTimeMs('292277025-08-18T07:12:54.999999999Z')).toBe(9223309901257974 * 1000 + 999);
    expect(parseTimeMs('-292273086-05-16T16:47:06Z')).toBe(-9223309901257974000);
  });
});

describe('execution errors and timeouts', () => {
  it('maps an execution error to 422', async () => {
    const app = makeApi({ engine: new Engine({ maxSamples: 1 }) });
    const r = await get('/query', { query: 'up', time: '1435781451.781' }, app);
    expect(r.status).toBe(422);
    expect(r.text).toBe(errBody('execution', 'query processing would load too many samples into memory in query execution'));
  });

  it('maps vector matching errors to 422', async () => {
    const r = await get('/query', { query: 'up + on() up', time: '1435781451.781' });
    expect(r.status).toBe(422);
    expect(JSON.parse(r.text).errorType).toBe('execution');
  });

  it('times out with 503 when the timeout parameter is exceeded', async () => {
    const r = await get('/query', { query: 'up', time: '1435781451.781', timeout: '-1' });
    expect(r.status).toBe(503);
    expect(r.text).toBe(errBody('timeout', 'query timed out in expression evaluation'));
  });

  it('caps the timeout by defaultTimeoutMs', async () => {
    const app = makeApi({ defaultTimeoutMs: 0 });
    const r = await get('/query_range', { query: 'up', start: '1435781440', end: '1435781450', step: '5', timeout: '1m' }, app);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).errorType).toBe('timeout');
    const ok = await get('/query', { query: 'up', time: '1435781451.781', timeout: '1m' });
    expect(ok.status).toBe(200);
  });
});

function slowStorage(delayMs: number, busy: boolean): Storage {
  return {
    async select() {
      if (busy) {
        const until = Date.now() + delayMs;
        while (Date.now() < until) {
          // spin: no chance for timers to fire
        }
      } else {
        await new Promise((r) => setTimeout(r, delayMs));
      }
      return [];
    },
    async labelNames() {
      return [];
    },
    async labelValues() {
      return [];
    },
  };
}

describe('timeouts and cancellation of running queries', () => {
  it('aborts a query waiting on storage when its timeout passes (503)', async () => {
    const app = createQueryApi({ storage: slowStorage(200, false), engine: new Engine(), now: () => T0 });
    const started = Date.now();
    const r = await get('/query', { query: 'up', time: '1', timeout: '20ms' }, app);
    expect(r.status).toBe(503);
    expect(r.text).toBe(errBody('timeout', 'query timed out in expression evaluation'));
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a result computed past the deadline as a timeout', async () => {
    const app = createQueryApi({ storage: slowStorage(40, true), engine: new Engine(), now: () => T0 });
    const r = await get('/query', { query: 'up', time: '1', timeout: '0.01' }, app);
    expect(r.status).toBe(503);
    const ok = await get('/query', { query: 'up', time: '1', timeout: '10s' }, app);
    expect(ok.status).toBe(200);
  });

  it('maps a canceled request to 499 canceled', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const res = await api.request(new Request('http://localhost/query?query=up&time=1', { signal: ctl.signal }));
    expect(res.status).toBe(499);
    expect(await res.text()).toBe(errBody('canceled', 'query was canceled in expression evaluation'));
  });
});

describe('other endpoints', () => {
  it('format_query returns the formatted expression', async () => {
    const r = await get('/format_query', { query: 'sum  by(job)(rate(up[5m]))' });
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"status":"success","data":"sum by (job) (rate(up[5m]))"}');
    const p = await post('/format_query', { query: 'foo{a="b"}  +  1' });
    expect(JSON.parse(p.text)).toEqual({ status: 'success', data: 'foo{a="b"} + 1' });
  });

  it('format_query reports parse errors', async () => {
    const r = await get('/format_query', { query: 'foo{' });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error).toMatch(/^invalid parameter "query": 1:\d+: parse error: /);
  });

  it('works mounted at /api/v1 in a parent app', async () => {
    const root = new Hono();
    root.route('/api/v1', api);
    const res = await root.request('/api/v1/query?query=sum(up)&time=1435781451.781');
    expect(await res.text()).toBe('{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1435781451.781,"1"]}]}}');
  });

  it("status/buildinfo reports promfront's version", async () => {
    const r = await get('/status/buildinfo', {});
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    expect(body.status).toBe('success');
    expect(Object.keys(body.data)).toEqual(['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion']);
    expect(body.data.version).toBe('0.1.0');
  });
});

describe('formatting helpers', () => {
  it('writes timestamps like jsonutil.MarshalTimestamp', () => {
    expect(formatTimestamp(1435781451000)).toBe('1435781451');
    expect(formatTimestamp(1435781451500)).toBe('1435781451.500');
    expect(formatTimestamp(1435781451781)).toBe('1435781451.781');
    expect(formatTimestamp(1435781451007)).toBe('1435781451.007');
    expect(formatTimestamp(-1500)).toBe('-1.500');
    expect(formatTimestamp(0)).toBe('0');
  });

  it('writes values like jsonutil.MarshalFloat', () => {
    expect(formatValue(1)).toBe('1');
    expect(formatValue(0.1)).toBe('0.1');
    expect(formatValue(123456789012345680000)).toBe('123456789012345680000');
    expect(formatValue(1e21)).toBe('1e+21');
    expect(formatValue(-1.5e-7)).toBe('-1.5e-07');
    expect(formatValue(1e-6)).toBe('0.000001');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(-0)).toBe('-0');
  });

  it('parses times and durations like api.go', () => {
    expect(parseTimeMs('1435781451.781')).toBe(1435781451781);
    expect(parseTimeMs('1435781451.7816')).toBe(1435781451782);
    expect(parseTimeMs('-1.5')).toBe(-1500);
    expect(parseTimeMs('1e3')).toBe(1_000_000);
    expect(parseTimeMs('2015-07-01T20:10:51.7819Z')).toBe(1435781451781);
    expect(parseTimeMs('2015-07-01T20:10:51Z')).toBe(1435781451000);
    expect(() => parseTimeMs('2015-02-29T00:00:00Z')).toThrow('cannot parse "2015-02-29T00:00:00Z" to a valid timestamp');
    expect(parseDurationNs('15s')).toBe(15e9);
    expect(parseDurationNs('1m30s')).toBe(90e9);
    expect(parseDurationNs('0.25')).toBe(250e6);
    expect(() => parseDurationNs('1e300')).toThrow('cannot parse "1e300" to a valid duration. It overflows int64');
  });
});

describe('storage that is unavailable', () => {
  it('answers 503 "unavailable" with the storage error naming the group, and passes query warnings through', async () => {
    const { GroupError } = await import('../../../src/errors.js');
    const failing: Storage = {
      select: async () => {
        throw new GroupError('shard-1', 'http://10.0.0.1:9090', 'target "http://10.0.0.1:9090": timeout after 5s');
      },
      labelNames: async () => [],
      labelValues: async () => [],
    };
    const down = createQueryApi({ storage: failing, engine: new Engine() });
    const res = await down.request('/query?query=up&time=100');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'error',
      errorType: 'unavailable',
      error: 'server group "shard-1" failed: target "http://10.0.0.1:9090": timeout after 5s',
    });

    const warned = createQueryApi({ storage: () => ({ storage: makeStorage(), warnings: ['server group "down" failed: refused'] }), engine: new Engine() });
    const ok = (await (await warned.request('/query?query=1&time=100')).json()) as { status: string; warnings?: string[] };
    expect(ok.status).toBe('success');
    expect(ok.warnings).toEqual(['server group "down" failed: refused']);
  });
});

describe('large range-query answers', () => {
  /** 600 series x 241 samples: a range query over them has 144,600 points, enough to be streamed. */
  function bigStorage(): MemoryStorage {
    const m = new MemoryStorage();
    for (let s = 0; s < 600; s++) {
      for (let i = 0; i <= 240; i++) m.add({ __name__: 'big', instance: `i-${s}`, pad: `p${s % 7}` }, i * 15_000, s * 1000 + i / 3);
    }
    return m;
  }

  it('are written series by series, and are the same JSON a small answer would be', async () => {
    const storage = bigStorage();
    const app = createQueryApi({ storage, engine: new Engine(), now: () => 3_600_000 });
    const params = { query: 'big', start: '0', end: '3600', step: '15' };
    const res = await app.request(`/query_range?${new URLSearchParams(params)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBeNull(); // streamed
    const text = await res.text();
    const body = JSON.parse(text) as { status: string; data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] } };
    expect(body.status).toBe('success');
    expect(body.data.resultType).toBe('matrix');
    expect(body.data.result).toHaveLength(600);
    // Each series' part is byte-identical to the same series asked alone (a small, unstreamed answer).
    for (const s of [0, 1, 299, 599]) {
      const one = await (await app.request(`/query_range?${new URLSearchParams({ ...params, query: `big{instance="i-${s}"}` })}`)).text();
      const oneSeries = one.slice(one.indexOf('"result":[') + 10, one.lastIndexOf(']}}'));
      expect(text).toContain(oneSeries);
    }
    expect(body.data.result.map((r) => r.values.length)).toEqual(new Array(600).fill(241));
    expect(text.startsWith('{"status":"success","data":{"resultType":"matrix","result":[{"metric":')).toBe(true);
    expect(text.endsWith(']}}')).toBe(true);
  });

  it('are cut into chunks between characters, never inside a multi-byte one', async () => {
    const m = new MemoryStorage();
    // Long label values of 2-, 3- and 4-byte characters (a surrogate pair), so chunk edges fall in them.
    const name = (s: number) => `${'ü€😀'.repeat(40)}-${'x'.repeat(s % 13)}`;
    for (let s = 0; s < 6000; s++) {
      for (let i = 0; i <= 40; i++) m.add({ __name__: 'wide', instance: `i-${s}`, name: name(s) }, i * 15_000, s + i);
    }
    const app = createQueryApi({ storage: m, engine: new Engine(), now: () => 3_600_000 });
    const res = await app.request(`/query_range?${new URLSearchParams({ query: 'wide', start: '0', end: '600', step: '15' })}`);
    const reader = res.body!.getReader();
    const texts: string[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) texts.push(new TextDecoder('utf-8', { fatal: true }).decode(r.value));
    expect(texts.length).toBeGreaterThan(4);
    const body = JSON.parse(texts.join('')) as { data: { result: { metric: Record<string, string>; values: unknown[] }[] } };
    expect(body.data.result).toHaveLength(6000);
    for (const r of body.data.result) {
      expect(r.metric.name).toBe(name(Number(r.metric.instance.slice(2))));
      expect(r.values).toHaveLength(41);
    }
  });

  it('passed on verbatim are written as the downstream wrote them, also when larger than one piece', async () => {
    for (const n of [3, 40_000]) {
      const result = Array.from({ length: n }, (_, i) => `{"metric":{"__name__":"v","i":"${i}"},"values":[[1,"${i}"],[2,"${i + 0.5}"]]}`);
      const data = Buffer.from(`{"resultType":"matrix","result":[${result.join(',')}]}`);
      const storage: Storage = {
        ...makeStorage(),
        select: () => Promise.resolve([]),
        labelNames: () => Promise.resolve([]),
        labelValues: () => Promise.resolve([]),
        pushdown: (req) => Promise.resolve(req.verbatim === undefined ? undefined : { series: [], verbatim: { data, series: n, points: 2 * n } }),
      };
      const app = createQueryApi({ storage, engine: new Engine(), now: () => 3_600_000 });
      const res = await app.request(`/query_range?${new URLSearchParams({ query: 'v', start: '1', end: '2', step: '1' })}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length, `${n} series`).toBe(data.length + 28);
      expect(text).toBe(`{"status":"success","data":${data.toString()}}`);
    }
  });

  it('keep their warnings at the end of the envelope', async () => {
    const storage = bigStorage();
    const app = createQueryApi({ storage: () => ({ storage, warnings: ['server group "x" failed: down'] }), engine: new Engine(), now: () => 3_600_000 });
    const text = await (await app.request(`/query_range?${new URLSearchParams({ query: 'big', start: '0', end: '3600', step: '15' })}`)).text();
    expect(text.endsWith(']},"warnings":["server group \\"x\\" failed: down"]}')).toBe(true);
    expect((JSON.parse(text) as { warnings: string[] }).warnings).toEqual(['server group "x" failed: down']);
  });
});
