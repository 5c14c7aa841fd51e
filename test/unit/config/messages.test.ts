// Config mistakes in plain words: required fields, misspelt fields with a suggestion, YAML 1.1
// booleans, wrong types without echoing values, YAML syntax errors with line and text.

import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { nearestKey } from '../../../src/config/messages.js';
import { ConfigError } from '../../../src/errors.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems ?? [err.message];
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('config messages', () => {
  it('says "required" for a missing field and suggests the nearest known field for a misspelt one', () => {
    expect(problems('shard:\n  num_shard: 3\n  sources: [{url: "http://a/", timeot: 5s}]\n')).toEqual([
      'shard.num_shards: required',
      'shard.sources.0: unknown field "timeot": did you mean "timeout"?',
      'shard: unknown field "num_shard": did you mean "num_shards"?',
    ]);
    // Deep inside arrays and defaults too; nothing close: no guess.
    expect(problems('query:\n  server_groups:\n    - static_configs: [{targets: ["a:1"]}]\n      http_client: {dial_timout: 1s}\n      zzzzzz: 1\n')).toEqual([
      'query.server_groups.0.http_client: unknown field "dial_timout": did you mean "dial_timeout"?',
      'query.server_groups.0: unknown field "zzzzzz"',
    ]);
    expect(problems('listn: ":9099"\n')).toEqual(['(top level): unknown field "listn": did you mean "listen"?']);
  });

  it('refuses YAML 1.1 booleans saying why, and names wrong types without echoing the value', () => {
    expect(problems('query:\n  server_groups:\n    - static_configs: [{targets: ["a:1"]}]\n      ignore_error: yes\n')).toEqual([
      'query.server_groups.0.ignore_error: must be true or false: "yes" is a boolean only in YAML 1.1; promfront reads YAML 1.2, so write true',
    ]);
    const p = problems('shard:\n  num_shards: 1\n  sources: [{url: "http://a/", basic_auth: {username: u, password: 987654}}]\n');
    expect(p).toEqual(['shard.sources.0.basic_auth.password: must be a string, got a number']);
    expect(p.join()).not.toContain('987654');
  });

  it('refuses a port out of range and zero timeouts', () => {
    expect(problems('listen: 127.0.0.1:99999\n')).toEqual(['listen: port must be from 0 to 65535']);
    expect(problems('query:\n  timeout: 0s\n  server_groups: [{static_configs: [{targets: ["a:1"]}], timeout: 0s}]\n')).toEqual([
      'query.server_groups.0.timeout: must be greater than 0',
      'query.timeout: must be greater than 0',
    ]);
    expect(problems('shard:\n  num_shards: 1\n  scrape_timeout: 0s\n  sources: [{url: "http://a/"}]\n')).toEqual([
      'shard.scrape_timeout: must be greater than 0',
    ]);
  });

  it('gives a YAML syntax error its line, column and the text of that line', () => {
    expect(problems('shard:\n  num_shards: 3\n  sources: [{url: "http://a/"}\n')).toEqual([
      'yaml: line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ], after line 3: "  sources: [{url: \\"http://a/\\"}"',
    ]);
    expect(problems('shard:\n  num_shards: 3\n   sources: x\n')).toEqual([
      expect.stringMatching(/^yaml: line 2, column \d+: Nested mappings are not allowed in compact mappings: " {2}num_shards: 3"$/),
    ]);
  });

  it('suggests only near names', () => {
    expect(nearestKey('scrape_intervall', ['scrape_interval', 'scrape_timeout'])).toBe('scrape_interval');
    expect(nearestKey('ScrapeInterval', ['scrape_interval'])).toBe('scrape_interval');
    expect(nearestKey('sources', ['num_shards', 'job_name'])).toBeUndefined();
  });
});
