// The request log repeats a request's query and match[] only up to a bound, and says what it cut.

import { describe, expect, it } from 'vitest';
import {
  LOG_MATCH_MAX_CHARS,
  LOG_MATCH_MAX_ENTRIES,
  LOG_QUERY_MAX_CHARS,
  LOG_WARNING_MAX_CHARS,
  LOG_WARNINGS_MAX_ENTRIES,
  loggedRequest,
  loggedWarnings,
} from '../../../src/server/api/request-log.js';

describe('loggedRequest', () => {
  it('keeps short queries and match lists as they are', () => {
    expect(loggedRequest('sum(up)', undefined)).toEqual({ query: 'sum(up)' });
    expect(loggedRequest(undefined, ['up', 'process_start_time_seconds'])).toEqual({ match: ['up', 'process_start_time_seconds'] });
    expect(loggedRequest(undefined, undefined)).toEqual({});
  });

  it('cuts a huge query and says its length', () => {
    const q = `sum(${'x+'.repeat(150_000)}1)`;
    const out = loggedRequest(q, undefined);
    expect((out.query as string).length).toBe(LOG_QUERY_MAX_CHARS + 1);
    expect(out.query).toBe(`${q.slice(0, LOG_QUERY_MAX_CHARS)}…`);
    expect(out.query_length).toBe(q.length);
  });

  it('keeps the first match[] entries, each cut, and says how many there were', () => {
    const match = Array.from({ length: 20_000 }, (_, i) => `up{i="${i}"}`);
    match[0] = `{a=~"${'y'.repeat(5000)}"}`;
    const out = loggedRequest(undefined, match);
    const logged = out.match as string[];
    expect(logged).toHaveLength(LOG_MATCH_MAX_ENTRIES);
    expect(logged[0]).toHaveLength(LOG_MATCH_MAX_CHARS + 1);
    expect(logged[1]).toBe('up{i="1"}');
    expect(out.match_count).toBe(20_000);
    expect(JSON.stringify(out).length).toBeLessThan(LOG_MATCH_MAX_ENTRIES * 40 + LOG_MATCH_MAX_CHARS + 100);
  });
});

describe('loggedWarnings', () => {
  it('carries the warning texts, the first few and each cut, with the full count when anything was cut', () => {
    expect(loggedWarnings([])).toEqual({});
    expect(loggedWarnings(['server group "down" left out: connection refused'])).toEqual({ warnings: ['server group "down" left out: connection refused'] });
    const many = Array.from({ length: 12 }, (_, i) => `w${i} ${'x'.repeat(i === 0 ? 2000 : 10)}`);
    const out = loggedWarnings(many) as { warnings: string[]; warnings_count: number };
    expect(out.warnings).toHaveLength(LOG_WARNINGS_MAX_ENTRIES);
    expect(out.warnings[0]).toBe(`${many[0].slice(0, LOG_WARNING_MAX_CHARS)}…`);
    expect(out.warnings[1]).toBe(many[1]);
    expect(out.warnings_count).toBe(12);
  });
});
