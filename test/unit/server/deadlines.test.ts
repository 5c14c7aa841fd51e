// Deadlines and the match[] cap of the endpoints without a `timeout` parameter: /series, /labels,
// /label/../values, /metadata, /federate and remote read answer at the query timeout with
// Prometheus's answer for an expired context, their downstream calls are aborted, and a request
// with more match[] than allowed is refused before any work with a 400 naming count and limit.

import { describe, expect, it } from 'vitest';
import { FanoutStorage } from '../../../src/query/fanout.js';
import { type Storage } from '../../../src/storage/interface.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { createMetadataApi } from '../../../src/server/api/metadata-api.js';
import { createSeriesApi } from '../../../src/server/api/series-api.js';
import { createFederation } from '../../../src/server/federate.js';
import { createRemoteReadApi } from '../../../src/server/api/remote-read-api.js';
import { runWithDeadline } from '../../../src/server/api/deadline.js';
import { encodeReadRequest } from '../../../src/remote/prompb.js';
import { snappyCompress } from '../../../src/remote/snappy.js';
import { parseConfigText } from '../../../src/config/load.js';
import { groupTimeoutMs } from '../../../src/server/query-layer.js';
import { DeadlineExceededError } from '../../../src/errors.js';

/** A downstream that never answers and counts the calls whose signal was aborted. */
function hungTarget(): Storage & { calls: number; aborted: number } {
  const counts = { calls: 0, aborted: 0 };
  const hang = <T>(signal?: AbortSignal): Promise<T> => {
    counts.calls++;
    return new Promise<T>(() => signal?.addEventListener('abort', () => counts.aborted++));
  };
  const storage: Storage = {
    select: (_m, _a, _b, _h, signal) => hang(signal),
    series: (_m, _a, _b, signal) => hang(signal),
    labelNames: (_m, _a, _b, signal) => hang(signal),
    labelValues: (_n, _m, _a, _b, signal) => hang(signal),
    metadata: (_m, _l, signal) => hang(signal),
  };
  // Getters, so the counts read are those at the time of reading.
  return Object.defineProperties(storage, {
    calls: { get: () => counts.calls },
    aborted: { get: () => counts.aborted },
  }) as Storage & { calls: number; aborted: number };
}

/** A fan-out over one hung target; the group's own timeout is far beyond the request's. */
function hungView(target: Storage) {
  const f = new FanoutStorage([{ name: 'g', targets: [target], targetNames: ['hung'], antiAffinityMs: 0, ignoreError: false, timeoutMs: 60_000 }], {
    maxConcurrency: 10_000,
  });
  return () => f.forQuery();
}

async function timed(p: Response | Promise<Response>): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await p;
  return { status: res.status, body: await res.text(), ms: performance.now() - t0 };
}

const EXEC_DEADLINE = { status: 'error', errorType: 'execution', error: 'context deadline exceeded' };

describe('deadlines', () => {
  it('/series with 500 match[] and a hung downstream answers 422 "context deadline exceeded" at the deadline, its calls aborted', async () => {
    const t = hungTarget();
    const app = createSeriesApi({ storage: hungView(t), timeoutMs: 200, maxMatchSelectors: 1000 });
    const body = new URLSearchParams(Array.from({ length: 500 }, (_, i): [string, string] => ['match[]', `m${i}`]));
    const r = await timed(app.request('/series', { method: 'POST', body }));
    expect(r.status).toBe(422);
    expect(JSON.parse(r.body)).toEqual(EXEC_DEADLINE);
    expect(r.ms).toBeGreaterThanOrEqual(190);
    expect(r.ms).toBeLessThan(2_000);
    expect(t.calls).toBe(500);
    expect(t.aborted).toBe(500);
  });

  it('/labels and /label/../values answer at the deadline too', async () => {
    for (const path of ['/labels?match[]=up', '/labels', '/label/job/values?match[]=up', '/label/job/values']) {
      const t = hungTarget();
      const app = createSeriesApi({ storage: hungView(t), timeoutMs: 150 });
      const r = await timed(app.request(path));
      expect({ path, status: r.status, body: JSON.parse(r.body) as unknown }).toEqual({ path, status: 422, body: EXEC_DEADLINE });
      expect(r.ms).toBeLessThan(2_000);
      expect(t.aborted).toBe(t.calls);
    }
  });

  it('/metadata answers at the deadline', async () => {
    const t = hungTarget();
    const r = await timed(createMetadataApi({ storage: hungView(t), timeoutMs: 150 }).request('/metadata'));
    expect(r.status).toBe(422);
    expect(JSON.parse(r.body)).toEqual(EXEC_DEADLINE);
    expect(t.aborted).toBe(1);
  });

  it('/federate answers a plain-text 500 "context deadline exceeded" at the deadline', async () => {
    const t = hungTarget();
    const app = createFederation({ storage: hungView(t), lookbackDeltaMs: 300_000, timeoutMs: 150 });
    const r = await timed(app.request('/federate?match[]=up&match[]=foo'));
    expect(r).toMatchObject({ status: 500, body: 'context deadline exceeded\n' });
    expect(r.ms).toBeLessThan(2_000);
    expect(t.aborted).toBe(2);
  });

  it('remote read answers a plain-text 500 "context deadline exceeded" at the deadline', async () => {
    const t = hungTarget();
    const body = snappyCompress(
      encodeReadRequest({
        queries: [{ startTimestampMs: 0, endTimestampMs: 1000, matchers: [{ type: 0, name: '__name__', value: 'up' }] }],
        acceptedResponseTypes: [],
      }),
    );
    const r = await timed(createRemoteReadApi({ storage: hungView(t), timeoutMs: 150 }).request('/', { method: 'POST', body }));
    expect(r).toMatchObject({ status: 500, body: 'context deadline exceeded\n' });
    expect(t.aborted).toBe(1);
  });

  it('an answer within the deadline is unchanged', async () => {
    const m = new MemoryStorage();
    m.add({ __name__: 'up', job: 'a' }, 1000, 1);
    const res = await createSeriesApi({ storage: m, timeoutMs: 1000 }).request('/series?match[]=up');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'success', data: [{ __name__: 'up', job: 'a' }] });
  });

  it('runWithDeadline settles at the deadline even when the work ignores its signal, and on the client leaving', async () => {
    const never = () => new Promise<never>(() => {});
    await expect(runWithDeadline(new AbortController().signal, 50, never)).rejects.toBeInstanceOf(DeadlineExceededError);
    const client = new AbortController();
    const p = runWithDeadline(client.signal, 10_000, never);
    client.abort(new Error('client closed'));
    await expect(p).rejects.toThrow('client closed');
  });
});

describe('the match[] cap', () => {
  const m = new MemoryStorage();
  m.add({ __name__: 'up', job: 'a' }, 1000, 1);
  const many = (n: number) => new URLSearchParams(Array.from({ length: n }, (_, i): [string, string] => ['match[]', `m${i}`]));

  it('more match[] than allowed is a 400 bad_data naming the count and the limit, counted; the limit itself passes', async () => {
    const refused: string[] = [];
    const app = createSeriesApi({ storage: m, maxMatchSelectors: 100, onRefused: (type, reason) => refused.push(`${type}:${reason}`) });
    const msg = 'too many match[] selectors: 101 given, at most 100 allowed (query.max_match_selectors)';
    for (const path of ['/series', '/labels']) {
      const res = await app.request(path, { method: 'POST', body: many(101) });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ status: 'error', errorType: 'bad_data', error: msg });
    }
    const values = await app.request(`/label/job/values?${many(101).toString()}`);
    expect(values.status).toBe(400);
    expect(refused).toEqual(['series:too_many_matchers', 'labels:too_many_matchers', 'label_values:too_many_matchers']);
    expect((await app.request('/series', { method: 'POST', body: many(100) })).status).toBe(200);
  });

  it('/federate refuses with a plain-text 400', async () => {
    const app = createFederation({ storage: m, lookbackDeltaMs: 300_000, maxMatchSelectors: 2 });
    const res = await app.request(`/federate?${many(3).toString()}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('too many match[] selectors: 3 given, at most 2 allowed (query.max_match_selectors)\n');
  });

  it('defaults to 1000 in the config; 0 turns it off', () => {
    const text = (extra: string) => `query:\n  ${extra}\n  server_groups:\n    - static_configs: [{targets: ["a:9090"]}]\n`;
    expect(parseConfigText(text('timeout: 30s')).query!.max_match_selectors).toBe(1000);
    expect(parseConfigText(text('max_match_selectors: 0')).query!.max_match_selectors).toBe(0);
  });
});

describe('group deadlines', () => {
  it('an ignore_error group without a timeout gets half the query timeout; its own timeout wins', () => {
    const cfg = parseConfigText(
      [
        'query:',
        '  timeout: 30s',
        '  server_groups:',
        '    - {name: a, static_configs: [{targets: ["a:9090"]}]}',
        '    - {name: b, ignore_error: true, static_configs: [{targets: ["b:9090"]}]}',
        '    - {name: c, ignore_error: true, timeout: 3s, static_configs: [{targets: ["c:9090"]}]}',
      ].join('\n'),
    ).query!;
    expect(cfg.server_groups.map((g) => groupTimeoutMs(g, cfg))).toEqual([30_000, 15_000, 3_000]);
    expect(cfg.server_groups[0]).toMatchObject({ hedge: true, hedge_min_wait: 1000, hedge_latency_factor: 3 });
  });
});
