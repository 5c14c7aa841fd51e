// /status and /metrics of the process itself: build, uptime and config file on /status, only the
// sections that are configured, and the standard process_* / nodejs_* families in a valid exposition.

import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/server/app.js';
import { startEventLoopMonitor } from '../../../src/server/process-metrics.js';
import { parseExposition } from '../../../src/shard/textparse/parse.js';
import { REVISION, VERSION } from '../../../src/version.js';

describe('/status', () => {
  it('has version, uptime and config file, and a query-only proxy shows its query section and no shard keys', async () => {
    const startedAt = Date.now() - 42_000;
    const app = createApp({ shard: undefined, startedAt, configFile: '/etc/promfront/config.yaml', queryStatus: () => ({ groups: [] }) });
    const doc = (await (await app.request('/status')).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      version: VERSION,
      revision: REVISION,
      nodejs: process.version,
      started_at: new Date(startedAt).toISOString(),
      config_file: '/etc/promfront/config.yaml',
      query: { groups: [] },
    });
    expect(doc.uptime_secs).toBeGreaterThanOrEqual(42);
    expect(doc.uptime_secs).toBeLessThan(60);
    expect(Object.keys(doc)).not.toContain('shard');
    expect(Object.keys(doc)).not.toContain('num_shards');
  });

  it('leaves out the query section when there is none', async () => {
    const app = createApp({ shard: undefined, startedAt: Date.now() });
    const doc = (await (await app.request('/status')).json()) as Record<string, unknown>;
    expect(Object.keys(doc)).not.toContain('query');
  });
});

describe('/metrics', () => {
  it('has the process_* and nodejs_* families, each once, in an exposition our parser accepts', async () => {
    startEventLoopMonitor();
    await new Promise((r) => setTimeout(r, 60));
    const app = createApp({ shard: undefined, startedAt: Date.now() });
    const text = await (await app.request('/metrics')).text();
    const families: string[] = [];
    const values = new Map<string, number>();
    parseExposition(text, 'text', {
      family: (m) => void families.push(m.name),
      sample: (s) => void values.set(s.name, s.value),
    });
    expect(new Set(families).size).toBe(families.length);
    for (const name of [
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'process_open_fds',
      'process_max_fds',
      'nodejs_heap_size_used_bytes',
      'nodejs_version_info',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(families, name).toContain(name);
    }
    // Real readings, not placeholders: this process has a start time in the past, memory and fds.
    const start = values.get('process_start_time_seconds')!;
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(start).toBeGreaterThan(Date.now() / 1000 - 24 * 3600);
    expect(values.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(values.get('process_open_fds')).toBeGreaterThan(2);
    expect(values.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(1024 * 1024);
  });
});
