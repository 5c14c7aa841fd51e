// Identical selects of queries in flight at the same time share one downstream read
// (src/query/shared-calls.ts): each query gets the series and its own copy of the warnings; a query
// that goes away does not fail the others; the read stops only when nobody waits for it; a read
// that has finished is never reused.

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { SharedCalls } from '../../../src/query/shared-calls.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { type SelectHints, type Series, type Storage } from '../../../src/storage/interface.js';
import { eq } from '../../support/matchers.js';

const UP = [eq('__name__', 'up')];

/** A downstream whose selects wait until release() and record their signals. */
function gated(): Storage & { reads: number; signals: AbortSignal[]; release: () => void } {
  const m = new MemoryStorage();
  for (let i = 0; i < 10; i++) m.add({ __name__: 'up', instance: 'a' }, i * 15_000, i);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const s = {
    reads: 0,
    signals: [] as AbortSignal[],
    release: () => open(),
    select: async (mm: Parameters<Storage['select']>[0], start: number, end: number, h?: SelectHints, sig?: AbortSignal): Promise<Series[]> => {
      s.reads++;
      if (sig) s.signals.push(sig);
      await gate;
      return m.select(mm, start, end, h, sig);
    },
    labelNames: (...a: Parameters<Storage['labelNames']>) => m.labelNames(...a),
    labelValues: (...a: Parameters<Storage['labelValues']>) => m.labelValues(...a),
  };
  return s;
}

const failing: Storage = {
  select: () => Promise.reject(new Error('connection refused')),
  labelNames: () => Promise.reject(new Error('connection refused')),
  labelValues: () => Promise.reject(new Error('connection refused')),
};

function group(name: string, targets: Storage[], extra: Partial<GroupSpec> = {}): GroupSpec {
  return { name, targets, targetNames: targets.map((_, i) => `${name}-r${i}`), antiAffinityMs: 5_000, ignoreError: false, ...extra };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('selects shared between queries in flight', () => {
  it('two queries asking the same select at once make one read; both get the series and the warning', async () => {
    const down = gated();
    const f = new FanoutStorage([group('g', [down]), group('broken', [failing], { ignoreError: true })], { maxConcurrency: 4 });
    const a = f.forQuery();
    const b = f.forQuery();
    const pa = a.storage.select(UP, 0, 140_000);
    await tick();
    const pb = b.storage.select(UP, 0, 140_000);
    await tick();
    down.release();
    const [sa, sb] = await Promise.all([pa, pb]);
    expect(down.reads).toBe(1);
    expect(f.sharedSelects.joined).toBe(1);
    expect(sa).toHaveLength(1);
    expect(sb).toEqual(sa);
    expect(sb).not.toBe(sa);
    expect(a.warnings).toHaveLength(1);
    expect(a.warnings[0]).toMatch(/server group "broken"/);
    expect(b.warnings).toEqual(a.warnings);
  });

  it('another range or hint is another read; a finished read is not reused', async () => {
    const down = gated();
    down.release();
    const f = new FanoutStorage([group('g', [down])], { maxConcurrency: 4 });
    await Promise.all([
      f.forQuery().storage.select(UP, 0, 140_000),
      f.forQuery().storage.select(UP, 0, 100_000),
      f.forQuery().storage.select(UP, 0, 140_000, { startMs: 0, endMs: 140_000, func: 'rate', rangeMs: 60_000 }),
    ]);
    expect(down.reads).toBe(3);
    await f.forQuery().storage.select(UP, 0, 140_000);
    expect(down.reads).toBe(4);
    expect(f.sharedSelects.joined).toBe(0);
  });

  it('a query that goes away does not fail the other, and the read is not stopped for it', async () => {
    const down = gated();
    const f = new FanoutStorage([group('g', [down])], { maxConcurrency: 4 });
    const leaving = new AbortController();
    const pa = f.forQuery().storage.select(UP, 0, 140_000, undefined, leaving.signal);
    await tick();
    const pb = f.forQuery().storage.select(UP, 0, 140_000);
    await tick();
    leaving.abort(new Error('client went away'));
    await expect(pa).rejects.toThrow('client went away');
    expect(down.signals.every((s) => !s.aborted)).toBe(true);
    down.release();
    expect(await pb).toHaveLength(1);
    expect(down.reads).toBe(1);
  });

  it('the read stops when every query waiting for it has gone, and the next one reads afresh', async () => {
    const calls = new SharedCalls();
    const seen: AbortSignal[] = [];
    const never = (sig: AbortSignal): Promise<number> => {
      seen.push(sig);
      return new Promise<number>((_, reject) => sig.addEventListener('abort', () => reject(sig.reason)));
    };
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = calls.run('k', c1.signal, never);
    const p2 = calls.run('k', c2.signal, never);
    expect(seen).toHaveLength(1);
    c1.abort(new Error('one'));
    await expect(p1).rejects.toThrow('one');
    expect(seen[0].aborted).toBe(false);
    c2.abort(new Error('two'));
    await expect(p2).rejects.toThrow('two');
    expect(seen[0].aborted).toBe(true);
    expect(await calls.run('k', undefined, () => Promise.resolve(7))).toBe(7);
  });

  it('a caller whose signal has already aborted is refused without starting a read', async () => {
    const calls = new SharedCalls();
    const c = new AbortController();
    c.abort(new Error('gone'));
    let started = 0;
    await expect(
      calls.run('k', c.signal, () => {
        started++;
        return Promise.resolve(1);
      }),
    ).rejects.toThrow('gone');
    expect(started).toBe(0);
  });
});
