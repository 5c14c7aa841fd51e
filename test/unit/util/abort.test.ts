// One request's signal keeps one abort listener however many downstream calls share it.

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import type { Series, Storage } from '../../../src/storage/interface.js';
import { subscribeAbort } from '../../../src/util/abort.js';

describe('subscribeAbort', () => {
  it('adds one listener to the signal, calls each live subscriber once, none after unsubscribe', () => {
    const ctl = new AbortController();
    const calls: number[] = [];
    const unsubs = Array.from({ length: 1000 }, (_, i) => subscribeAbort(ctl.signal, () => calls.push(i)));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    for (let i = 0; i < 1000; i += 2) unsubs[i]();
    ctl.abort();
    expect(calls).toHaveLength(500);
    expect(calls.every((i) => i % 2 === 1)).toBe(true);
    ctl.abort();
    expect(calls).toHaveLength(500);
  });
});

describe('FanoutStorage under one request signal', () => {
  it('keeps one abort listener on it during 500 concurrent selects, and aborts them all', async () => {
    const ctl = new AbortController();
    const seen: number[] = [];
    let started = 0;
    const slow: Storage = {
      select: (_m, _s, _e, _h, signal) =>
        new Promise<Series[]>((resolve, reject) => {
          started++;
          seen.push(getEventListeners(ctl.signal, 'abort').length);
          signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          setTimeout(() => resolve([]), 60_000).unref();
        }),
      labelNames: async () => [],
      labelValues: async () => [],
    };
    const g: GroupSpec = { name: 'g', targets: [slow], targetNames: ['g-r0'], antiAffinityMs: 5_000, ignoreError: false };
    const fanout = new FanoutStorage([g], { maxConcurrency: 1000 });
    const view = fanout.forQuery();
    const calls = Array.from({ length: 500 }, (_, i) => view.storage.select([{ type: '=', name: 'i', value: String(i) }], 0, 1, undefined, ctl.signal));
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toBe(500);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
    ctl.abort(new Error('client went away'));
    const results = await Promise.allSettled(calls);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'client went away')).toBe(true);
  });
});
