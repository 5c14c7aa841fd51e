// The canonical grouping key (src/push/grouping-key.ts): every spelling Pushgateway 1.5.1 reads as
// one group gives one key, spellings it reads as different groups give different keys, and paths it
// refuses are refused with its words. Also the rendezvous ring: stable owners, minimal movement.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64, groupPath, parseGroupingKey, PushPathError } from '../../../src/push/grouping-key.js';
import { keyOfLabels } from '../../../src/push/rebalance.js';
import { ownerOf, rankMembers } from '../../../src/push/ring.js';
import { initHash } from '../../../src/shard/hash.js';

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const b64std = (s: string) => Buffer.from(s).toString('base64');

describe('parseGroupingKey', () => {
  const same: string[] = [
    '/metrics/job/backup/instance/db1/zone/eu',
    '/metrics/job/backup/zone/eu/instance/db1',
    `/metrics/job@base64/${b64('backup')}/zone/eu/instance/db1`,
    `/metrics/job/backup/instance@base64/${b64('db1')}/zone/eu`,
    `/metrics/job/backup/instance@base64/${b64std('db1')}=/zone/eu`,
    '/metrics/job/backup/instance/db%31/zone/%65u',
    '/metrics/job/back%75p/zone/eu/instance/db1',
    // A "job" pair in the rest is overridden by the job segment, as Pushgateway does.
    '/metrics/job/backup/job/other/zone/eu/instance/db1',
    // Pushgateway redirects unclean paths to the clean one, which the client then pushes.
    '/metrics/job/backup//instance/db1/zone/eu',
    '/metrics/job/backup/./instance/db1/zone/eu',
  ];
  it('reads every spelling of one group as the same key', () => {
    const keys = new Set(same.map((p) => parseGroupingKey(p).key));
    expect(keys.size).toBe(1);
    const k = parseGroupingKey(same[0]);
    expect(k.job).toBe('backup');
    expect(k.labels).toEqual([
      ['instance', 'db1'],
      ['zone', 'eu'],
    ]);
  });

  it('decodes a "/" in a value only through @base64; %2F is a separator to Pushgateway', () => {
    const k = parseGroupingKey(`/metrics/job/j/path@base64/${b64('/var/tmp')}`);
    expect(k.labels).toEqual([['path', '/var/tmp']]);
    expect(() => parseGroupingKey('/metrics/job/j/path/a%2Fb')).toThrow(new PushPathError('odd number of components in label string "/path/a/b"'));
    expect(parseGroupingKey('/metrics/job/j/path/a%2Fb/c').labels).toEqual([
      ['b', 'c'],
      ['path', 'a'],
    ]);
  });

  it('handles empty values as Pushgateway does: a distinct group from one without the label', () => {
    const plain = parseGroupingKey('/metrics/job/j');
    const trailing = parseGroupingKey('/metrics/job/j/');
    const emptyB64 = parseGroupingKey('/metrics/job/j/x@base64/=');
    const emptyPlain = parseGroupingKey('/metrics/job/j/x/');
    expect(trailing.key).toBe(plain.key);
    expect(emptyB64.key).toBe(emptyPlain.key);
    expect(emptyB64.labels).toEqual([['x', '']]);
    expect(emptyB64.key).not.toBe(plain.key);
    expect(parseGroupingKey('/metrics/job/j/a/1/b/').labels).toEqual([
      ['a', '1'],
      ['b', ''],
    ]);
  });

  it('keeps "+" and spaces as written (no form decoding in paths)', () => {
    expect(parseGroupingKey('/metrics/job/j/v/a+b').labels).toEqual([['v', 'a+b']]);
    expect(parseGroupingKey('/metrics/job/j/v/a%20b').labels).toEqual([['v', 'a b']]);
    expect(parseGroupingKey('/metrics/job/j/v/a+b').key).not.toBe(parseGroupingKey('/metrics/job/j/v/a%20b').key);
  });

  it('decodes UTF-8 from percent escapes and base64 alike', () => {
    expect(parseGroupingKey('/metrics/job/j/v/%C3%A9t%C3%A9').key).toBe(parseGroupingKey(`/metrics/job/j/v@base64/${b64('été')}`).key);
  });

  it("refuses what Pushgateway refuses, with Pushgateway's message", () => {
    const cases: [string, string][] = [
      ['/metrics/job/j/a/1/b', 'odd number of components in label string "/a/1/b"'],
      ['/metrics/job/j/__x/1', 'improper label name "__x"'],
      ['/metrics/job/j/1a/1', 'improper label name "1a"'],
      ['/metrics/job/j/a-b/1', 'improper label name "a-b"'],
      ['/metrics/job/j/a@base64/!!', 'invalid base64 encoding for label a="!!": illegal base64 data'],
      ['/metrics/job/j/a@base64/a+b=', 'invalid base64 encoding for label a="a+b=": illegal base64 data'],
      ['/metrics/job/j/a@base64/abcde', 'invalid base64 encoding for label a="abcde": illegal base64 data'],
      ['/metrics/job@base64/=', 'job name is required'],
      ['/metrics/job@base64/%21', 'invalid base64 encoding in job name "!": illegal base64 data'],
      ['/metrics/job/j/a/%zz', 'invalid URL escape in path "/metrics/job/j/a/%zz"'],
    ];
    for (const [path, msg] of cases) expect(() => parseGroupingKey(path), path).toThrow(new PushPathError(msg));
  });

  it("decodes base64 as Go's RawURLEncoding after trimming '='", () => {
    expect(decodeBase64('YQ')).toBe('a');
    expect(decodeBase64('YQ==')).toBe('a');
    expect(decodeBase64('YQ=====')).toBe('a');
    expect(decodeBase64('=')).toBe('');
    expect(decodeBase64('_-8')).toBe(Buffer.from([0xff, 0xef]).toString('utf8'));
    expect(decodeBase64('a/b=')).toBeUndefined();
    expect(decodeBase64('a')).toBeUndefined();
  });

  it('groupPath writes a path that reads back to the same group, and keyOfLabels agrees with the path key', () => {
    const groups: Record<string, string>[] = [{ job: 'j' }, { job: 'a/b', x: '' }, { job: 'j', path: '/var/tmp', name: 'a b+c', e: 'été', q: '?#%' }];
    for (const g of groups) {
      const path = groupPath(g.job, Object.entries(g));
      const k = parseGroupingKey(path);
      expect(Object.fromEntries([['job', k.job], ...k.labels])).toEqual(g);
      expect(keyOfLabels(g)).toBe(k.key);
    }
  });
});

describe('rendezvous ring', () => {
  beforeAll(initHash);
  const members = ['10.0.0.1:9091', '10.0.0.2:9091', '10.0.0.3:9091', '10.0.0.4:9091'];
  const keys = Array.from({ length: 2000 }, (_, i) => parseGroupingKey(`/metrics/job/j${i}/instance/i${i % 7}`).key);

  it('names the same owner whatever the member order, and rankMembers starts with it', () => {
    for (const k of keys.slice(0, 200)) {
      const o = ownerOf(k, members);
      expect(ownerOf(k, [...members].reverse())).toBe(o);
      expect(rankMembers(k, members)[0]).toBe(o);
    }
  });

  it('spreads keys over every member', () => {
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(ownerOf(k, members)!, (counts.get(ownerOf(k, members)!) ?? 0) + 1);
    expect(counts.size).toBe(4);
    for (const c of counts.values()) expect(c).toBeGreaterThan(350);
  });

  it('moves only the keys of a member that leaves, each to its second choice, and back when it returns', () => {
    const without = members.filter((m) => m !== '10.0.0.2:9091');
    for (const k of keys) {
      const before = rankMembers(k, members);
      const after = ownerOf(k, without);
      if (before[0] === '10.0.0.2:9091') expect(after).toBe(before[1]);
      else expect(after).toBe(before[0]);
    }
  });

  it('has no owner without members', () => {
    expect(ownerOf(keys[0], [])).toBeUndefined();
  });
});
