// http_sd_configs for server groups: Prometheus's HTTP SD answer read into targets, refreshed, and
// every failure (status, content type, bad JSON) keeping the last good targets, counted.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpDiscovery } from '../../../src/query/discovery/http-sd.js';

let answer: { status: number; type: string; body: string } = { status: 200, type: 'application/json', body: '[]' };
let lastRefreshHeader: string | undefined;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    lastRefreshHeader = req.headers['x-prometheus-refresh-interval-seconds'] as string | undefined;
    res.writeHead(answer.status, { 'content-type': answer.type });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sd`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('http_sd', () => {
  it('reads target groups, keeps labels without "__", and keeps the last good targets on every kind of failure', async () => {
    answer = {
      status: 200,
      type: 'application/json; charset=utf-8',
      body: JSON.stringify([{ targets: ['10.0.0.1:9090', '10.0.0.2:9090'], labels: { __meta_promfront_group: 'g', dc: 'x' } }]),
    };
    const d = new HttpDiscovery({ name: 'http_sd_configs[0]', url, refreshIntervalMs: 60_000 });
    let changes = 0;
    await d.start(() => changes++);
    try {
      expect(lastRefreshHeader).toBe('60');
      expect(d.targets()).toEqual([
        { address: '10.0.0.1:9090', labels: { dc: 'x' } },
        { address: '10.0.0.2:9090', labels: { dc: 'x' } },
      ]);
      expect(changes).toBe(1);
      const good = d.targets();
      for (const bad of [
        { status: 500, type: 'application/json', body: '[]' },
        { status: 200, type: 'text/plain', body: '[]' },
        { status: 200, type: 'application/json', body: '{not json' },
        { status: 200, type: 'application/json', body: '[{"targets": ["no port"]}]' },
      ]) {
        answer = bad;
        await d.refresh();
        expect(d.targets()).toBe(good);
      }
      expect(d.errors).toBe(4);
      expect([...d.failures().values()][0]).toMatch(/not host:port/);
      answer = { status: 200, type: 'application/json', body: '[]' };
      await d.refresh();
      expect(d.targets()).toEqual([]);
      expect(d.failures().size).toBe(0);
    } finally {
      d.stop();
    }
  });
});
