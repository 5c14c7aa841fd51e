// External labels over remote read (learnt from status/config, matchers rewritten, series stripped)
// and replica labels removed before the HA merge.

import { describe, expect, it } from 'vitest';
import { parseExternalLabels } from '../../../src/query/downstream/json-api-client.js';
import { asJsonApiMatchers, quoteMeta, stripExternalLabels } from '../../../src/query/downstream/remote-read-client.js';
import { withoutLabelNames, withoutReplicaLabels } from '../../../src/query/merge.js';
import { labelsFromRecord as L } from '../../../src/model/labels.js';
import type { Series } from '../../../src/storage/interface.js';

const s = (labels: Record<string, string>, ts: number[]): Series => ({
  labels: L(labels),
  timestamps: Float64Array.from(ts),
  values: Float64Array.from(ts.map((t) => t / 1000)),
});

describe('external labels', () => {
  it('reads global.external_labels from a status/config answer, empty values dropped', () => {
    const yaml = 'global:\n  scrape_interval: 15s\n  external_labels:\n    replica: a\n    site: lab\n    empty: ""\nscrape_configs: []\n';
    expect([...parseExternalLabels({ yaml })]).toEqual([
      ['replica', 'a'],
      ['site', 'lab'],
    ]);
    expect(parseExternalLabels({ yaml: 'global:\n  scrape_interval: 15s\n' }).size).toBe(0);
    expect(parseExternalLabels({ yaml: '' }).size).toBe(0);
    expect(() => parseExternalLabels({})).toThrow(/no "yaml" string/);
    expect(() => parseExternalLabels({ yaml: 'global:\n  external_labels: [a]\n' })).toThrow(/not a map/);
  });

  it('sends an equality matcher on an external label and its value as the quoted regex, leaves others', () => {
    const ext = new Map([['site', 'lab.1']]);
    const ms = [
      { type: '=' as const, name: '__name__', value: 'up' },
      { type: '=' as const, name: 'site', value: 'lab.1' },
      { type: '!=' as const, name: 'site', value: 'lab.1' },
      { type: '=' as const, name: 'site', value: 'other' },
    ];
    const out = asJsonApiMatchers(ms, ext);
    expect(out).toEqual([ms[0], { type: '=~', name: 'site', value: 'lab\\.1' }, ms[2], ms[3]]);
    const only = [ms[0]];
    expect(asJsonApiMatchers(only, ext)).toBe(only);
    expect(new RegExp(`^(?:${quoteMeta('a+b(c)|[d]{2}^$\\?*')})$`).test('a+b(c)|[d]{2}^$\\?*')).toBe(true);
  });

  it('strips the labels holding an external label value and sorts again', () => {
    const ext = new Map([['a', 'x']]);
    const out = stripExternalLabels([s({ __name__: 'm', a: 'x', b: '2' }, [1]), s({ __name__: 'm', a: 'y', b: '1' }, [1])], ext);
    expect(out.map((x) => x.labels)).toEqual([L({ __name__: 'm', a: 'y', b: '1' }), L({ __name__: 'm', b: '2' })]);
    const same = [s({ __name__: 'm' }, [1])];
    expect(stripExternalLabels(same, ext)).toBe(same);
  });
});

describe('replica labels', () => {
  it('removes the names and merges the series they told apart, as replicas', () => {
    const set = [
      s({ __name__: 'm', replica: 'a' }, [0, 15_000, 30_000]),
      s({ __name__: 'm', replica: 'b' }, [1_000, 16_000, 31_000, 46_000]),
      s({ __name__: 'n' }, [5]),
    ];
    const out = withoutReplicaLabels(set, new Set(['replica']), 10_000);
    expect(out.map((x) => x.labels)).toEqual([L({ __name__: 'm' }), L({ __name__: 'n' })]);
    // Replica a is followed; b fills in after a ends, near-duplicates dropped.
    expect([...out[0].timestamps]).toEqual([0, 15_000, 30_000, 46_000]);
    expect(withoutReplicaLabels(set, new Set(), 10_000)).toBe(set);
    expect(withoutLabelNames(L({ a: '1', b: '2', c: '3' }), new Set(['b']))).toEqual(L({ a: '1', c: '3' }));
  });
});
