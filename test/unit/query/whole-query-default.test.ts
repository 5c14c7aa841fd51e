// FanoutStorage's whole-query pushdown with `pushdown` unset (docs/pushdown.md, "Whole queries"):
// sent only once the lone server says it is the Prometheus query.semantics names with our lookback
// delta, and not for range queries as large as their input where raw samples come as binary (unless
// the answer passes on verbatim).

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import type { ServerIdentity } from '../../../src/query/downstream/server-identity.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { PushdownRequest, PushdownResult } from '../../../src/storage/interface.js';
import { eq } from '../../support/matchers.js';

const P2: ServerIdentity = { version: '2.42.0', major: 2, lookbackDeltaMs: 300_000, maxSamples: 50_000_000 };

function server(id: ServerIdentity | undefined, binary = false) {
  const answer: PushdownResult = { series: [{ labels: [{ name: 'job', value: 'a' }], timestamps: Float64Array.of(1000), values: Float64Array.of(7) }] };
  return Object.assign(new MemoryStorage(), {
    evaluated: 0,
    asked: 0,
    evaluate(this: { evaluated: number }): Promise<PushdownResult> {
      this.evaluated++;
      return Promise.resolve(answer);
    },
    identity(this: { asked: number }): Promise<ServerIdentity | undefined> {
      this.asked++;
      return Promise.resolve(id);
    },
    readsBinarySamples: () => binary,
  });
}

const spec = (t: ReturnType<typeof server>, extra: Partial<GroupSpec> = {}): GroupSpec => ({
  name: 'one',
  targets: [t],
  targetNames: ['t'],
  antiAffinityMs: 10_000,
  ignoreError: false,
  autoPushdown: { major: 2, lookbackDeltaMs: 300_000, maxSamples: 50_000_000 },
  ...extra,
});

const req = (extra: Partial<PushdownRequest> = {}): PushdownRequest => ({
  query: 'sum(up)',
  matchers: [eq('__name__', 'up')],
  startMs: 1000,
  endMs: 1000,
  stepMs: 0,
  wholeQuerySelectors: [[eq('__name__', 'up')]],
  ...extra,
});

async function outcome(f: FanoutStorage, r: PushdownRequest): Promise<[PushdownResult | undefined, string[]]> {
  const res = await f.forQuery().storage.pushdown!(r);
  return [res, [...f.pushdownOutcomes.keys()]];
}

describe('whole-query pushdown with pushdown unset', () => {
  it('sends the query to a server that is the Prometheus query.semantics names, with our lookback delta', async () => {
    const t = server(P2);
    const [res, outcomes] = await outcome(new FanoutStorage([spec(t)], { maxConcurrency: 4 }), req());
    expect(res?.series[0].values[0]).toBe(7);
    expect(outcomes).toEqual(['pushed_query']);
    expect(t.evaluated).toBe(1);
  });

  it('keeps the raw path for another major version, another lookback delta or an unknown server', async () => {
    for (const id of [{ ...P2, major: 3 }, { ...P2, lookbackDeltaMs: 60_000 }, { ...P2, maxSamples: 100 }, undefined]) {
      const t = server(id);
      const [res, outcomes] = await outcome(new FanoutStorage([spec(t)], { maxConcurrency: 4 }), req());
      expect(res).toBeUndefined();
      expect(outcomes).toEqual(['unverified']);
      expect(t.evaluated).toBe(0);
    }
  });

  it('is off with pushdown: false, and needs no identity with pushdown: true', async () => {
    const off = server(P2);
    expect((await outcome(new FanoutStorage([spec(off, { pushdown: false })], { maxConcurrency: 4 }), req()))[1]).toEqual(['disabled']);
    const on = server(undefined);
    expect((await outcome(new FanoutStorage([spec(on, { pushdown: true, autoPushdown: undefined })], { maxConcurrency: 4 }), req()))[1]).toEqual([
      'pushed_query',
    ]);
    expect(on.asked).toBe(0);
    // Unset with no autoPushdown (kept external labels, stale_nan): nothing is pushed.
    const none = server(P2);
    expect((await outcome(new FanoutStorage([spec(none, { autoPushdown: undefined })], { maxConcurrency: 4 }), req()))[1]).toEqual(['disabled']);
  });

  it('reads raw samples for a range query as large as its input when they come as binary', async () => {
    const range = { startMs: 0, endMs: 60_000, stepMs: 15_000 };
    const binary = server(P2, true);
    const f = new FanoutStorage([spec(binary)], { maxConcurrency: 4 });
    expect((await outcome(f, req({ ...range, sizedLikeInput: true })))[1]).toEqual(['binary_reads']);
    // The same as an instant query, or an aggregation over a range, or over JSON reads: pushed.
    expect((await f.forQuery().storage.pushdown!(req({ sizedLikeInput: true }))) !== undefined).toBe(true);
    expect((await f.forQuery().storage.pushdown!(req({ ...range, sizedLikeInput: false }))) !== undefined).toBe(true);
    const json = server(P2, false);
    expect((await outcome(new FanoutStorage([spec(json)], { maxConcurrency: 4 }), req({ ...range, sizedLikeInput: true })))[1]).toEqual(['pushed_query']);
  });

  it('pushes a range query as large as its input when its answer may pass on verbatim (never decoded here)', async () => {
    const range = { startMs: 0, endMs: 60_000, stepMs: 15_000 };
    const binary = server(P2, true);
    const f = new FanoutStorage([spec(binary)], { maxConcurrency: 4 });
    expect((await outcome(f, req({ ...range, sizedLikeInput: true, verbatim: 'sorted' })))[1]).toEqual(['pushed_query']);
    expect(binary.evaluated).toBe(1);
  });
});
