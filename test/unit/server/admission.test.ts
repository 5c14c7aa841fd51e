// Admission of /query and /query_range: at most max_concurrent_queries evaluate at once, at most
// max_queued_queries wait, the rest are refused with 503; waiting counts toward the timeout.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { Series, Storage } from '../../../src/storage/interface.js';
import type { LabelMatcher } from '../../../src/model/labels.js';
import { createQueryApi } from '../../../src/server/api/query-api.js';
import { Admission } from '../../../src/server/api/admission.js';

const T0 = 1_700_000_000_000;

/** A storage whose select waits until release() is called: queries stay running as long as a test wants. */
function gatedStorage(): { storage: Storage; release: () => void; selects: () => number } {
  const mem = new MemoryStorage();
  mem.add({ __name__: 'up', job: 'a' }, T0 - 1000, 1);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let n = 0;
  const storage: Storage = {
    async select(m: LabelMatcher[], s: number, e: number, h, signal): Promise<Series[]> {
      n++;
      await gate;
      return mem.select(m, s, e, h, signal);
    },
    labelNames: (m, s, e) => mem.labelNames(m, s, e),
    labelValues: (name, m, s, e) => mem.labelValues(name, m, s, e),
  };
  return { storage, release: open, selects: () => n };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('query admission', () => {
  it('runs max_concurrent_queries at once, queues max_queued_queries, refuses the rest with 503 unavailable', async () => {
    const g = gatedStorage();
    const refusals: string[] = [];
    const admission = new Admission({ maxConcurrent: 2, maxQueued: 1, onRefused: (type) => refusals.push(type) });
    const api = createQueryApi({ storage: g.storage, engine: new Engine(), now: () => T0, admission });
    const ask = (path: string) => api.request(`${path}?query=up&time=${T0 / 1000}&start=${T0 / 1000 - 60}&end=${T0 / 1000}&step=15`);
    const running = [ask('/query'), ask('/query_range')];
    await tick();
    expect(g.selects()).toBe(2);
    const queued = ask('/query');
    await tick();
    expect(g.selects()).toBe(2); // the third waits: no storage read yet
    expect(admission.runningCount).toBe(2);
    expect(admission.queuedCount).toBe(1);
    const refused = await ask('/query_range');
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { status: string; errorType: string; error: string };
    expect(body.status).toBe('error');
    expect(body.errorType).toBe('unavailable');
    expect(body.error).toBe(
      'too many concurrent queries: 2 running and 1 queued (query.max_concurrent_queries 2, query.max_queued_queries 1); try again later',
    );
    expect(admission.refused).toBe(1);
    expect(refusals).toEqual(['query_range']);
    expect(admission.render()).toContain('promfront_query_running 2\n');
    expect(admission.render()).toContain('promfront_query_queued 1\n');
    g.release();
    for (const r of [...running, queued]) expect((await r).status).toBe(200);
    expect(g.selects()).toBe(3);
    expect(admission.runningCount).toBe(0);
    expect(admission.queuedCount).toBe(0);
  });

  it('counts the wait in the queue toward the timeout and leaves the queue when it runs out', async () => {
    const g = gatedStorage();
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 5 });
    const api = createQueryApi({ storage: g.storage, engine: new Engine(), now: () => T0, admission });
    const first = api.request(`/query?query=up&time=${T0 / 1000}`);
    await tick();
    const t0 = performance.now();
    const res = await api.request(`/query?query=up&time=${T0 / 1000}&timeout=0.2`);
    const took = performance.now() - t0;
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'error', errorType: 'timeout', error: 'query timed out in query queue' });
    expect(took).toBeLessThan(1500);
    expect(admission.queuedCount).toBe(0);
    g.release();
    expect((await first).status).toBe(200);
    expect(admission.runningCount).toBe(0);
  });

  it('hands the engine only what is left of the timeout after the wait', async () => {
    const admission = new Admission({ maxConcurrent: 1, maxQueued: 5 });
    const seen: number[] = [];
    const engine = new Engine();
    const orig = engine.execInstant.bind(engine);
    engine.execInstant = (p, st, t, signal, opts) => {
      seen.push(opts?.timeoutMs ?? Infinity);
      return orig(p, st, t, signal, opts);
    };
    const g = gatedStorage();
    const api = createQueryApi({ storage: g.storage, engine, now: () => T0, admission });
    const first = api.request(`/query?query=up&time=${T0 / 1000}&timeout=5s`);
    await tick();
    const second = api.request(`/query?query=up&time=${T0 / 1000}&timeout=5s`);
    await new Promise((r) => setTimeout(r, 300));
    g.release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(seen[0]).toBeGreaterThan(4900);
    expect(seen[1]).toBeLessThanOrEqual(5000 - 290);
  });
});
