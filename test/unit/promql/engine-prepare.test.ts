// Engine.prepare / execInstant / execRange: a query is parsed and checked once, its errors are the
// ones instantQuery and rangeQuery report, and the HTTP API parses each query exactly once.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { PromQLError } from '../../../src/errors.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { createQueryApi } from '../../../src/server/api/query-api.js';

const T0 = 1_700_000_000_000;

function storage(): MemoryStorage {
  const s = new MemoryStorage();
  for (let i = 0; i <= 10; i++) s.add({ __name__: 'up', job: 'a' }, T0 - 60_000 + i * 6_000, i);
  return s;
}

/** An engine that counts how often it parses. */
class CountingEngine extends Engine {
  parses = 0;
  override parse(query: string) {
    this.parses++;
    return super.parse(query);
  }
}

describe('Engine.prepare', () => {
  it('throws the bad_data error instantQuery rejects with', async () => {
    const engine = new Engine();
    let thrown: unknown;
    try {
      engine.prepare('sum(');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PromQLError);
    expect((thrown as PromQLError).errorType).toBe('bad_data');
    await expect(engine.instantQuery(storage(), 'sum(', T0)).rejects.toThrow((thrown as Error).message);
  });

  it('runs a prepared query as instantQuery and rangeQuery do', async () => {
    const engine = new Engine();
    const s = storage();
    const p = engine.prepare('up * 2');
    expect(await engine.execInstant(p, s, T0)).toEqual(await engine.instantQuery(s, 'up * 2', T0));
    expect(await engine.execRange(p, s, T0 - 30_000, T0, 10_000)).toEqual(await engine.rangeQuery(s, 'up * 2', T0 - 30_000, T0, 10_000));
  });

  it('execRange throws a bad step or end at once and rejects a range-vector query', async () => {
    const engine = new Engine();
    const s = storage();
    expect(() => engine.execRange(engine.prepare('up'), s, T0, T0, 0)).toThrow('zero or negative query resolution step widths are not accepted');
    expect(() => engine.execRange(engine.prepare('up'), s, T0, T0 - 1, 1000)).toThrow('end timestamp must not be before start time');
    await expect(engine.execRange(engine.prepare('up[5m]'), s, T0 - 1000, T0, 1000)).rejects.toThrow(
      'invalid expression type "range vector" for range query, must be Scalar or instant Vector',
    );
  });
});

describe('the query API', () => {
  it('parses each query once', async () => {
    const engine = new CountingEngine();
    const app = createQueryApi({ storage: storage(), engine, now: () => T0 });
    expect((await app.request('/query?query=up')).status).toBe(200);
    expect(engine.parses).toBe(1);
    expect((await app.request(`/query_range?query=up&start=${(T0 - 60_000) / 1000}&end=${T0 / 1000}&step=15`)).status).toBe(200);
    expect(engine.parses).toBe(2);
  });
});
