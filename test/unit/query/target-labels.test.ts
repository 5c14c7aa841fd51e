// Labels that service discovery attaches to one target (src/query/target-labels.ts): every kind of
// lookup sees them, and matchers on them are answered locally.
import { describe, expect, it } from 'vitest';
import { type MetricMetadataMap } from '../../../src/storage/interface.js';
import { labelsToRecord } from '../../../src/model/labels.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { withTargetLabels } from '../../../src/query/target-labels.js';
import { eq } from '../../support/matchers.js';

function target(): MemoryStorage {
  const m = new MemoryStorage();
  m.add({ __name__: 'up', job: 'a' }, 1000, 1);
  m.add({ __name__: 'up', job: 'b', dc: 'own' }, 1000, 1);
  return m;
}

describe('withTargetLabels', () => {
  it("series() carries the target labels, the series' own value winning", async () => {
    const t = withTargetLabels(target(), { dc: 'eu' });
    const found = await t.series!([eq('__name__', 'up')], 0, 2000);
    expect(found.map(labelsToRecord)).toEqual([
      { __name__: 'up', dc: 'eu', job: 'a' },
      { __name__: 'up', dc: 'own', job: 'b' },
    ]);
    const selected = await t.select([eq('__name__', 'up')], 0, 2000);
    expect(selected.map((s) => labelsToRecord(s.labels))).toEqual(found.map(labelsToRecord));
  });

  it('series() answers matchers on target labels locally', async () => {
    const t = withTargetLabels(target(), { dc: 'eu' });
    expect(await t.series!([eq('dc', 'us')], 0, 2000)).toEqual([]);
    expect((await t.series!([eq('dc', 'eu')], 0, 2000)).map(labelsToRecord)).toEqual([{ __name__: 'up', dc: 'eu', job: 'a' }]);
  });

  it('a selector naming only target labels asks the target for every named series (an empty matcher list would select nothing)', async () => {
    const asked: unknown[] = [];
    const inner = target();
    const spy = Object.assign(Object.create(inner) as MemoryStorage, {
      select: (ms: Parameters<MemoryStorage['select']>[0], s: number, e: number) => {
        asked.push(ms);
        return inner.select(ms, s, e);
      },
    });
    const t = withTargetLabels(spy, { dc: 'eu' });
    expect((await t.select([eq('dc', 'eu')], 0, 2000)).map((x) => labelsToRecord(x.labels))).toEqual([{ __name__: 'up', dc: 'eu', job: 'a' }]);
    expect(asked).toEqual([[{ type: '=~', name: '__name__', value: '.+' }]]);
    expect(await t.select([{ type: '!=', name: 'dc', value: 'eu' }], 0, 2000)).toEqual([]);
    expect(asked).toHaveLength(1);
  });

  it('metadata passes through untouched', async () => {
    const md: MetricMetadataMap = new Map([['up', [{ type: 'gauge', help: 'Up.', unit: '' }]]]);
    const inner = Object.assign(target(), { metadata: async () => md });
    const t = withTargetLabels(inner, { dc: 'eu' });
    expect(await t.metadata!(undefined, 0)).toBe(md);
  });
});
