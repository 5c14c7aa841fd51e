// The merge of several servers' rules, alerts, targets and TSDB answers (src/query/api-merge.ts):
// replicas' copies become one entry, the more severe or fresher copy kept; groups are summed.

import { describe, expect, it } from 'vitest';
import { mergeAlertList, mergeGroupTargets, mergeRuleGroups, mergeTargetMetadata, mergeTsdbStatus } from '../../../src/query/api-merge.js';

const alert = (room: string, state: string, activeAt: string) => ({ labels: { alertname: 'Warm', room }, annotations: {}, state, activeAt, value: '1e+00' });

describe('api-merge', () => {
  it('rules: one group per file and name, sorted; a rule once, its worst state and the union of alerts', () => {
    const a = [
      {
        name: 'g',
        file: 'f',
        rules: [
          {
            type: 'alerting',
            name: 'Warm',
            query: 'x',
            labels: {},
            state: 'pending',
            alerts: [alert('lab', 'pending', '2024-01-01T00:00:02Z')],
            lastEvaluation: '2024-01-01T00:00:05Z',
          },
        ],
        lastEvaluation: '2024-01-01T00:00:05Z',
      },
    ];
    const b = [
      { name: 'a', file: 'f', rules: [], lastEvaluation: '2024-01-01T00:00:01Z' },
      {
        name: 'g',
        file: 'f',
        rules: [
          {
            type: 'alerting',
            name: 'Warm',
            query: 'x',
            labels: {},
            state: 'firing',
            alerts: [alert('lab', 'firing', '2024-01-01T00:00:03Z'), alert('hall', 'pending', '2024-01-01T00:00:04Z')],
            lastEvaluation: '2024-01-01T00:00:04Z',
          },
        ],
        lastEvaluation: '2024-01-01T00:00:04Z',
      },
    ];
    const out = mergeRuleGroups([a, b]);
    expect(out.map((g) => g.name)).toEqual(['a', 'g']);
    const rule = out[1].rules[0];
    expect(out[1].rules).toHaveLength(1);
    expect(rule.state).toBe('firing');
    expect(rule.alerts.map((x: { labels: { room: string }; state: string }) => `${x.labels.room}:${x.state}`)).toEqual(['lab:firing', 'hall:pending']);
    expect(out[1].lastEvaluation).toBe('2024-01-01T00:00:05Z');
  });

  it('alerts: firing beats pending; equal states keep the earliest activeAt', () => {
    const out = mergeAlertList([
      [alert('lab', 'pending', '2024-01-01T00:00:01Z')],
      [alert('lab', 'firing', '2024-01-01T00:00:09Z')],
      [alert('lab', 'firing', '2024-01-01T00:00:05Z')],
    ]);
    expect(out).toEqual([alert('lab', 'firing', '2024-01-01T00:00:05Z')]);
  });

  it('targets: one per pool, URL and labels, the healthy copy kept', () => {
    const t = (health: string, lastScrape: string) => ({ scrapePool: 'p', scrapeUrl: 'http://x/metrics', labels: { job: 'p' }, health, lastScrape });
    const out = mergeGroupTargets([
      { activeTargets: [t('down', '2024-01-01T00:00:09Z')], droppedTargets: [{ discoveredLabels: { a: '1' } }] },
      { activeTargets: [t('up', '2024-01-01T00:00:01Z')], droppedTargets: [{ discoveredLabels: { a: '1' } }] },
    ]);
    expect(out.activeTargets).toEqual([t('up', '2024-01-01T00:00:01Z')]);
    expect(out.droppedTargets).toHaveLength(1);
  });

  it('target metadata: equal entries once, limit applied target by target', () => {
    const e = (instance: string, metric: string) => ({ target: { instance }, metric, type: 'gauge', help: '', unit: '' });
    const lists = [
      [e('a', 'm1'), e('a', 'm2'), e('b', 'm1')],
      [e('a', 'm1'), e('b', 'm1')],
    ];
    expect(mergeTargetMetadata(lists, -1)).toHaveLength(3);
    expect(mergeTargetMetadata(lists, 1)).toEqual([e('a', 'm1'), e('a', 'm2')]);
    expect(mergeTargetMetadata(lists, 0)).toEqual([]);
  });

  it('tsdb: max within a group, sum across groups, min and max times, top lists re-cut', () => {
    const s = (n: number, minTime: number, up: number) => ({
      headStats: { numSeries: n, numLabelPairs: 1, chunkCount: n, minTime, maxTime: minTime + 10 },
      seriesCountByMetricName: [
        { name: 'up', value: up },
        { name: 'x', value: 1 },
      ],
      labelValueCountByLabelName: [],
      memoryInBytesByLabelName: [],
      seriesCountByLabelValuePair: [],
    });
    const out = mergeTsdbStatus([[s(5, 100, 2), s(6, 50, 3)], [s(4, 70, 1)]], 1);
    expect(out.headStats).toEqual({ numSeries: 10, numLabelPairs: 2, chunkCount: 10, minTime: 50, maxTime: 110 });
    expect(out.seriesCountByMetricName).toEqual([{ name: 'up', value: 4 }]);
  });
});
