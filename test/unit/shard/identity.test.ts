// Per-shard identity (docs/shard-identity.md): every split series carries its source's job and
// instance unless it has its own, the same whichever shard holds it and whatever num_shards is; each
// shard's own scrape target gets its own instance.

import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { scrapeConfigFor, shardInstance } from '../../../src/server/scrape-config.js';
import { initHash } from '../../../src/shard/hash.js';
import { instanceOf, sourceIdentity } from '../../../src/shard/identity.js';
import { SourceIngest, type SourceData } from '../../../src/shard/ingest.js';
import { ShardService } from '../../../src/shard/shard-service.js';
import type { ExpositionFormat } from '../../../src/shard/exposition.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';
import { startUpstream } from '../../support/upstream.js';

beforeAll(initHash);

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const ID: [string, string][] = [
  ['instance', 'ceph-a:9283'],
  ['job', 'ceph'],
];

/** Served series lines (OpenMetrics body and text body) with the shard each landed on. */
function served(
  body: string,
  format: ExpositionFormat,
  shards: number,
  labels: [string, string][] = [],
  identity = ID,
): { lines: Map<string, number>; text: string[] } {
  const ing = new SourceIngest(format, shards, labels, undefined, identity);
  parseExposition(Buffer.from(body, 'utf8').toString('latin1'), format, ing);
  const data: SourceData = ing.finish();
  const lines = new Map<string, number>();
  const text: string[] = [];
  for (const fam of data.families.values()) {
    fam.parts.forEach((part, shard) => {
      if (!part) return;
      for (const line of Buffer.concat(part.om.buffers).toString('utf8').split('\n')) if (line) lines.set(line, shard);
      for (const line of Buffer.concat((part.text ?? part.om).buffers)
        .toString('utf8')
        .split('\n'))
        if (line) text.push(line);
    });
  }
  return { lines, text };
}

describe('instanceOf', () => {
  it("is the URL's host:port, the scheme's default port written out as Prometheus 2.42 does", () => {
    expect(instanceOf('http://ceph-a:9283/metrics')).toBe('ceph-a:9283');
    expect(instanceOf('http://ceph-a/metrics')).toBe('ceph-a:80');
    expect(instanceOf('https://ceph-a/metrics?x=1')).toBe('ceph-a:443');
    expect(instanceOf('https://user:pw@10.0.0.1:8443/m')).toBe('10.0.0.1:8443');
    expect(instanceOf('http://[::1]:9100/metrics')).toBe('[::1]:9100');
  });
});

describe('sourceIdentity', () => {
  const shard = { job_name: 'promfront-shards', source_identity: true };
  it("gives job (the source's job_name, else the shard section's) and instance, sorted by name", () => {
    expect(sourceIdentity(shard, { url: 'http://a:1/m', labels: {} })).toEqual([
      ['instance', 'a:1'],
      ['job', 'promfront-shards'],
    ]);
    expect(sourceIdentity(shard, { url: 'http://a:1/m', labels: {}, job_name: 'ceph' })).toEqual([
      ['instance', 'a:1'],
      ['job', 'ceph'],
    ]);
  });
  it("leaves out what the source's labels set, and everything when source_identity is off", () => {
    expect(sourceIdentity(shard, { url: 'http://a:1/m', labels: { instance: 'mine' } })).toEqual([['job', 'promfront-shards']]);
    expect(sourceIdentity({ ...shard, source_identity: false }, { url: 'http://a:1/m', labels: {} })).toEqual([]);
  });
  it('is read from the config: source_identity on by default, job_name per source', () => {
    const c = parseConfigText('shard:\n  num_shards: 2\n  sources:\n    - url: http://a:1/m\n      job_name: ceph\n    - url: https://b/m\n');
    expect(c.shard!.source_identity).toBe(true);
    expect(c.shard!.sources.map((s) => ('url' in s ? sourceIdentity(c.shard!, s) : []))).toEqual([
      [
        ['instance', 'a:1'],
        ['job', 'ceph'],
      ],
      [
        ['instance', 'b:443'],
        ['job', 'promfront-shards'],
      ],
    ]);
  });
});

describe('identity labels on served series', () => {
  const BODY = [
    '# TYPE m gauge',
    'm{k="1"} 1',
    'm{job="own",k="2"} 2',
    'm{instance="own:1",job="own",k="3"} 3',
    'm{instance="own:2",k="4"} 4',
    '# TYPE h histogram',
    'h_bucket{le="1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 3',
    'h_count 2',
    '',
  ].join('\n');

  for (const format of ['text', 'openmetrics'] as const) {
    it(`adds job and instance only where the series has none of its own (honor_labels), ${format}`, () => {
      const body = format === 'openmetrics' ? `${BODY}# EOF\n` : BODY;
      const { lines, text } = served(body, format, 4);
      expect([...lines.keys()].sort()).toEqual(
        [
          'h_bucket{instance="ceph-a:9283",job="ceph",le="1"} 1',
          'h_bucket{instance="ceph-a:9283",job="ceph",le="+Inf"} 2',
          'h_count{instance="ceph-a:9283",job="ceph"} 2',
          'h_sum{instance="ceph-a:9283",job="ceph"} 3',
          'm{instance="ceph-a:9283",job="ceph",k="1"} 1',
          'm{instance="ceph-a:9283",job="own",k="2"} 2',
          'm{instance="own:1",job="own",k="3"} 3',
          'm{job="ceph",instance="own:2",k="4"} 4',
        ].sort(),
      );
      expect(text.filter((l) => !l.startsWith('#')).sort()).toEqual([...lines.keys()].sort());
      // The histogram's children stay on one shard with the labels added.
      expect(new Set([...lines].filter(([l]) => l.startsWith('h_')).map(([, s]) => s)).size).toBe(1);
    });
  }

  it('keeps the same labels on every series whatever num_shards is; only the placement changes', () => {
    const many = `# TYPE m gauge\n${Array.from({ length: 400 }, (_, i) => `m{k="${i}"} ${i}`).join('\n')}\n`;
    const three = served(many, 'text', 3).lines;
    const four = served(many, 'text', 4).lines;
    expect([...four.keys()].sort()).toEqual([...three.keys()].sort());
    for (const l of three.keys()) expect(l).toMatch(/^m\{instance="ceph-a:9283",job="ceph",k="\d+"\} \d+$/);
    expect(new Set(three.values()).size).toBe(3);
    expect(new Set(four.values()).size).toBe(4);
  });

  it("lets a source's labels win: a config instance replaces the identity's, the scraped one becomes exported_instance", () => {
    const { lines } = served('# TYPE m gauge\nm{instance="x",k="1"} 1\nm{k="2"} 2\n', 'text', 2, [['instance', 'cfg']], [['job', 'ceph']]);
    expect([...lines.keys()].sort()).toEqual(['m{exported_instance="x",instance="cfg",job="ceph",k="1"} 1', 'm{instance="cfg",job="ceph",k="2"} 2']);
  });

  it('passes series through unchanged with no identity (source_identity: false)', () => {
    const { lines } = served('# TYPE m gauge\nm{k="1"} 1\n', 'text', 2, [], []);
    expect([...lines.keys()]).toEqual(['m{k="1"} 1']);
  });
});

describe('the shard service serves each source under its own identity', () => {
  it('gives two sources with the same series their own instance and job, so neither is a duplicate', async () => {
    const a = await startUpstream('# TYPE m gauge\nm{k="1"} 1\n');
    const b = await startUpstream('# TYPE m gauge\nm{k="1"} 2\n');
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const config = parseConfigText(
      `shard:\n  num_shards: 2\n  job_name: fleet\n  scrape_interval: 1m\n  sources:\n    - url: ${a.url}\n      job_name: ceph\n    - url: ${b.url}\n`,
    );
    const svc = new ShardService(config.shard!, pino({ level: 'silent' }));
    cleanup.push(() => svc.stop());
    await svc.runCycle();
    const body = svc.current!.shards.map((s) => Buffer.concat(s.text).toString()).join('');
    const lines = body.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.sort()).toEqual(
      [`m{instance="${new URL(a.url).host}",job="ceph",k="1"} 1`, `m{instance="${new URL(b.url).host}",job="fleet",k="1"} 2`].sort(),
    );
    expect(svc.sources.map((s) => s.duplicatesDropped)).toEqual([0, 0]);
  });
});

describe('scrape-config', () => {
  it("gives each shard's target its own instance, <address>/shard/K, and keeps honor_labels", () => {
    const config = parseConfigText('listen: 127.0.0.1:9199\nshard:\n  num_shards: 3\n  sources: [{url: "http://a:1/m"}]\n');
    const instances = [0, 1, 2].map((k) => {
      const job = (scrapeConfigFor(config, k).scrape_configs as Record<string, unknown>[])[0];
      expect(job.honor_labels).toBe(true);
      const sc = job.static_configs as { targets: string[]; labels: Record<string, string> }[];
      expect(sc[0].targets).toEqual(['127.0.0.1:9199']);
      return sc[0].labels.instance;
    });
    expect(instances).toEqual(['127.0.0.1:9199/shard/0', '127.0.0.1:9199/shard/1', '127.0.0.1:9199/shard/2']);
    expect(shardInstance('proxy.example:9199', 7)).toBe('proxy.example:9199/shard/7');
  });
});
