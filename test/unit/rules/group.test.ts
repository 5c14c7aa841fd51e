// A group's evaluation with a fake query layer: Prometheus's schedule slot, recording with rule
// labels and staleness markers, the alert state machine (pending, firing after `for`,
// keep_firing_for, resolved and notified once), the in-process path for rules reading the group's
// own records, one round per evaluation where the query layer lives, and alert state kept by a
// group rebuilt on reload.

import { beforeAll, describe, expect, it } from 'vitest';
import type { RuleRound } from '../../../src/capability.js';
import { labelsFromRecord, labelsToRecord } from '../../../src/model/labels.js';
import { Group, evalTimestamp, groupHash, initGroupHash, type ActiveAlert, type GroupEnv } from '../../../src/rules/group.js';
import type { WriteSample } from '../../../src/rules/remote-write.js';
import { parseRuleFile } from '../../../src/rules/rulefile.js';

beforeAll(initGroupHash);

type Vec = { metric: Record<string, string>; value: [number, string] }[];

function env(answers: (expr: string, t: number) => Vec) {
  const written: WriteSample[][] = [];
  const notified: ActiveAlert[][] = [];
  const queries: string[] = [];
  const e: GroupEnv = {
    query: (expr, t) => {
      queries.push(expr);
      return Promise.resolve({ resultType: 'vector', result: answers(expr, t), warnings: [] });
    },
    externalLabels: {},
    externalURL: 'http://x',
    write: (s) => written.push(s),
    notify: (a) => notified.push(a),
    resendDelayMs: 60_000,
    onMissed: () => undefined,
    onEvaluated: () => undefined,
  };
  return { e, written, notified, queries };
}

const rec = (s: WriteSample) => `${JSON.stringify(labelsToRecord(s.labels))}@${s.t}=${s.stale ? 'stale' : s.v}`;

describe('rule group', () => {
  it('slots evaluations as Prometheus: offset from the hash of file and name', () => {
    const h = groupHash('g', '/r.yml');
    const t = evalTimestamp(1_700_000_000_123, 15_000, h);
    expect(t).toBeLessThanOrEqual(1_700_000_000_123);
    expect(1_700_000_000_123 - t).toBeLessThan(15_000);
    expect(evalTimestamp(t + 15_001, 15_000, h)).toBe(t + 15_000);
    // The slot's place in the interval is the hash modulo the interval (in ns), truncated to ms.
    expect(t % 15_000).toBe(Math.floor(Number(h % 15_000_000_000n) / 1e6));
    expect(groupHash('g', '/r.yml')).not.toBe(groupHash('h', '/r.yml'));
  });

  it('records with rule labels, reads its own records in-process, and marks vanished series stale', async () => {
    const [def] = parseRuleFile(
      `groups:\n  - name: g\n    rules:\n      - record: a:sum\n        expr: sum by (job) (x)\n        labels: {t: v}\n      - record: a:share\n        expr: a:sum / scalar(sum(a:sum))\n`,
      '/r.yml',
    );
    let jobs = ['p', 'q'];
    const f = env((expr) => (expr.startsWith('sum by') ? jobs.map((j, i) => ({ metric: { job: j }, value: [0, String(i + 1)] as [number, string] })) : []));
    const g = new Group(def, 1000, f.e);
    await g.evaluate(10_000);
    expect(f.queries).toEqual(['sum by (job) (x)']); // a:share never went to the query layer
    expect(f.written[0].map(rec).sort()).toEqual(
      [
        '{"__name__":"a:sum","job":"p","t":"v"}@10000=1',
        '{"__name__":"a:sum","job":"q","t":"v"}@10000=2',
        '{"__name__":"a:share","job":"p","t":"v"}@10000=0.3333333333333333',
        '{"__name__":"a:share","job":"q","t":"v"}@10000=0.6666666666666666',
      ].sort(),
    );
    jobs = ['p'];
    await g.evaluate(11_000);
    expect(f.written[1].map(rec).sort()).toEqual(
      [
        '{"__name__":"a:sum","job":"p","t":"v"}@11000=1',
        '{"__name__":"a:share","job":"p","t":"v"}@11000=1',
        '{"__name__":"a:sum","job":"q","t":"v"}@11000=stale',
        '{"__name__":"a:share","job":"q","t":"v"}@11000=stale',
      ].sort(),
    );
  });

  it('sends one round per evaluation with the rules the query layer answers; an error answer fails only its rule', async () => {
    const [def] = parseRuleFile(
      `groups:\n  - name: g\n    rules:\n      - record: a:sum\n        expr: sum by (job) (x)\n      - record: a:share\n        expr: a:sum / scalar(sum(a:sum))\n` +
        `      - record: b:bad\n        expr: sum(y)\n      - record: c:one\n        expr: vector(1)\n`,
      '/r.yml',
    );
    const f = env(() => []);
    const rounds: RuleRound[] = [];
    f.e.evaluateRound = (round) => {
      rounds.push(round);
      return Promise.resolve([
        { vector: [{ labels: labelsFromRecord({ job: 'p' }), v: 2 }], warnings: [], seconds: 0.5 },
        { error: 'server group "g" failed: down', seconds: 0.25 },
        { vector: [{ labels: [], v: 1 }], warnings: ['partial'], seconds: 0.125 },
      ]);
    };
    const g = new Group(def, 1000, f.e);
    await g.evaluate(10_000);
    expect(rounds).toEqual([{ timeMs: 10_000, exprs: ['sum by (job) (x)', 'sum(y)', 'vector(1)'] }]);
    expect(f.queries).toEqual([]);
    expect(f.written[0].map(rec)).toEqual([
      '{"__name__":"a:sum","job":"p"}@10000=2',
      '{"__name__":"a:share","job":"p"}@10000=1',
      '{"__name__":"c:one"}@10000=1',
    ]);
    expect(g.rules.map((r) => [r.health, r.lastError, r.evaluationTimeS])).toEqual([
      ['ok', '', 0.5],
      ['ok', '', g.rules[1].evaluationTimeS],
      ['err', 'server group "g" failed: down', 0.25],
      ['err', 'partial result: partial', 0.125],
    ]);
  });

  it('goes pending, fires after for, keeps firing for keep_firing_for, resolves, notifies once each; reload keeps it', async () => {
    const [def] = parseRuleFile(
      `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 2s\n        keep_firing_for: 2s\n        labels: {sev: "{{ $labels.job }}-x"}\n        annotations: {s: "{{ $value }}"}\n`,
      '/r.yml',
    );
    let on = true;
    const f = env(() => (on ? [{ metric: { __name__: 'up', job: 'j' }, value: [0, '0'] }] : []));
    let g = new Group(def, 1000, f.e);
    const state = () => [...g.rules[0].active.values()].map((a) => a.state);
    await g.evaluate(1000);
    expect(state()).toEqual(['pending']);
    await g.evaluate(2000);
    expect(state()).toEqual(['pending']);
    // Reload: a new group over the same definition keeps the pending alert and its activeAt.
    g = new Group(def, 1000, f.e, g);
    await g.evaluate(3000);
    expect(state()).toEqual(['firing']);
    expect(f.notified).toHaveLength(1);
    expect(f.notified[0][0].labels).toEqual({ alertname: 'A', job: 'j', sev: 'j-x' });
    expect(f.notified[0][0].annotations).toEqual({ s: '0' });
    // The pending series ends (stale) as the firing one starts, as in Prometheus.
    expect(f.written[2].map(rec).sort()).toEqual(
      [
        '{"__name__":"ALERTS","alertname":"A","alertstate":"firing","job":"j","sev":"j-x"}@3000=1',
        '{"__name__":"ALERTS","alertname":"A","alertstate":"pending","job":"j","sev":"j-x"}@3000=stale',
        '{"__name__":"ALERTS_FOR_STATE","alertname":"A","job":"j","sev":"j-x"}@3000=1',
      ].sort(),
    );
    on = false;
    await g.evaluate(4000); // keep firing
    expect(state()).toEqual(['firing']);
    await g.evaluate(5000);
    expect(state()).toEqual(['firing']);
    await g.evaluate(6000); // 2 s since the series went: resolved
    expect(state()).toEqual(['inactive']);
    expect(f.notified).toHaveLength(2);
    expect(f.notified[1][0].resolvedAtMs).toBe(6000);
    expect(f.written[5].every((s) => s.stale)).toBe(true);
    await g.evaluate(7000);
    expect(f.notified).toHaveLength(2);
  });

  it('restores the for state from ALERTS_FOR_STATE after the second round, as Prometheus RestoreForState does', async () => {
    const M = 60_000;
    const rules = ['A', 'B', 'C']
      .map((n) => `      - alert: ${n}\n        expr: up{r="${n}"} == 0\n        for: 20m\n`)
      .concat(`      - alert: D\n        expr: up{r="D"} == 0\n        for: 5m\n`)
      .join('');
    const [def] = parseRuleFile(`groups:\n  - name: g\n    rules:\n${rules}`, '/r.yml');
    const now = 1_700_000_000_000;
    const downAt = now - 30 * M; // the last ALERTS_FOR_STATE sample written before the restart
    // A: pending 5 m when promfront went down; B: pending 15 m (5 m left < 10 m grace); C: firing.
    const activeAt: Record<string, number> = { A: downAt - 5 * M, B: downAt - 15 * M, C: downAt - 25 * M, D: downAt - M };
    const restoreQueries: string[] = [];
    const f = env((expr) => {
      const name = /r="(\w)"/.exec(expr)?.[1] ?? '';
      return [{ metric: { __name__: 'up', r: name }, value: [0, '0'] }];
    });
    const plain = f.e.query.bind(f.e);
    f.e.query = (expr, t) => {
      const m = /^ALERTS_FOR_STATE\{alertname="(\w)"\}\[3600s\]$/.exec(expr);
      if (!m) return plain(expr, t);
      restoreQueries.push(expr);
      expect(t).toBe(now);
      const n = m[1];
      const metric = { __name__: 'ALERTS_FOR_STATE', alertname: n, r: n, source: 'pf' };
      // Older samples first; only the last counts.
      const values = [
        [downAt / 1000 - 60, String(activeAt[n] / 1000 - 999)],
        [downAt / 1000 + 0.5, String(activeAt[n] / 1000)],
      ];
      return Promise.resolve({ resultType: 'matrix', result: [{ metric, values }], warnings: [] });
    };
    f.e.externalLabels = { source: 'pf' };
    const g = new Group(def, M, f.e, undefined, true);
    await g.evaluate(now - 2 * M);
    await g.evaluate(now - M);
    // Before the restore nothing is written: a fresh activeAt must not overwrite the stored one.
    expect(f.written.flat().filter((s) => !s.labels.some((l) => l.value === 'D'))).toEqual([]);
    await g.restoreForState(now);
    expect(restoreQueries).toHaveLength(3); // D's for is under the grace period: not restored
    const at = (n: string) => [...g.rules.find((r) => r.def.name === n)!.active.values()][0].activeAtMs;
    expect(at('A')).toBe(activeAt.A + (now - downAt)); // the downtime is not counted as pending
    expect(at('B')).toBe(now + 10 * M - 20 * M); // fires after the grace period
    expect(at('C')).toBe(activeAt.C); // was firing: fires at the next round
    expect(at('D')).toBe(now - 2 * M);
    await g.evaluate(now + M);
    const state = (n: string) => [...g.rules.find((r) => r.def.name === n)!.active.values()][0].state;
    expect(['A', 'B', 'C'].map(state)).toEqual(['pending', 'pending', 'firing']);
    const forState = f.written.at(-1)!.filter((s) => s.labels.some((l) => l.value === 'ALERTS_FOR_STATE'));
    expect(forState.map((s) => `${labelsToRecord(s.labels).alertname}=${s.v}`).sort()).toEqual(
      ['A', 'B', 'C', 'D'].map((n) => `${n}=${Math.floor(at(n) / 1000)}`),
    );
  });
});
