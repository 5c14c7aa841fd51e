// Label helpers and the in-memory storage behind the Storage interface.

import { describe, expect, it } from 'vitest';
import type { LabelMatcher, Labels } from '../../../src/model/labels.js';
import { compareLabels, compareStrings, labelsFromRecord, labelsToSetString, labelsToString, normalizeLabels } from '../../../src/model/labels.js';
import { goQuote } from '../../../src/util/go-quote.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { RegexError } from '../../../src/errors.js';
import { eq, ne, re, nre } from '../../support/matchers.js';

const L = labelsFromRecord;

function fixture(): MemoryStorage {
  const s = new MemoryStorage();
  const add = (r: Record<string, string>) => {
    for (let t = 0; t <= 100; t += 10) s.add(L(r), t, t / 10);
  };
  add({ __name__: 'up', job: 'api', instance: 'a:1' });
  add({ __name__: 'up', job: 'api', instance: 'b:1' });
  add({ __name__: 'up', job: 'web', instance: 'a:1' });
  add({ __name__: 'up', instance: 'c:1' }); // no job
  add({ __name__: 'http_requests_total', job: 'api', code: '200' });
  add({ __name__: 'http_requests_total', job: 'api', code: '500' });
  return s;
}

const show = (ss: { labels: Labels }[]) => ss.map((x) => labelsToString(x.labels));

describe('label helpers', () => {
  it('labelsFromRecord sorts by name and drops empty values', () => {
    expect(L({ job: 'x', __name__: 'up', a: '', B: 'y' })).toEqual([
      { name: 'B', value: 'y' },
      { name: '__name__', value: 'up' },
      { name: 'job', value: 'x' },
    ]);
    const sorted = L({ a: '1', b: '2' });
    expect(normalizeLabels(sorted)).toBe(sorted);
    expect(
      normalizeLabels([
        { name: 'b', value: '2' },
        { name: 'a', value: '1' },
        { name: 'c', value: '' },
      ]),
    ).toEqual(sorted);
  });

  it('compareLabels follows labels.Compare', () => {
    const a = L({ __name__: 'up', job: 'a' });
    expect(compareLabels(a, a)).toBe(0);
    expect(compareLabels(a, L({ __name__: 'up', job: 'b' }))).toBeLessThan(0);
    expect(compareLabels(a, L({ __name__: 'up' }))).toBeGreaterThan(0); // prefix first
    expect(compareLabels(L({ __name__: 'up', a: 'z' }), a)).toBeLessThan(0); // a < job by name
    expect(compareLabels(L({ __name__: 'zz' }), L({ __name__: 'up', job: 'a' }))).toBeGreaterThan(0);
    // Code point (UTF-8 byte) order, not UTF-16 order: U+FF5E < U+1F600.
    expect(compareStrings('\uff5e', '😀')).toBeLessThan(0);
    expect('\uff5e' < '😀').toBe(false);
  });

  it('labelsToString prints as Prometheus does', () => {
    expect(labelsToString(L({ __name__: 'up', job: 'api', instance: 'a:1' }))).toBe('up{instance="a:1", job="api"}');
    expect(labelsToString(L({ __name__: 'up' }))).toBe('up');
    expect(labelsToString(L({ job: 'x' }))).toBe('{job="x"}');
    expect(labelsToString([])).toBe('{}');
    expect(labelsToString(L({ __name__: 'up', a: 'q"\\\n\té' }))).toBe('up{a="q\\"\\\\\\n\\té"}');
    expect(labelsToString(L({ __name__: 'my.metric', 'a.b': 'x' }))).toBe('{"my.metric", "a.b"="x"}');
    expect(labelsToSetString(L({ __name__: 'up', job: 'x' }))).toBe('{__name__="up", job="x"}');
    expect(goQuote('\x00\x7f\u200b😀')).toBe('"\\x00\\x7f\\u200b😀"');
  });
});

describe('MemoryStorage.select', () => {
  it('selects by each matcher type, sorted by labels', async () => {
    const s = fixture();
    expect(show(await s.select([eq('__name__', 'up')], 0, 100))).toEqual([
      'up{instance="a:1", job="api"}',
      'up{instance="a:1", job="web"}',
      'up{instance="b:1", job="api"}',
      'up{instance="c:1"}',
    ]);
    expect(show(await s.select([eq('__name__', 'up'), ne('job', 'api')], 0, 100))).toEqual(['up{instance="a:1", job="web"}', 'up{instance="c:1"}']);
    expect(show(await s.select([re('__name__', 'http_.*'), re('code', '5..')], 0, 100))).toEqual(['http_requests_total{code="500", job="api"}']);
    expect(show(await s.select([re('job', 'api|web')], 0, 100))).toEqual([
      'http_requests_total{code="200", job="api"}',
      'http_requests_total{code="500", job="api"}',
      'up{instance="a:1", job="api"}',
      'up{instance="a:1", job="web"}',
      'up{instance="b:1", job="api"}',
    ]);
    expect(show(await s.select([eq('__name__', 'up'), nre('instance', 'a:.*')], 0, 100))).toEqual(['up{instance="b:1", job="api"}', 'up{instance="c:1"}']);
    expect(show(await s.select([ne('job', 'api'), ne('__name__', 'http_requests_total')], 0, 100))).toEqual([
      'up{instance="a:1", job="web"}',
      'up{instance="c:1"}',
    ]);
    expect(await s.select([eq('__name__', 'nope')], 0, 100)).toEqual([]);
    expect(await s.select([eq('nolabel', 'x')], 0, 100)).toEqual([]);
    expect((await s.select([], 0, 100)).length).toBe(6);
  });

  it('keeps label order after series are added between selects', async () => {
    const s = fixture();
    expect((await s.select([], 0, 100)).length).toBe(6); // builds the global order
    s.add(L({ __name__: 'up', instance: 'a:0', job: 'api' }), 50, 1);
    s.add(L({ __name__: 'a_first' }), 50, 1);
    const all = await s.select([], 0, 100);
    expect(show(all)[0]).toBe('a_first');
    expect(show(await s.select([eq('__name__', 'up')], 0, 100))[0]).toBe('up{instance="a:0", job="api"}');
    for (let i = 1; i < all.length; i++) expect(compareLabels(all[i - 1].labels, all[i].labels)).toBeLessThan(0);
  });

  it('treats an absent label as ""', async () => {
    const s = fixture();
    const up = (m: LabelMatcher) => s.select([eq('__name__', 'up'), m], 0, 100).then(show);
    expect(await up(eq('job', ''))).toEqual(['up{instance="c:1"}']);
    expect(await up(re('job', ''))).toEqual(['up{instance="c:1"}']);
    expect((await up(ne('job', ''))).length).toBe(3);
    expect((await up(re('job', '.+'))).length).toBe(3);
    expect(await up(nre('job', '.+'))).toEqual(['up{instance="c:1"}']);
    expect((await up(re('job', '.*'))).length).toBe(4);
    expect((await up(re('job', 'web|'))).length).toBe(2);
    expect((await s.select([re('__name__', '.+'), eq('code', '')], 0, 100)).length).toBe(4);
  });

  it('time range boundaries are inclusive; series without samples in range are left out', async () => {
    const s = fixture();
    const [a] = await s.select([eq('__name__', 'up'), eq('job', 'web')], 20, 50);
    expect([...a.timestamps]).toEqual([20, 30, 40, 50]);
    expect([...a.values]).toEqual([2, 3, 4, 5]);
    expect(a.stale).toBeUndefined();
    const one = await s.select([eq('job', 'web')], 21, 30);
    expect([...one[0].timestamps]).toEqual([30]);
    expect([...(await s.select([eq('job', 'web')], 100, 100))[0].timestamps]).toEqual([100]);
    expect([...(await s.select([eq('job', 'web')], -50, 0))[0].timestamps]).toEqual([0]);
    expect(await s.select([eq('job', 'web')], 101, 200)).toEqual([]);
    expect(await s.select([eq('job', 'web')], 21, 29)).toEqual([]);
    expect(await s.select([eq('job', 'web')], 50, 40)).toEqual([]);
  });

  it('returns views on storage memory, not copies', async () => {
    const s = new MemoryStorage();
    const l = L({ __name__: 'm' });
    for (let t = 0; t < 100; t++) s.add(l, t, t);
    const [a] = await s.select([eq('__name__', 'm')], 10, 19);
    const [b] = await s.select([eq('__name__', 'm')], 0, 99);
    expect(a.timestamps.buffer).toBe(b.timestamps.buffer);
    expect(a.timestamps.byteOffset).toBe(10 * 8);
    // Growing the series later leaves earlier views intact.
    for (let t = 100; t < 1000; t++) s.add(l, t, t);
    expect([...a.values]).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('marks staleness markers with a flag, not a NaN bit pattern', async () => {
    const s = new MemoryStorage();
    const l = L({ __name__: 'm', job: 'x' });
    s.add(l, 0, 1);
    s.add(l, 10, NaN); // a real NaN sample
    s.add(l, 20, 0, { stale: true });
    s.add(l, 30, 3);
    const [a] = await s.select([eq('job', 'x')], 0, 30);
    expect([...a.stale!]).toEqual([0, 0, 1, 0]);
    expect(Number.isNaN(a.values[1])).toBe(true);
    // A range without a marker has no flag array.
    const [b] = await s.select([eq('job', 'x')], 25, 30);
    expect(b.stale).toBeUndefined();
    const [c] = await s.select([eq('job', 'x')], 0, 10);
    expect(c.stale).toBeUndefined();
  });

  it('sorts out-of-order samples on read; a repeated timestamp replaces the sample', async () => {
    const s = new MemoryStorage();
    const l = L({ __name__: 'm' });
    s.add(l, 30, 3);
    s.add(l, 10, 1);
    s.add(l, 20, 2, { stale: true });
    s.add(l, 10, 11);
    s.add(l, 40, 4);
    s.add(l, 40, 44);
    const [a] = await s.select([eq('__name__', 'm')], 0, 100);
    expect([...a.timestamps]).toEqual([10, 20, 30, 40]);
    expect([...a.values].map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([11, 'NaN', 3, 44]);
    expect([...a.stale!]).toEqual([0, 1, 0, 0]);
  });

  it('accepts records and unsorted label arrays for the same series', async () => {
    const s = new MemoryStorage();
    s.add({ b: '2', a: '1', __name__: 'm' }, 1, 1);
    s.add(
      [
        { name: '__name__', value: 'm' },
        { name: 'b', value: '2' },
        { name: 'a', value: '1' },
      ],
      2,
      2,
    );
    const r = await s.select([eq('a', '1')], 0, 10);
    expect(r.length).toBe(1);
    expect([...r[0].values]).toEqual([1, 2]);
    s.clear();
    expect(await s.select([], 0, 10)).toEqual([]);
    expect(s.seriesCount).toBe(0);
  });

  it('honours dotAll and reports invalid regexes', async () => {
    const s = new MemoryStorage();
    s.add({ __name__: 'm', v: 'a\nb' }, 1, 1);
    expect((await s.select([re('v', 'a.b')], 0, 10)).length).toBe(1);
    const v2 = new MemoryStorage({ dotAll: false });
    v2.add({ __name__: 'm', v: 'a\nb' }, 1, 1);
    expect((await v2.select([re('v', 'a.b')], 0, 10)).length).toBe(0);
    await expect(s.select([re('v', '(')], 0, 10)).rejects.toThrow(RegexError);
  });

  it('stops on an aborted signal', async () => {
    const s = fixture();
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(s.select([eq('__name__', 'up')], 0, 100, undefined, ac.signal)).rejects.toThrow('cancelled');
  });
});

describe('MemoryStorage label names and values', () => {
  it('lists names and values, filtered by matchers and time', async () => {
    const s = fixture();
    s.add(L({ __name__: 'old', region: 'eu' }), 1000, 1);
    expect(await s.labelNames([], 0, 100)).toEqual(['__name__', 'code', 'instance', 'job']);
    expect(await s.labelNames([], 0, 1000)).toEqual(['__name__', 'code', 'instance', 'job', 'region']);
    expect(await s.labelNames([eq('__name__', 'up')], 0, 100)).toEqual(['__name__', 'instance', 'job']);
    expect(await s.labelNames([eq('__name__', 'up'), eq('job', '')], 0, 100)).toEqual(['__name__', 'instance']);
    expect(await s.labelNames([eq('__name__', 'old')], 0, 100)).toEqual([]);
    expect(await s.labelValues('__name__', [], 0, 2000)).toEqual(['http_requests_total', 'old', 'up']);
    expect(await s.labelValues('__name__', [], 0, 100)).toEqual(['http_requests_total', 'up']);
    expect(await s.labelValues('job', [eq('__name__', 'up')], 0, 100)).toEqual(['api', 'web']);
    expect(await s.labelValues('instance', [eq('job', 'api')], 0, 100)).toEqual(['a:1', 'b:1']);
    expect(await s.labelValues('code', [re('code', '2.*')], 0, 100)).toEqual(['200']);
    expect(await s.labelValues('nope', [], 0, 100)).toEqual([]);
  });
});

describe('MemoryStorage at scale', () => {
  it('selects one metric out of 100k series through the index', async () => {
    const s = new MemoryStorage();
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const name = `metric_${i % 1000}`;
      const labels = L({ __name__: name, instance: `host-${i % 97}`, shard: String(i) });
      s.add(labels, 0, i);
      s.add(labels, 15_000, i + 1);
    }
    const t1 = performance.now();
    // The first select builds the label-order ranks once; time a second one too.
    const first = await s.select([eq('__name__', 'metric_7')], 0, 15_000);
    const t2 = performance.now();
    const again = await s.select([eq('__name__', 'metric_8')], 0, 15_000);
    const t3 = performance.now();
    const viaRegex = await s.select([re('__name__', 'metric_(7|8)'), eq('instance', 'host-3')], 0, 15_000);
    const t4 = performance.now();
    console.log(
      `100k series: load ${(t1 - t0).toFixed(0)} ms, first select ${(t2 - t1).toFixed(1)} ms, ` +
        `select by name ${(t3 - t2).toFixed(2)} ms, regex+eq ${(t4 - t3).toFixed(2)} ms`,
    );
    expect(first.length).toBe(100);
    expect(again.length).toBe(100);
    expect(viaRegex.every((x) => x.labels.some((l) => l.name === 'instance' && l.value === 'host-3'))).toBe(true);
    for (let i = 1; i < first.length; i++) expect(compareLabels(first[i - 1].labels, first[i].labels)).toBeLessThan(0);
    expect(first[0].timestamps.length).toBe(2);
  });
});
