// The fan-out under hung replicas and repeated selections: hedging (a replica left out a bounded
// time after its twin answered, with an honest warning), one downstream read per distinct selection
// within a request, one abort listener per request however many calls share it, and time ranges
// outside the API's bounds.

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { type SelectHints, type Series, type Storage } from '../../../src/storage/interface.js';
import { Engine } from '../../../src/promql/engine.js';
import { eq } from '../../support/matchers.js';
import { DownstreamApiError, GroupError, queryApiError, STATUS_BY_TYPE } from '../../../src/errors.js';

const UP_A = { __name__: 'up', instance: 'a' };

/** Samples every 15s in [0, 150s) except the skipped indexes. */
function replica(skip: number[] = []): MemoryStorage {
  const m = new MemoryStorage();
  for (let i = 0; i < 10; i++) if (!skip.includes(i)) m.add(UP_A, i * 15_000, i);
  return m;
}

/** A target that never answers; it records whether its signal was aborted. */
function hung(): Storage & { aborted: number } {
  const s = {
    aborted: 0,
    select: (_m: unknown, _s: number, _e: number, _h?: SelectHints, signal?: AbortSignal): Promise<Series[]> =>
      new Promise<Series[]>(() => signal?.addEventListener('abort', () => s.aborted++)),
    labelNames: () => new Promise<string[]>(() => {}),
    labelValues: () => new Promise<string[]>(() => {}),
  };
  return s;
}

/** `inner` with a count of the select calls that reach it (the downstream reads). */
function counted(inner: Storage): Storage & { reads: number; ranges: [number, number][] } {
  const s = {
    reads: 0,
    ranges: [] as [number, number][],
    select: (m: Parameters<Storage['select']>[0], start: number, end: number, h?: SelectHints, sig?: AbortSignal) => {
      s.reads++;
      s.ranges.push([start, end]);
      return inner.select(m, start, end, h, sig);
    },
    labelNames: (...a: Parameters<Storage['labelNames']>) => inner.labelNames(...a),
    labelValues: (...a: Parameters<Storage['labelValues']>) => inner.labelValues(...a),
  };
  return s;
}

function group(name: string, targets: Storage[], extra: Partial<GroupSpec> = {}): GroupSpec {
  return { name, targets, targetNames: targets.map((_, i) => `${name}-r${i}`), antiAffinityMs: 5_000, ignoreError: false, ...extra };
}

const HEDGE = { minWaitMs: 100, latencyFactor: 3 };

describe('hedging', () => {
  it('a hung replica is left out shortly after its twin answered; the answer equals the twin alone, marked exact', async () => {
    const stuck = hung();
    const hedged: string[] = [];
    const f = new FanoutStorage([group('g', [stuck, replica()], { hedge: HEDGE, timeoutMs: 30_000 })], {
      maxConcurrency: 4,
      onHedged: (g, t) => hedged.push(`${g}/${t}`),
    });
    const q = f.forQuery();
    const t0 = performance.now();
    const out = await q.storage.select([eq('__name__', 'up')], 0, 140_000);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(95);
    expect(took).toBeLessThan(2_000);
    const alone = await replica().select([eq('__name__', 'up')], 0, 140_000);
    expect(out.map((s) => Array.from(s.timestamps))).toEqual(alone.map((s) => Array.from(s.timestamps)));
    expect(q.warnings).toHaveLength(1);
    // The wait is the floor (100ms) unless the twin took over 33ms (3 x its latency), as on a loaded machine.
    const m =
      /^server group "g": target "g-r0" left out: no answer (\d+)ms after target "g-r1" answered \(in (\d+)ms\); the answer is exact: target "g-r1" covers the requested range$/.exec(
        q.warnings[0],
      );
    expect(m, q.warnings[0]).not.toBeNull();
    expect(Math.abs(Number(m![1]) - Math.max(100, 3 * Number(m![2])))).toBeLessThanOrEqual(2);
    expect(stuck.aborted).toBe(1);
    expect(hedged).toEqual(['g/g-r0']);
  });

  it('says the answer may be incomplete when the twin that answered has a gap', async () => {
    const f = new FanoutStorage([group('g', [hung(), replica([4, 5])], { hedge: HEDGE })], { maxConcurrency: 4 });
    const q = f.forQuery();
    await q.storage.select([eq('__name__', 'up')], 0, 140_000);
    expect(q.warnings[0]).toMatch(/the answer may be incomplete: target "g-r1" has a gap of 45s in a series$/);
  });

  it('waits latencyFactor x the twin latency when that is longer than the floor', async () => {
    const slow: Storage = {
      ...replica(),
      select: (m, s, e, h, sig) => new Promise((res) => setTimeout(() => res(replica().select(m, s, e, h, sig)), 150)),
      labelNames: () => Promise.resolve([]),
      labelValues: () => Promise.resolve([]),
    };
    const f = new FanoutStorage([group('g', [hung(), slow], { hedge: { minWaitMs: 10, latencyFactor: 2 } })], { maxConcurrency: 4 });
    const t0 = performance.now();
    const q = f.forQuery();
    await q.storage.select([eq('__name__', 'up')], 0, 140_000);
    const took = performance.now() - t0;
    // 150 ms for the twin, then about 2 x 150 ms more.
    expect(took).toBeGreaterThanOrEqual(140 + 280);
    expect(took).toBeLessThan(3_000);
  });

  it('without hedging the hung replica holds the group until its timeout', async () => {
    const f = new FanoutStorage([group('g', [hung(), replica()], { timeoutMs: 400 })], { maxConcurrency: 4 });
    const t0 = performance.now();
    const q = f.forQuery();
    await q.storage.select([eq('__name__', 'up')], 0, 140_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(q.warnings).toEqual(['server group "g": target "g-r0" failed: timeout after 400ms']);
  });

  it('the group timeout still bounds a hedge wait longer than it', async () => {
    const f = new FanoutStorage([group('g', [hung(), replica()], { timeoutMs: 150, hedge: { minWaitMs: 60_000, latencyFactor: 1 } })], { maxConcurrency: 4 });
    const t0 = performance.now();
    const q = f.forQuery();
    await q.storage.select([eq('__name__', 'up')], 0, 140_000);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(q.warnings).toEqual(['server group "g": target "g-r0" failed: timeout after 150ms']);
  });

  it('label lookups are hedged too', async () => {
    const f = new FanoutStorage([group('g', [hung(), replica()], { hedge: HEDGE })], { maxConcurrency: 4 });
    const q = f.forQuery();
    expect(await q.storage.labelNames([eq('__name__', 'up')], 0, 140_000)).toEqual(['__name__', 'instance']);
    // 100ms (the floor) unless the twin was slower than 33ms, as on a loaded machine.
    expect(q.warnings[0]).toMatch(/^server group "g": target "g-r0" left out: no answer \d+ms after target "g-r1" answered/);
  });
});

describe('one downstream read per distinct selection within a request', () => {
  it('a query with 2,000 copies of one selector reads it once per replica', async () => {
    const r0 = counted(replica());
    const r1 = counted(replica());
    const f = new FanoutStorage([group('g', [r0, r1])], { maxConcurrency: 4 });
    const query = Array.from({ length: 2_000 }, () => 'up').join(' or ');
    const q = f.forQuery();
    const out = await new Engine().execInstant(new Engine().prepare(query), q.storage, 140_000);
    expect(out.result.resultType).toBe('vector');
    expect(r0.reads).toBe(1);
    expect(r1.reads).toBe(1);
    // A second request reads again: the sharing is per request.
    await f.forQuery().storage.select([eq('__name__', 'up')], 0, 140_000);
    expect(r0.reads).toBe(2);
  });

  it('matchers in another order share the read; another range or hint does not', async () => {
    const r0 = counted(replica());
    const f = new FanoutStorage([group('g', [r0])], { maxConcurrency: 4 });
    const q = f.forQuery();
    const a = await q.storage.select([eq('__name__', 'up'), eq('instance', 'a')], 0, 140_000);
    const b = await q.storage.select([eq('instance', 'a'), eq('__name__', 'up')], 0, 140_000);
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
    expect(r0.reads).toBe(1);
    await q.storage.select([eq('__name__', 'up')], 0, 100_000);
    await q.storage.select([eq('__name__', 'up')], 0, 100_000, { startMs: 0, endMs: 100_000, func: 'rate' });
    expect(r0.reads).toBe(3);
  });
});

describe('abort listeners', () => {
  it('thousands of calls under one request signal add one listener to it', async () => {
    const f = new FanoutStorage([group('g', [hung(), hung()])], { maxConcurrency: 10_000 });
    const q = f.forQuery();
    const ctl = new AbortController();
    const calls = Array.from({ length: 3_000 }, (_, i) => q.storage.select([eq('__name__', `m${i}`)], 0, 1, undefined, ctl.signal).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 10));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    ctl.abort(new Error('client went away'));
    const errs = await Promise.all(calls);
    expect(errs.every((e) => e instanceof Error && e.message === 'client went away')).toBe(true);
  });
});

describe('time ranges outside the API bounds', () => {
  it('a range beyond the latest time a server can hold is empty without asking; one reaching past it is cut', async () => {
    const r0 = counted(replica());
    const f = new FanoutStorage([group('g', [r0])], { maxConcurrency: 4 });
    const q = f.forQuery();
    expect(await q.storage.select([eq('__name__', 'up')], 9e21 - 300_000, 9e21)).toEqual([]);
    expect(r0.reads).toBe(0);
    expect(await q.storage.select([eq('__name__', 'up')], 0, 9e21)).toHaveLength(1);
    // Cut to what remote read's int64 fields can carry from a double.
    expect(r0.ranges).toEqual([[0, Number.MAX_SAFE_INTEGER]]);
    expect(await q.storage.select([eq('__name__', 'up')], 9e18 - 300_000, 9e18)).toEqual([]);
    expect(r0.reads).toBe(1);
  });
});

describe('a downstream refusal through the fan-out', () => {
  /** A target that refuses every select as Prometheus refuses a bad request. */
  const refusing = (status: number, errorType: string): Storage => ({
    select: () => Promise.reject(new DownstreamApiError('http://p:9090', errorType, `${errorType}: invalid parameter "match[]"`, 'api_error', status)),
    labelNames: () => Promise.resolve([]),
    labelValues: () => Promise.resolve([]),
  });

  it("a group whose targets all refused with 400 bad_data is answered 400 bad_data, not 503 (the downstream's own status)", async () => {
    const f = new FanoutStorage([group('g', [refusing(400, 'bad_data'), refusing(400, 'bad_data')])], { maxConcurrency: 4 });
    const err = await f
      .forQuery()
      .storage.select([eq('__name__', 'up')], 0, 1000)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(GroupError);
    const api = queryApiError(err, false, false);
    expect([api.errorType, STATUS_BY_TYPE[api.errorType]]).toEqual(['bad_data', 400]);
    expect(api.message).toContain('server group "g" failed');
  });

  it('a 5xx stays 503 unavailable', async () => {
    const f = new FanoutStorage([group('g', [refusing(503, 'unavailable')])], { maxConcurrency: 4 });
    const err = await f
      .forQuery()
      .storage.select([eq('__name__', 'up')], 0, 1000)
      .catch((e: unknown) => e);
    expect(queryApiError(err, false, false).errorType).toBe('unavailable');
  });
});
