// The fan-out storage over server groups: pruning by group labels, replica merge, errors and warnings.

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { type Series, type Storage } from '../../../src/storage/interface.js';
import { labelsToRecord } from '../../../src/model/labels.js';
import { GroupError, DownstreamError } from '../../../src/errors.js';
import { eq, re } from '../../support/matchers.js';

/** A replica with samples every 15s in [0, 150s) except the skipped indexes. */
function replica(series: Record<string, string>[], skip: number[] = [], offset = 0): MemoryStorage {
  const m = new MemoryStorage();
  for (const l of series) {
    for (let i = 0; i < 10; i++) if (!skip.includes(i)) m.add(l, i * 15_000 + offset, i);
  }
  return m;
}

function failing(msg = 'boom'): Storage & { calls: number } {
  const s = {
    calls: 0,
    async select(): Promise<Series[]> {
      s.calls++;
      throw new DownstreamError('http://bad:9090', msg);
    },
    async labelNames(): Promise<string[]> {
      s.calls++;
      throw new DownstreamError('http://bad:9090', msg);
    },
    async labelValues(): Promise<string[]> {
      s.calls++;
      throw new DownstreamError('http://bad:9090', msg);
    },
  };
  return s;
}

function hanging(): Storage {
  const never = <T>(): Promise<T> => new Promise<T>(() => {});
  return { select: never, labelNames: never, labelValues: never };
}

function group(name: string, targets: Storage[], extra: Partial<GroupSpec> = {}): GroupSpec {
  return {
    name,
    targets,
    targetNames: targets.map((_, i) => `${name}-r${i}`),
    antiAffinityMs: 5_000,
    ignoreError: false,
    ...extra,
  };
}

const UP_A = { __name__: 'up', instance: 'a' };
const UP_B = { __name__: 'up', instance: 'b' };
const ALL_TS = Array.from({ length: 10 }, (_, i) => i * 15_000);

function summary(ss: Series[]): { labels: Record<string, string>; ts: number[] }[] {
  return ss.map((s) => ({ labels: labelsToRecord(s.labels), ts: Array.from(s.timestamps) }));
}

describe('FanoutStorage.select', () => {
  it('2 groups x 2 replicas with different gaps give the complete union', async () => {
    const f = new FanoutStorage(
      [group('g1', [replica([UP_A], [2, 3]), replica([UP_A], [6], 1_000)]), group('g2', [replica([UP_B], [0, 9], 500), replica([UP_B], [4, 5])])],
      { maxConcurrency: 4 },
    );
    const q = f.forQuery();
    const out = await q.storage.select([eq('__name__', 'up')], 0, 200_000);
    expect(q.warnings).toEqual([]);
    expect(out.map((s) => labelsToRecord(s.labels))).toEqual([UP_A, UP_B]);
    for (const s of out) expect(s.timestamps.length).toBe(10);
    // Replica 0 of g1 is followed; its gap is filled from replica 1 (offset 1s), which is followed
    // until its own gap (index 6), where replica 0 takes over again.
    expect(Array.from(out[0].timestamps)).toEqual([0, 15_000, 31_000, 46_000, 61_000, 76_000, 90_000, 105_000, 120_000, 135_000]);
  });

  it('a failing replica: still answers from the healthy one, with a warning', async () => {
    const f = new FanoutStorage([group('g1', [failing('HTTP 503: down'), replica([UP_A])])], { maxConcurrency: 2 });
    const q = f.forQuery();
    const out = await q.storage.select([eq('__name__', 'up')], 0, 200_000);
    expect(summary(out)).toEqual([{ labels: UP_A, ts: ALL_TS }]);
    expect(q.warnings).toEqual(['server group "g1": target "g1-r0" failed: HTTP 503: down']);
  });

  it('a whole group failing: GroupError without ignoreError', async () => {
    const f = new FanoutStorage([group('g1', [replica([UP_A])]), group('g2', [failing('HTTP 500: x'), failing('HTTP 502: y')])], { maxConcurrency: 2 });
    const q = f.forQuery();
    const err = await q.storage.select([eq('__name__', 'up')], 0, 200_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupError);
    const ge = err as GroupError;
    expect(ge.group).toBe('g2');
    expect(ge.target).toBe('g2-r0');
    expect(ge.message).toBe('server group "g2" failed: target "g2-r0": HTTP 500: x; target "g2-r1": HTTP 502: y');
  });

  it('a whole group failing with ignoreError: warning and partial result', async () => {
    const f = new FanoutStorage([group('g1', [replica([UP_A])]), group('g2', [failing('HTTP 500: x')], { ignoreError: true })], { maxConcurrency: 2 });
    const q = f.forQuery();
    const out = await q.storage.select([eq('__name__', 'up')], 0, 200_000);
    expect(summary(out)).toEqual([{ labels: UP_A, ts: ALL_TS }]);
    expect(q.warnings).toEqual(['server group "g2" failed: target "g2-r0": HTTP 500: x']);
  });

  it('a hanging target is bounded by the group timeout', async () => {
    const f = new FanoutStorage([group('g1', [hanging(), replica([UP_A])], { timeoutMs: 50 })], { maxConcurrency: 2 });
    const q = f.forQuery();
    const t0 = Date.now();
    const out = await q.storage.select([eq('__name__', 'up')], 0, 200_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(out.length).toBe(1);
    expect(q.warnings).toEqual(['server group "g1": target "g1-r0" failed: timeout after 50ms']);

    // All targets hanging: the group fails with the timeout.
    const f2 = new FanoutStorage([group('g1', [hanging()], { timeoutMs: 30 })], { maxConcurrency: 1 });
    await expect(f2.forQuery().storage.select([], 0, 1)).rejects.toThrow('server group "g1" failed: target "g1-r0": timeout after 30ms');
  });

  it('the caller abort rejects with its reason', async () => {
    const f = new FanoutStorage([group('g1', [hanging()])], { maxConcurrency: 1 });
    const ctl = new AbortController();
    const p = f.forQuery().storage.select([], 0, 1, undefined, ctl.signal);
    ctl.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });

  it('group labels are added (series value wins) and prune groups', async () => {
    const east = replica([UP_A, { __name__: 'up', instance: 'c', region: 'own' }]);
    const westFail = failing();
    const f = new FanoutStorage([group('east', [east], { labels: { region: 'east' } }), group('west', [westFail], { labels: { region: 'west' } })], {
      maxConcurrency: 2,
    });
    // West is pruned: its target (which would fail) is never asked.
    let q = f.forQuery();
    let out = await q.storage.select([eq('__name__', 'up'), eq('region', 'east')], 0, 200_000);
    expect(westFail.calls).toBe(0);
    expect(q.warnings).toEqual([]);
    // The series with its own region="own" does not satisfy region="east" and is filtered locally.
    expect(out.map((s) => labelsToRecord(s.labels))).toEqual([{ ...UP_A, region: 'east' }]);

    // Regex matcher satisfied by east only; without a region matcher, east's series keep their own value.
    q = f.forQuery();
    out = await q.storage.select([re('region', 'ea.*'), eq('__name__', 'up')], 0, 200_000);
    expect(out.length).toBe(1);
    expect(westFail.calls).toBe(0);

    const fEast = new FanoutStorage([group('east', [east], { labels: { region: 'east' } })], { maxConcurrency: 1 });
    out = await fEast.forQuery().storage.select([eq('__name__', 'up')], 0, 200_000);
    expect(out.map((s) => labelsToRecord(s.labels))).toEqual([
      { ...UP_A, region: 'east' },
      { __name__: 'up', instance: 'c', region: 'own' },
    ]);

    // No group satisfies: empty result, nothing asked.
    q = f.forQuery();
    expect(await q.storage.select([eq('region', 'north')], 0, 200_000)).toEqual([]);
    expect(westFail.calls).toBe(0);
  });

  it('identical series across groups merge (a series that moved shard)', async () => {
    const f = new FanoutStorage([group('g1', [replica([UP_A], [5, 6, 7, 8, 9])]), group('g2', [replica([UP_A], [0, 1, 2, 3, 4])])], { maxConcurrency: 2 });
    const out = await f.forQuery().storage.select([], 0, 200_000);
    expect(summary(out)).toEqual([{ labels: UP_A, ts: ALL_TS }]);
  });

  it('respects the p-limit bound on concurrent target requests', async () => {
    let active = 0;
    let peak = 0;
    let calls = 0;
    const slow = (): Storage => ({
      async select() {
        calls++;
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 10));
        active--;
        return [];
      },
      labelNames: async () => [],
      labelValues: async () => [],
    });
    // The bound is per group: one group of 6 targets, and two queries at once share its bound (their
    // ranges differ, or they would share one read: shared-calls.ts).
    const f = new FanoutStorage([group('g1', [slow(), slow(), slow(), slow(), slow(), slow()])], { maxConcurrency: 3 });
    await Promise.all([f.forQuery().storage.select([], 0, 1), f.forQuery().storage.select([], 0, 2)]);
    expect(calls).toBe(12);
    expect(peak).toBe(3);
  });

  it('a group whose slots are all held by hanging requests does not hold up other groups', async () => {
    const f = new FanoutStorage(
      [group('hung', [hanging()], { labels: { g: 'hung' }, timeoutMs: 60_000 }), group('ok', [replica([UP_A])], { labels: { g: 'ok' } })],
      { maxConcurrency: 2 },
    );
    const ctl = new AbortController();
    const stuck = [1, 2, 3].map(() =>
      f
        .forQuery()
        .storage.select([eq('g', 'hung')], 0, 200_000, undefined, ctl.signal)
        .catch(() => 'aborted'),
    );
    const heldUp = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('held up behind the hung group')), 5_000).unref());
    const out = await Promise.race([f.forQuery().storage.select([eq('__name__', 'up'), eq('g', 'ok')], 0, 200_000), heldUp]);
    expect(summary(out)).toEqual([{ labels: { ...UP_A, g: 'ok' }, ts: ALL_TS }]);
    ctl.abort(new Error('done'));
    expect(await Promise.all(stuck)).toEqual(['aborted', 'aborted', 'aborted']);
  });

  it("a request waiting for a slot ends at its group timeout and at the caller's abort", async () => {
    // A downstream that never answers, nor ends when aborted: only our side can let go of it.
    const signals: AbortSignal[] = [];
    const counted: Storage = {
      select: (_m, _s, _e, _h, sig) => {
        signals.push(sig!);
        return new Promise<Series[]>(() => {});
      },
      labelNames: async () => [],
      labelValues: async () => [],
    };
    const f = new FanoutStorage([group('g1', [counted], { timeoutMs: 300 })], { maxConcurrency: 1 });
    const first = f
      .forQuery()
      .storage.select([], 0, 1)
      .catch((e: Error) => e.message);
    // Queued behind `first`, which holds the only slot until its own timeout.
    const ctl = new AbortController();
    const aborted = f
      .forQuery()
      .storage.select([], 0, 1, undefined, ctl.signal)
      .catch((e: Error) => e.message);
    const queued = f
      .forQuery()
      .storage.select([], 0, 1)
      .catch((e: Error) => e.message);
    ctl.abort(new Error('caller gave up'));
    expect(await aborted).toBe('caller gave up');
    // `queued` ends at its own timeout, whether it was still waiting then or got the slot `first`
    // gave up at the same moment (its read was stopped: nobody waited for it any more).
    expect(await Promise.all([first, queued])).toEqual([
      'server group "g1" failed: target "g1-r0": timeout after 300ms',
      'server group "g1" failed: target "g1-r0": timeout after 300ms',
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(signals.length).toBeGreaterThanOrEqual(1);
    expect(signals.length).toBeLessThanOrEqual(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });
});

describe('FanoutStorage label queries', () => {
  const g1 = () => group('g1', [replica([UP_A]), replica([{ __name__: 'node_load1', instance: 'a', cpu: '0' }])], { labels: { region: 'east' } });
  const g2 = () => group('g2', [replica([UP_B])], { labels: { region: 'west' } });

  it('labelNames: union over groups including group label names', async () => {
    const f = new FanoutStorage([g1(), g2()], { maxConcurrency: 4 });
    const q = f.forQuery();
    expect(await q.storage.labelNames([], 0, 200_000)).toEqual(['__name__', 'cpu', 'instance', 'region']);
    expect(await q.storage.labelNames([eq('region', 'west')], 0, 200_000)).toEqual(['__name__', 'instance', 'region']);
    expect(await q.storage.labelNames([eq('__name__', 'nothing')], 0, 200_000)).toEqual([]);
    expect(q.warnings).toEqual([]);
  });

  it('labelValues: union, group values included, pruning applied', async () => {
    const f = new FanoutStorage([g1(), g2()], { maxConcurrency: 4 });
    const q = f.forQuery();
    expect(await q.storage.labelValues('instance', [], 0, 200_000)).toEqual(['a', 'b']);
    expect(await q.storage.labelValues('__name__', [], 0, 200_000)).toEqual(['node_load1', 'up']);
    expect(await q.storage.labelValues('region', [], 0, 200_000)).toEqual(['east', 'west']);
    expect(await q.storage.labelValues('instance', [eq('region', 'west')], 0, 200_000)).toEqual(['b']);
    expect(await q.storage.labelValues('region', [eq('instance', 'b')], 0, 200_000)).toEqual(['west']);
  });

  it('label queries follow the error rules', async () => {
    const f = new FanoutStorage([g1(), group('bad', [failing('HTTP 500: x')])], { maxConcurrency: 4 });
    await expect(f.forQuery().storage.labelNames([], 0, 1)).rejects.toBeInstanceOf(GroupError);
    const f2 = new FanoutStorage([g1(), group('bad', [failing('HTTP 500: x')], { ignoreError: true })], { maxConcurrency: 4 });
    const q = f2.forQuery();
    expect(await q.storage.labelValues('instance', [], 0, 200_000)).toEqual(['a']);
    expect(q.warnings).toEqual(['server group "bad" failed: target "bad-r0": HTTP 500: x']);
  });
});
