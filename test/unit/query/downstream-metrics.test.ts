// JsonApiTarget's /api/v1/series and /api/v1/metadata clients and what they report to the query
// metrics, against tiny local HTTP servers that answer well, badly, or not at all; and the metrics'
// text output read back with our own exposition parser.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonApiTarget } from '../../../src/query/downstream/json-api-client.js';
import { QueryMetrics, type DownstreamObservation } from '../../../src/query/downstream/metrics.js';
import { labelsToRecord } from '../../../src/model/labels.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';
import { DownstreamError } from '../../../src/errors.js';

type Handler = (url: URL, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
let handler: Handler = () => {};
const seen: URL[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    seen.push(url);
    handler(url, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function target(observations: DownstreamObservation[], timeoutMs = 2_000): JsonApiTarget {
  return new JsonApiTarget({ url: base, timeoutMs, group: 'g1', observer: { observe: (o) => observations.push(o) } });
}

describe('JsonApiTarget.series and .metadata', () => {
  it('series: asks /api/v1/series with the selector and the range, returns sorted distinct label sets', async () => {
    handler = (_url, res) =>
      json(res, 200, {
        status: 'success',
        data: [
          { __name__: 'up', job: 'b' },
          { __name__: 'up', job: 'a', empty: '' },
          { __name__: 'up', job: 'b' },
        ],
      });
    const obs: DownstreamObservation[] = [];
    const t = target(obs);
    const got = await t.series([{ type: '=', name: '__name__', value: 'up' }], 1_700_000_000_000, 1_700_000_060_500);
    expect(got.map(labelsToRecord)).toEqual([
      { __name__: 'up', job: 'a' },
      { __name__: 'up', job: 'b' },
    ]);
    const url = seen[seen.length - 1];
    expect(url.pathname).toBe('/api/v1/series');
    expect(url.searchParams.getAll('match[]')).toEqual(['{__name__="up"}']);
    expect(url.searchParams.get('start')).toBe('1700000000');
    expect(url.searchParams.get('end')).toBe('1700000060.5');
    expect(obs).toEqual([expect.objectContaining({ group: 'g1', target: base, endpoint: 'series', outcome: 'success' })]);
    expect(obs[0].bytes).toBeGreaterThan(50);
    await t.close();
  });

  it("an open range is left to the downstream's own defaults", async () => {
    handler = (_url, res) => json(res, 200, { status: 'success', data: [] });
    const t = target([]);
    await t.series([{ type: '=', name: 'job', value: 'x' }], -9223309901257974 * 1000, 9223309901257974 * 1000 + 999);
    const url = seen[seen.length - 1];
    expect(url.searchParams.has('start')).toBe(false);
    expect(url.searchParams.has('end')).toBe(false);
    await t.close();
  });

  it('metadata: passes metric and limit_per_metric on, merges identical entries', async () => {
    handler = (_url, res) =>
      json(res, 200, {
        status: 'success',
        data: {
          up: [
            { type: 'gauge', help: 'Up.', unit: '' },
            { type: 'gauge', help: 'Up.', unit: '' },
            { type: 'gauge', help: 'Other.', unit: '' },
          ],
        },
      });
    const t = target([]);
    const got = await t.metadata('up', 2);
    expect(Object.fromEntries(got)).toEqual({
      up: [
        { type: 'gauge', help: 'Up.', unit: '' },
        { type: 'gauge', help: 'Other.', unit: '' },
      ],
    });
    const url = seen[seen.length - 1];
    expect(url.pathname).toBe('/api/v1/metadata');
    expect(url.searchParams.get('metric')).toBe('up');
    expect(url.searchParams.get('limit_per_metric')).toBe('2');
    expect(url.searchParams.has('limit')).toBe(false);
    await t.close();
  });

  it('bad answers are DownstreamErrors, reported with their kind', async () => {
    const obs: DownstreamObservation[] = [];
    const t = target(obs, 300);
    handler = (_url, res) => json(res, 200, { status: 'success', data: { not: 'a list' } });
    await expect(t.series([{ type: '=', name: 'job', value: 'x' }], 0, 1)).rejects.toThrow(`${base}: invalid response: data is not a list`);
    handler = (_url, res) => json(res, 200, { status: 'success', data: { up: [{ type: 1, help: 'x' }] } });
    await expect(t.metadata(undefined, 0)).rejects.toThrow('invalid response: metadata of "up" has a field that is not a string');
    handler = (_url, res) => json(res, 422, { status: 'error', errorType: 'execution', error: 'boom' });
    const err = await t.series([{ type: '=', name: 'job', value: 'x' }], 0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownstreamError);
    expect((err as DownstreamError).kind).toBe('http_status');
    handler = () => {}; // never answers
    await expect(t.series([{ type: '=', name: 'job', value: 'x' }], 0, 1)).rejects.toThrow('timeout after 300ms');
    const ctl = new AbortController();
    const pending = t.labelNames([], 0, 1, ctl.signal);
    setTimeout(() => ctl.abort(new Error('client went away')), 20);
    await expect(pending).rejects.toThrow('client went away');
    expect(obs.map((o) => [o.endpoint, o.outcome, o.errorKind])).toEqual([
      ['series', 'error', 'invalid_response'],
      ['metadata', 'error', 'invalid_response'],
      ['series', 'error', 'http_status'],
      ['series', 'timeout', 'timeout'],
      ['labels', 'canceled', undefined],
    ]);
    expect(obs[2].error).toBe(`${base}: HTTP 422: execution: boom`);
    server.closeAllConnections();
    await t.close();
  });
});

describe('QueryMetrics', () => {
  it('renders valid text exposition with counters and cumulative histograms', () => {
    const m = new QueryMetrics();
    const ok = { group: 'g"1', target: 'http://h:9090', endpoint: 'series' as const, bytes: 100 };
    m.observe({ ...ok, outcome: 'success', seconds: 0.003 });
    m.observe({ ...ok, outcome: 'success', seconds: 0.2 });
    m.observe({ ...ok, outcome: 'error', seconds: 1.5, errorKind: 'connection', error: 'refused' });
    m.observeQuery({ type: 'series', outcome: 'success', seconds: 0.01, warnings: 2, samples: 0 });
    m.observeQuery({ type: 'instant', outcome: 'bad_data', seconds: 0.001, warnings: 0, samples: 10 });
    const values = new Map<string, number>();
    const types = new Map<string, string>();
    parseExposition(m.render(), 'text', {
      family: (f) => types.set(f.name, f.type),
      sample: (s) => {
        const pairs: string[] = [];
        for (let i = 0; i < s.labels.length; i += 2) pairs.push(`${s.labels[i]}=${s.labels[i + 1]}`);
        values.set(`${s.name}{${pairs.join(',')}}`, s.value);
      },
    });
    expect(types.get('promfront_query_downstream_request_duration_seconds')).toBe('histogram');
    expect(types.get('promfront_query_downstream_requests_total')).toBe('counter');
    const ds = 'group=g"1,target=http://h:9090,endpoint=series';
    expect(values.get(`promfront_query_downstream_requests_total{${ds},outcome=success}`)).toBe(2);
    expect(values.get(`promfront_query_downstream_requests_total{${ds},outcome=error}`)).toBe(1);
    expect(values.get(`promfront_query_downstream_errors_total{${ds},kind=connection}`)).toBe(1);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_bucket{${ds},le=0.005}`)).toBe(1);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_bucket{${ds},le=0.25}`)).toBe(2);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_bucket{${ds},le=2.5}`)).toBe(3);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_bucket{${ds},le=+Inf}`)).toBe(3);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_count{${ds}}`)).toBe(3);
    expect(values.get(`promfront_query_downstream_request_duration_seconds_sum{${ds}}`)).toBeCloseTo(1.703, 9);
    expect(values.get(`promfront_query_downstream_response_bytes_total{${ds}}`)).toBe(300);
    expect(values.get('promfront_query_requests_total{type=instant,outcome=bad_data}')).toBe(1);
    expect(values.get('promfront_query_warnings_total{type=series}')).toBe(2);
    expect(values.get('promfront_query_samples_loaded_total{type=instant}')).toBe(10);
    const [state] = m.targets();
    expect(state).toMatchObject({ group: 'g"1', target: 'http://h:9090', requests: 3, errors: 1, lastError: 'refused' });
  });
});
