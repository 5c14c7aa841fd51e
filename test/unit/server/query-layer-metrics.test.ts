// The query layer's /metrics text is one valid exposition: every family once, however many parts of
// the layer count into it. Two parts once wrote a promfront_query_refused_total each, which made
// /metrics unparseable (Prometheus would fail the scrape); now every kind of refusal is a label of
// the one family.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { createQueryLayer, type QueryLayer } from '../../../src/server/query-layer.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';

let layer: QueryLayer | undefined;
let silent: Server | undefined;
afterEach(async () => {
  await layer?.close();
  layer = undefined;
  await new Promise((r) => (silent ? silent.close(r) : r(undefined)));
  silent = undefined;
});

describe('query layer metrics', () => {
  it('parse as one exposition, with queue and match[] refusals in one promfront_query_refused_total', async () => {
    // A downstream that accepts connections and never answers: the first query holds the one slot.
    const sockets: Socket[] = [];
    silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const config = parseConfigText(`
query:
  timeout: 2s
  max_concurrent_queries: 1
  max_queued_queries: 0
  max_match_selectors: 2
  server_groups:
    - static_configs: [{targets: ["127.0.0.1:${port}"]}]
      remote_read: false
`);
    layer = createQueryLayer(config.query!);
    const api = layer.api;
    expect((await api.request('/series?match[]=a&match[]=b&match[]=c')).status).toBe(400);
    const first = api.request('/query?query=up');
    await new Promise((r) => setTimeout(r, 100)); // the first query is admitted and waits downstream
    expect((await api.request('/query_range?query=up&start=0&end=60&step=15')).status).toBe(503);
    await first;
    for (const s of sockets) s.destroy();

    const text = layer.metrics();
    const families: string[] = [];
    const refused: string[] = [];
    parseExposition(text, 'text', {
      family: (f) => void families.push(f.name),
      sample: (s) => {
        if (s.name === 'promfront_query_refused_total') refused.push(`${s.labels.join(' ')} = ${s.value}`);
      },
    });
    expect(families.filter((n) => n === 'promfront_query_refused_total')).toHaveLength(1);
    expect(refused.sort()).toEqual(['type query_range reason queue_full = 1', 'type series reason too_many_matchers = 1']);
  }, 10_000);
});
