// A scrape that arrives by message is served at the edge's scrape time: samples written without a
// timestamp get it (in each format's unit), samples with their own keep theirs, exemplars stay after it.

import { describe, expect, it } from 'vitest';
import { StreamingIngest } from '../../../src/shard/stream-ingest.js';
import { buildShards } from '../../../src/shard/build.js';
import { initHash } from '../../../src/shard/hash.js';

async function served(format: 'text' | 'openmetrics', body: string): Promise<{ text: string; om: string }> {
  await initHash();
  const ingest = new StreamingIngest(
    format,
    1,
    [
      ['instance', 'h:1'],
      ['job', 'j'],
    ],
    1700000000123,
  );
  ingest.write(Buffer.from(body));
  const set = await buildShards([ingest.finish()], 1, 1);
  const s = set.shards[0];
  return { text: Buffer.concat(s.text).toString(), om: Buffer.concat(s.om).toString() };
}

describe('default timestamp', () => {
  it('stamps text samples without one and keeps explicit ones', async () => {
    const { text, om } = await served('text', '# TYPE a gauge\na 1\na{x="y"} 2 1600000000000\n');
    expect(text).toContain('a{instance="h:1",job="j"} 1 1700000000123\n');
    expect(text).toContain('a{instance="h:1",job="j",x="y"} 2 1600000000000\n');
    expect(om).toContain('a{instance="h:1",job="j"} 1 1700000000.123\n');
  });
  it('puts the timestamp before an OpenMetrics exemplar', async () => {
    const { om, text } = await served('openmetrics', '# TYPE c counter\nc_total 3 # {trace_id="t"} 1\n# EOF\n');
    expect(om).toContain('c_total{instance="h:1",job="j"} 3 1700000000.123 # {trace_id="t"} 1\n');
    expect(text).toContain('c_total{instance="h:1",job="j"} 3 1700000000123\n');
  });
});
