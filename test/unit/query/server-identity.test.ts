// server-identity.ts: which downstreams count as plainly Prometheus for the default whole-query
// pushdown, and how long an answer (or a failure) is kept.

import { describe, expect, it } from 'vitest';
import { IdentityCache, prometheusMajor, queryFlags, type ServerIdentity } from '../../../src/query/downstream/server-identity.js';

const PROMETHEUS_2_42 = {
  version: '2.42.0',
  revision: '225c61122d88b01d1f0eaaee0e05b6f3e0567ac0',
  branch: 'debian/sid',
  buildUser: 'team+pkg-go@tracker.debian.org',
  buildDate: '20230209-17:02:53',
  goVersion: 'go1.19.5',
};

describe('prometheusMajor', () => {
  it("reads Prometheus's version", () => {
    expect(prometheusMajor(PROMETHEUS_2_42)).toEqual({ version: '2.42.0', major: 2 });
    expect(prometheusMajor({ ...PROMETHEUS_2_42, version: '3.1.0-rc.0' })).toEqual({ version: '3.1.0-rc.0', major: 3 });
  });
  it('refuses what is not plainly Prometheus', () => {
    // Mimir names itself; VictoriaMetrics-like answers carry a version only; promfront runs on Node.
    expect(prometheusMajor({ ...PROMETHEUS_2_42, application: 'Grafana Mimir', version: 'r249-5bedc7a1' })).toBeUndefined();
    expect(prometheusMajor({ ...PROMETHEUS_2_42, application: 'Grafana Mimir' })).toBeUndefined();
    expect(prometheusMajor({ version: '2.24.0' })).toBeUndefined();
    expect(prometheusMajor({ ...PROMETHEUS_2_42, goVersion: 'v20.20.2' })).toBeUndefined();
    expect(prometheusMajor({ ...PROMETHEUS_2_42, version: 'main' })).toBeUndefined();
    expect(prometheusMajor({ ...PROMETHEUS_2_42, revision: '' })).toBeUndefined();
    expect(prometheusMajor(null)).toBeUndefined();
    expect(prometheusMajor('2.42.0')).toBeUndefined();
  });
});

describe('queryFlags', () => {
  it('reads --query.lookback-delta and --query.max-samples', () => {
    expect(queryFlags({ 'query.lookback-delta': '5m', 'query.max-samples': '50000000', 'query.timeout': '2m' })).toEqual({
      lookbackDeltaMs: 300_000,
      maxSamples: 50_000_000,
    });
    expect(queryFlags({ 'query.lookback-delta': '1m30s', 'query.max-samples': '100' })).toEqual({ lookbackDeltaMs: 90_000, maxSamples: 100 });
  });
  it('is undefined when either is absent or unreadable', () => {
    expect(queryFlags({})).toBeUndefined();
    expect(queryFlags({ 'query.lookback-delta': '5m' })).toBeUndefined();
    expect(queryFlags({ 'query.lookback-delta': 'soon', 'query.max-samples': '100' })).toBeUndefined();
    expect(queryFlags({ 'query.lookback-delta': '5m', 'query.max-samples': 'many' })).toBeUndefined();
    expect(queryFlags([])).toBeUndefined();
  });
});

describe('IdentityCache', () => {
  const id: ServerIdentity = { version: '2.42.0', major: 2, lookbackDeltaMs: 300_000, maxSamples: 50_000_000 };

  it('asks once, shares the pending answer, and refreshes in the background after refreshMs', async () => {
    let now = 0;
    let asked = 0;
    let answer: ServerIdentity | undefined = id;
    const cache = new IdentityCache(
      () => {
        asked++;
        return Promise.resolve(answer);
      },
      60_000,
      () => now,
    );
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect([a, b, asked]).toEqual([id, id, 1]);
    now = 59_999;
    expect(await cache.get()).toEqual(id);
    expect(asked).toBe(1);
    // Stale: the old answer is served while the new one is asked; the next call sees the new one.
    now = 60_000;
    answer = { ...id, major: 3 };
    expect(await cache.get()).toEqual(id);
    expect(asked).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect((await cache.get())?.major).toBe(3);
  });

  it('remembers a failure as "not known to be Prometheus" until the next refresh', async () => {
    let now = 0;
    let asked = 0;
    let fail = true;
    const cache = new IdentityCache(
      () => {
        asked++;
        return fail ? Promise.reject(new Error('404')) : Promise.resolve(id);
      },
      1000,
      () => now,
    );
    expect(await cache.get()).toBeUndefined();
    expect(await cache.get()).toBeUndefined();
    expect(asked).toBe(1);
    fail = false;
    now = 1000;
    await cache.get();
    await new Promise((r) => setImmediate(r));
    expect(await cache.get()).toEqual(id);
  });
});
