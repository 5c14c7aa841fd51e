// The remote-write receiver (a real Prometheus 2.42, --web.enable-remote-write-receiver) stopped
// for a while under promfront's recording rules, then started again on the same port.
//
// Proves: while it is down the queue retries (samples_retried_total grows, the last error is in
// /status), holds at most max_pending_samples and drops the oldest beyond it, counted in
// samples_dropped_total; once it is back everything still queued is delivered; and nothing is lost
// silently: in = sent + failed + dropped + pending at every look, and every sample counted as sent
// after the restart is in the new receiver.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const MAX_PENDING = 12;

describe('remote write while the receiver is down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-rules-rw-down-'));
  const rulesFile = join(dir, 'rules.yml');
  let receiver: PrometheusProcess | undefined;
  let proxy: ProxyProcess | undefined;

  beforeAll(async () => {
    // Three series a round, one round a second.
    writeFileSync(
      rulesFile,
      'groups:\n  - name: down\n    rules:\n' +
        ['a', 'b', 'c'].map((s) => `      - record: pf:tick\n        expr: vector(time())\n        labels: {s: ${s}}\n`).join(''),
    );
    receiver = await startPrometheus({ configYaml: 'global: {}\n', extraArgs: ['--web.enable-remote-write-receiver'] });
    const port = receiver.port;
    proxy = await startProxy(
      // Rules are evaluated through the query layer, which needs a server group (never asked here).
      (listen) => `listen: ${listen}
query:
  server_groups:
    - name: any
      static_configs: [{targets: ["127.0.0.1:${port}"]}]
rule_files: [${JSON.stringify(rulesFile)}]
evaluation_interval: 1s
remote_write:
  - url: http://127.0.0.1:${port}/api/v1/write
    name: store
    queue_config: {batch_send_deadline: 50ms, min_backoff: 50ms, max_backoff: 400ms, max_pending_samples: ${MAX_PENDING}}
`,
    );
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function counters(): Promise<Record<string, number>> {
    const text = await (await fetch(`${proxy!.url}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^promfront_remote_storage_(\w+)\{remote_name="store",[^}]*\} (\S+)$/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  }

  function accounted(c: Record<string, number>): void {
    expect(c.samples_in_total).toBe(c.samples_total + c.samples_failed_total + c.samples_dropped_total + c.samples_pending);
  }

  it('retries, drops the oldest beyond the bound (counted), and delivers the rest when the receiver is back', async () => {
    const p = proxy!;
    await waitFor(async () => (await counters()).samples_total >= 6, 30_000, 'samples sent', 200);
    const port = receiver!.port;
    await receiver!.stop();
    receiver = undefined;
    // 8 s down: 24 samples made, at most 12 held.
    for (let i = 0; i < 8; i++) {
      await sleep(1000);
      const c = await counters();
      expect(c.samples_pending).toBeLessThanOrEqual(MAX_PENDING);
      accounted(c);
    }
    const down = await counters();
    expect(down.samples_retried_total).toBeGreaterThan(0);
    expect(down.samples_dropped_total).toBeGreaterThan(0);
    expect(down.samples_failed_total).toBe(0);
    const status = (await (await fetch(`${p.url}/status`)).json()) as { rules: { remote_write: { name: string; lastError?: string }[] } };
    expect(status.rules.remote_write[0].lastError).toMatch(/ECONNREFUSED|fetch failed|connect/i);

    receiver = await startPrometheus({ configYaml: 'global: {}\n', port, extraArgs: ['--web.enable-remote-write-receiver'] });
    const r = receiver;
    await waitFor(async () => (await counters()).samples_pending === 0 && (await r.query('count(pf:tick)')).length > 0, 30_000, 'the queue to drain', 200);
    // Let a few more rounds through, then stop the rules' clock: compare at a quiet moment.
    await sleep(2000);
    const end = await counters();
    accounted(end);
    expect(end.samples_failed_total).toBe(0);
    expect(end.samples_dropped_total).toBeGreaterThanOrEqual(down.samples_dropped_total);
    // Every sample counted as sent since the receiver went down is in the new receiver: the
    // held ones (the newest MAX_PENDING, plus the batch that was in flight) and everything after.
    const held = await r.query(`sum(count_over_time(pf:tick[5m]))`);
    expect(Number(held[0]?.value[1] ?? 0)).toBe(end.samples_total - down.samples_total);
    const raw = (await r.query(`pf:tick[5m]`)) as { metric: Record<string, string>; values: [number, string][] }[];
    expect(raw).toHaveLength(3);
    for (const s of raw) {
      // One sample per 1 s round, oldest first, with at most one gap: between the batch that was
      // in flight when the receiver went down and the newest samples held (the oldest dropped).
      const ts = s.values.map(([t]) => t);
      const steps = ts.slice(1).map((t, i) => Math.round(t - ts[i]));
      expect(steps.every((d) => d >= 1)).toBe(true);
      expect(steps.filter((d) => d > 1).length).toBeLessThanOrEqual(1);
      expect(ts.length).toBeGreaterThanOrEqual(MAX_PENDING / 3 + 2);
    }
  }, 90_000);
});
