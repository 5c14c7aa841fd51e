import { beforeAll, describe, expect, it } from 'vitest';
import { buildShards } from '../../../src/shard/build.js';
import type { ExpositionFormat } from '../../../src/shard/exposition.js';
import { initHash } from '../../../src/shard/hash.js';
import { msToOmSeconds, SourceIngest, type SourceData } from '../../../src/shard/ingest.js';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';

beforeAll(initHash);

/** Parses like the scrape path does: UTF-8 bytes read as latin1. */
function ingest(body: string, format: ExpositionFormat, shards = 16, labels: [string, string][] = []): SourceData {
  const text = Buffer.from(body, 'utf8').toString('latin1');
  const ing = new SourceIngest(format, shards, labels);
  parseExposition(text, format, ing);
  return ing.finish();
}

/** Shard of every series line: `series part` -> shard id. */
function placement(data: SourceData): Map<string, number> {
  const out = new Map<string, number>();
  for (const fam of data.families.values()) {
    fam.parts.forEach((part, shard) => {
      if (!part) return;
      for (const line of Buffer.concat(part.om.buffers).toString('utf8').split('\n')) {
        if (line) out.set(line.slice(0, line.lastIndexOf('} ') + 1 || line.indexOf(' ')), shard);
      }
    });
  }
  return out;
}

function shardOf(body: string, format: ExpositionFormat = 'text', shards = 16): number {
  const p = [...placement(ingest(body, format, shards)).values()];
  expect(p).toHaveLength(1);
  return p[0];
}

describe('shard key', () => {
  it('keeps every child of a histogram and a summary on one shard', () => {
    const lines: string[] = ['# TYPE h histogram'];
    for (let i = 0; i < 300; i++) {
      for (const le of ['0.1', '1', '+Inf']) lines.push(`h_bucket{inst="${i}",le="${le}"} 1`);
      lines.push(`h_sum{inst="${i}"} 1`, `h_count{inst="${i}"} 1`);
    }
    lines.push('# TYPE s summary');
    for (let i = 0; i < 300; i++) {
      for (const q of ['0.5', '0.99']) lines.push(`s{inst="${i}",quantile="${q}"} 1`);
      lines.push(`s_sum{inst="${i}"} 1`, `s_count{inst="${i}"} 1`);
    }
    const place = placement(ingest(`${lines.join('\n')}\n`, 'text', 4));
    const byChild = new Map<string, Set<number>>();
    for (const [series, shard] of place) {
      const child = series.replace(/_(bucket|sum|count)\{/, '{').replace(/,?(le|quantile)="[^"]*"/, '');
      (byChild.get(child) ?? byChild.set(child, new Set()).get(child)!).add(shard);
    }
    expect(byChild.size).toBe(600);
    for (const [child, shards] of byChild) expect(shards.size, child).toBe(1);
    // ...and the children are spread over all shards.
    expect(new Set(place.values()).size).toBe(4);
  });

  it('does not depend on label order, escaping spelled differently, empty labels, or the exposition format', () => {
    const a = shardOf('m{a="1",b="x\\"y"} 1\n');
    expect(shardOf('m{b="x\\"y",a="1"} 1\n')).toBe(a);
    expect(shardOf('m{b="x\\"y",a="1",c=""} 1\n')).toBe(a);
    expect(shardOf('# TYPE m gauge\nm{b="x\\"y",a="1"} 1\n# EOF\n', 'openmetrics')).toBe(a);
    // A counter is x_total in text 0.0.4 and family x in OpenMetrics: same placement.
    const c = shardOf('# TYPE req_total counter\nreq_total{code="200"} 5\n');
    expect(shardOf('# TYPE req counter\nreq_total{code="200"} 5\n# EOF\n', 'openmetrics')).toBe(c);
    // Different values do move series.
    const spread = new Set(Array.from({ length: 50 }, (_, i) => shardOf(`m{a="${i}"} 1\n`)));
    expect(spread.size).toBeGreaterThan(8);
  });

  it('hashes UTF-8 label values byte for byte and passes them through unchanged', () => {
    const data = ingest('m{city="Zürich",sym="☃"} 1\n', 'text', 8);
    const out = [...placement(data).keys()];
    expect(out).toEqual(['m{city="Zürich",sym="☃"}']);
  });
});

describe('source labels', () => {
  it('adds them and renames a clashing scraped label exported_<name> (more prefixes while taken), as Prometheus does', async () => {
    const data = ingest('m{cluster="inner",exported_cluster="x",a="1"} 1\nn 2\n', 'text', 1, [['cluster', 'outer']]);
    const set = await buildShards([data], 1, 1);
    const body = Buffer.concat(set.shards[0].text).toString();
    expect(body).toBe('m{a="1",cluster="outer",exported_cluster="x",exported_exported_cluster="inner"} 1\nn{cluster="outer"} 2\n');
  });
});

describe('format conversion', () => {
  it('turns text millisecond timestamps into OpenMetrics seconds Prometheus reads back exactly', async () => {
    const data = ingest('# HELP g A "quoted" help\\nline\n# TYPE g gauge\ng 1 1700000000001\ng2 Inf -5\n', 'text', 1);
    const set = await buildShards([data], 1, 1);
    expect(Buffer.concat(set.shards[0].om).toString()).toBe('# HELP g A \\"quoted\\" help\\nline\n# TYPE g gauge\ng 1 1700000000.001\ng2 +Inf -0.005\n# EOF\n');
    expect(Buffer.concat(set.shards[0].text).toString()).toBe('# HELP g A "quoted" help\\nline\n# TYPE g gauge\ng 1 1700000000001\ng2 Inf -5\n');
  });

  it('msToOmSeconds always round-trips through Prometheus arithmetic', () => {
    let x = 1234567;
    for (let i = 0; i < 100_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const ms = 1_600_000_000_000 + x * 97 + (i % 1000);
      const s = msToOmSeconds(ms);
      expect(Math.trunc(Number(s) * 1000), s).toBe(ms);
      const neg = -ms;
      expect(Math.trunc(Number(msToOmSeconds(neg)) * 1000)).toBe(neg);
    }
  });

  it('serves OpenMetrics-only series shapes in text as their own gauge families, without exemplars', async () => {
    const om = [
      '# TYPE gh gaugehistogram',
      'gh_bucket{le="1"} 2',
      'gh_bucket{le="+Inf"} 3 # {trace_id="a"} 0.5',
      'gh_gcount 3',
      'gh_gsum 4',
      '# TYPE i info',
      'i_info{v="1"} 1',
      '# TYPE st stateset',
      'st{st="a"} 1',
      'st{st="b"} 0',
      '# EOF',
      '',
    ].join('\n');
    const set = await buildShards([ingest(om, 'openmetrics', 1)], 1, 1);
    expect(Buffer.concat(set.shards[0].om).toString()).toBe(om);
    expect(Buffer.concat(set.shards[0].text).toString()).toBe(
      [
        '# TYPE gh histogram',
        'gh_bucket{le="1"} 2',
        'gh_bucket{le="+Inf"} 3',
        '# TYPE gh_gcount gauge',
        'gh_gcount 3',
        '# TYPE gh_gsum gauge',
        'gh_gsum 4',
        '# TYPE i_info gauge',
        'i_info{v="1"} 1',
        '# TYPE st gauge',
        'st{st="a"} 1',
        'st{st="b"} 0',
        '',
      ].join('\n'),
    );
  });
});

describe('StreamingIngest', () => {
  const body = '\ufeff# HELP m Zürich ☃ help\n# TYPE m gauge\nm{city="Zürich",sym="☃"} 1\nm{city="東京"} 2\n# TYPE c counter\nc_total 5\n# EOF\n';

  function lines(data: SourceData): string[] {
    return [...placement(data).keys()].sort();
  }

  it('gives the same result however the body is cut, even inside a character', async () => {
    const bytes = Buffer.from(body, 'utf8');
    const whole = new StreamingIngest('openmetrics', 4, []);
    whole.write(bytes);
    const expected = lines(whole.finish());
    expect(expected).toEqual(['c_total', 'm{city="Zürich",sym="☃"}', 'm{city="東京"}']);
    for (let size = 1; size < 12; size++) {
      const s = new StreamingIngest('openmetrics', 4, []);
      for (let i = 0; i < bytes.length; i += size) s.write(bytes.subarray(i, i + size));
      expect(lines(s.finish()), `pieces of ${size} bytes`).toEqual(expected);
    }
  });

  it('rejects invalid UTF-8 and reports parse errors with the line of the whole body', async () => {
    const bad = new StreamingIngest('text', 2, []);
    expect(() => bad.write(Buffer.from([0x6d, 0x7b, 0x61, 0x3d, 0x22, 0xff, 0x22, 0x7d, 0x20, 0x31, 0x0a]))).toThrow(/not valid UTF-8/);
    const s = new StreamingIngest('text', 2, []);
    s.write(Buffer.from('a 1\nb 2\n'));
    expect(() => s.write(Buffer.from('c 3\nd x\n'))).toThrow(/^line 4: invalid value "x" for sample d/);
  });
});

describe('duplicate series within one source', () => {
  /** Every served OpenMetrics line of the source, in order. */
  function served(data: SourceData): string[] {
    const out: string[] = [];
    for (const fam of data.families.values()) {
      for (const part of fam.parts) if (part) out.push(...Buffer.concat(part.om.buffers).toString('utf8').split('\n').filter(Boolean));
    }
    return out.sort();
  }

  it('keeps the first sample of a repeated series and counts the others, whatever their spelling', () => {
    const body = [
      '# TYPE g gauge',
      'g{a="1",b="2"} 1',
      'g{b="2",a="1"} 2', // same series, labels in another order
      'g{a="1",b="2",c=""} 3', // an empty label is no label
      'g{a="1",b="3"} 4',
      'g{ a = "1" , b="2" , } 5', // text-only blanks and trailing comma
      '# TYPE h histogram',
      'h_bucket{le="1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_bucket{le="1"} 9',
      'h_sum 3',
      'h_count 2',
      'h_sum 4',
      'lone 1',
      '',
    ].join('\n');
    const data = ingest(body, 'text', 4);
    expect(data.duplicates).toBe(5);
    expect(data.series).toBe(7);
    expect(served(data)).toEqual(['g{a="1",b="2"} 1', 'g{a="1",b="3"} 4', 'h_bucket{le="+Inf"} 2', 'h_bucket{le="1"} 1', 'h_count 2', 'h_sum 3', 'lone 1']);
  });

  it('treats label values that unescape alike as one series, and the same series at another timestamp as a new sample', () => {
    const body = ['m{v="a\\\\b"} 1 1000', 'm{v="a\\\\b"} 2 2000', 'm{v="a\\\\b"} 3 1000', 'm{v="x\\"y"} 4', 'm{v="x\\"y"} 5', ''].join('\n');
    const data = ingest(body, 'text', 2);
    expect(data.duplicates).toBe(2);
    // Text millisecond timestamps are served in OpenMetrics as seconds.
    expect(served(data)).toEqual(['m{v="a\\\\b"} 1 1', 'm{v="a\\\\b"} 2 2', 'm{v="x\\"y"} 4']);
  });

  it('finds every repeat in a large family, and starts afresh in the next family', () => {
    const lines = ['# TYPE big gauge'];
    for (let i = 0; i < 20_000; i++) lines.push(`big{host="h${i % 5000}",i="${Math.floor(i / 5000)}"} ${i}`);
    // Every 7th series again, with its labels in the other order (the canonical, built key).
    for (let i = 0; i < 20_000; i += 7) lines.push(`big{i="${Math.floor(i / 5000)}",host="h${i % 5000}"} -1`);
    lines.push('# TYPE small gauge', 'small{host="h1",i="0"} 1', 'small{host="h2",i="0"} 2', 'small{host="h1",i="0"} 3');
    const data = ingest(`${lines.join('\n')}\n`, 'text', 4);
    expect(data.duplicates).toBe(Math.ceil(20_000 / 7) + 1);
    expect(data.series).toBe(20_000 + 2);
    const out = served(data);
    expect(out.filter((l) => l.endsWith(' -1'))).toEqual([]);
    expect(out).toContain('small{host="h1",i="0"} 1');
  });

  it('catches a repeat whatever order the family writes its labels in, and names its first sample lacks', () => {
    // The family's first sample has its labels unsorted (as Ceph writes them): repeats in that order,
    // in sorted order, with an extra empty label and with a label the first sample does not have.
    const body = [
      '# TYPE c gauge',
      'c{z="1",a="1"} 1',
      'c{z="2",a="1"} 2',
      'c{a="1",z="1"} 3', // same as the first, sorted
      'c{z="2",a="1"} 4', // same as the second, as written
      'c{z="2",m="",a="1"} 5', // an empty label is no label
      'c{z="2",a="1",b="x"} 6', // a new series: b is not in the first sample
      'c{b="x",a="1",z="2"} 7', // that one again, in another order
      'c{a="1"} 8', // a child with fewer labels, new
      'c{a="1"} 9',
      '',
    ].join('\n');
    const data = ingest(body, 'text', 4);
    expect(data.duplicates).toBe(5);
    expect(served(data)).toEqual(['c{a="1"} 8', 'c{z="1",a="1"} 1', 'c{z="2",a="1",b="x"} 6', 'c{z="2",a="1"} 2']);
  });

  it('drops duplicates in OpenMetrics too, and counts none in a clean body', () => {
    const om = ingest('# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\ng{a="2"} 3\n# EOF\n', 'openmetrics', 2);
    expect(om.duplicates).toBe(1);
    expect(served(om)).toEqual(['g{a="1"} 1', 'g{a="2"} 3']);
    const clean = ingest('# TYPE g gauge\ng{a="1"} 1\ng{a="2"} 2\n# TYPE f gauge\nf{a="1"} 1\n', 'text', 2);
    expect(clean.duplicates).toBe(0);
    expect(clean.series).toBe(3);
  });
});

describe('bodies of many small families', () => {
  it('serves every family exactly, as a few large buffers rather than one per family', async () => {
    const n = 5000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`# HELP m_${i} Help ${i}.`, `# TYPE m_${i} gauge`, `m_${i}{i="${i}"} ${i}`);
    const set = await buildShards([ingest(`${lines.join('\n')}\n`, 'text', 4)], 4, 1);
    const seen = new Map<string, string>();
    for (const shard of set.shards) {
      // 5000 families of about 60 bytes over 4 shards: some 75 KB per shard, in 64 KiB chunks.
      expect(shard.text.length).toBeLessThanOrEqual(3);
      expect(shard.om.length).toBeLessThanOrEqual(3);
      const text = Buffer.concat(shard.text).toString('latin1');
      const blocks = text.split(/(?=# HELP )/).filter(Boolean);
      expect(blocks).toHaveLength(shard.families);
      for (const b of blocks) seen.set(/^# HELP (\S+)/.exec(b)![1], b);
      expect(Buffer.concat(shard.om).toString('latin1').endsWith('# EOF\n')).toBe(true);
    }
    expect(seen.size).toBe(n);
    for (const i of [0, 1, 2345, n - 1]) expect(seen.get(`m_${i}`)).toBe(`# HELP m_${i} Help ${i}.\n# TYPE m_${i} gauge\nm_${i}{i="${i}"} ${i}\n`);
  });

  it('serves large parts, small parts with their own text lines and a key declared twice alike, on one shard or four', async () => {
    // Large parts (over 64 KiB of lines) stay objects; small ones are recorded by where their lines
    // are in the arena, with the text lines apart when they differ (timestamps); a_total's large part
    // gets a's lines appended when the key comes again.
    const big = Array.from({ length: 5000 }, (_, i) => `big{i="${i}"} ${i}`);
    const counter = Array.from({ length: 4000 }, (_, i) => `a_total{k="${i}"} ${i}`);
    const tiny = Array.from({ length: 300 }, (_, i) => `# TYPE t_${i} gauge\nt_${i} ${i} 1700000000${String(i).padStart(3, '0')}`);
    const body = ['# TYPE big gauge', ...big, '# TYPE a_total counter', ...counter, ...tiny, '# TYPE a gauge', 'a{k="x"} 1', 'a{k="y"} 2', ''].join('\n');
    const one = await buildShards([ingest(body, 'text', 1)], 1, 1);
    const want = ['# TYPE big gauge', ...big, '# TYPE a_total counter', ...counter, 'a{k="x"} 1', 'a{k="y"} 2', ...tiny, ''].join('\n');
    expect(Buffer.concat(one.shards[0].text).toString('latin1')).toBe(want);
    const om = Buffer.concat(one.shards[0].om).toString('latin1');
    expect(om).toContain('# TYPE t_7 gauge\nt_7 7 1700000000.007\n');
    expect(om.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toHaveLength(5000 + 4000 + 300 + 2);

    const four = await buildShards([ingest(body, 'text', 4)], 4, 1);
    const lines = four.shards.flatMap((sh) => Buffer.concat(sh.text).toString('latin1').split('\n'));
    expect(lines.filter((l) => l !== '' && !l.startsWith('#')).sort()).toEqual(
      want
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .sort(),
    );
    expect(four.shards.reduce((a, sh) => a + sh.series, 0)).toBe(5000 + 4000 + 300 + 2);
  });

  it('keeps the lines of a family key that a body declares twice (x_total counter, then x), in order', async () => {
    const body = '# TYPE a_total counter\na_total{k="1"} 1\na_total{k="2"} 2\n# TYPE b gauge\nb 3\n# TYPE a gauge\na{k="1"} 4\na{k="2"} 5\n';
    const set = await buildShards([ingest(body, 'text', 1)], 1, 1);
    expect(Buffer.concat(set.shards[0].text).toString('latin1')).toBe(
      '# TYPE a_total counter\na_total{k="1"} 1\na_total{k="2"} 2\na{k="1"} 4\na{k="2"} 5\n# TYPE b gauge\nb 3\n',
    );
  });
});

describe('lines passed through as written', () => {
  /** Every family's lines in one format, in body order (one shard). */
  function lines(data: SourceData, which: 'om' | 'text'): string[] {
    const out: string[] = [];
    for (const fam of data.families.values()) {
      const part = fam.parts[0]!;
      const sink = which === 'text' ? (part.text ?? part.om) : part.om;
      out.push(...Buffer.concat(sink.buffers).toString('latin1').split('\n').filter(Boolean));
    }
    return out;
  }

  it('writes one spelling whatever the blanks, and keeps values and timestamps as written', () => {
    const body = [
      ['g 1', 'g 1', 'g 1'],
      ['h  2', 'h 2', 'h 2'],
      ['i\t3', 'i 3', 'i 3'],
      ['j 4 1700000000000', 'j 4 1700000000000', 'j 4 1700000000'],
      ['k{a="b"} 5', 'k{a="b"} 5', 'k{a="b"} 5'],
      ['l{a="b"}  6', 'l{a="b"} 6', 'l{a="b"} 6'],
      ['m 7 ', 'm 7', 'm 7'],
      ['n 1.5e3', 'n 1.5e3', 'n 1.5e3'],
      ['o 08', 'o 08', 'o 08'],
      ['p +Inf', 'p +Inf', 'p +Inf'],
      ['q inf', 'q inf', 'q +Inf'],
      ['a_quite_long_metric_name_over_13 9', 'a_quite_long_metric_name_over_13 9', 'a_quite_long_metric_name_over_13 9'],
      ['r{} 10', 'r 10', 'r 10'],
    ];
    const text = body.map(([line]) => `# TYPE ${/^[a-z_0-9]+/.exec(line)![0]} gauge\n${line}`).join('\n');
    // The last line without a newline: the line cannot be passed through with the body's newline.
    const data = ingest(`${text}\ns_last 11`, 'text', 1);
    expect(lines(data, 'text')).toEqual([...body.map(([, t]) => t), 's_last 11']);
    expect(lines(data, 'om')).toEqual([...body.map(([, , om]) => om), 's_last 11']);
  });
});
