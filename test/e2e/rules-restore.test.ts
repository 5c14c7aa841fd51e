// Alert `for` state across a restart of promfront, as Prometheus's RestoreForState keeps it: a real
// Prometheus 2.42 receives promfront's remote write (--web.enable-remote-write-receiver) and is also
// its only server group, so ALERTS_FOR_STATE written before the restart is read back through the
// query layer after it.
//
// Proves: the restarted promfront writes no ALERTS/ALERTS_FOR_STATE until it has restored (no
// fresh activeAt ever reaches the receiver); the restored activeAt is the stored one moved forward
// by the time promfront was down (Prometheus does not count an outage as pending time); and the
// alert fires at the first evaluation at least `for` after that activeAt, well before a promfront
// without restore would have fired it (its `for` would have started again at its first round).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const FOR_S = 16;

type Raw = { metric: Record<string, string>; values: [number, string][] };

describe('alert for state restored after a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-rules-restore-'));
  const rulesFile = join(dir, 'rules.yml');
  let receiver: PrometheusProcess | undefined;
  let proxy: ProxyProcess | undefined;

  const config = (listen: string) => `listen: ${listen}
query:
  server_groups:
    - name: store
      static_configs: [{targets: ["127.0.0.1:${receiver!.port}"]}]
evaluation_interval: 1s
external_labels: {source: promfront}
rule_files: [${JSON.stringify(rulesFile)}]
remote_write:
  - url: ${receiver!.url}/api/v1/write
    queue_config: {batch_send_deadline: 50ms}
alerting:
  for_grace_period: 2s
  for_outage_tolerance: 1h
`;

  async function alerts(p: ProxyProcess): Promise<{ state: string; activeAt: string; labels: Record<string, string> }[]> {
    const body = (await (await fetch(`${p.url}/api/v1/alerts`)).json()) as {
      data: { alerts: { state: string; activeAt: string; labels: Record<string, string> }[] };
    };
    return body.data.alerts.filter((a) => a.labels.alertname === 'Restored');
  }

  beforeAll(async () => {
    // vector(1): always active, evaluated by the engine alone; only the restore reads the receiver.
    writeFileSync(
      rulesFile,
      `groups:\n  - name: restore\n    rules:\n      - alert: Restored\n        expr: vector(1)\n        for: ${FOR_S}s\n        labels: {severity: page}\n`,
    );
    receiver = await startPrometheus({ configYaml: 'global: {}\n', extraArgs: ['--web.enable-remote-write-receiver'] });
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fires `for` after the stored activeAt plus the downtime, as Prometheus restores it', async () => {
    const r = receiver!;
    proxy = await startProxy(config);
    const first = proxy;
    // Pending, and its ALERTS_FOR_STATE in the receiver (written from the round after the restore).
    await waitFor(async () => (await alerts(first))[0]?.state === 'pending', 20_000, 'the alert pending', 200);
    const activeAt0 = Date.parse((await alerts(first))[0].activeAt);
    await waitFor(async () => ((await r.query('ALERTS_FOR_STATE')) as unknown[]).length > 0, 20_000, 'ALERTS_FOR_STATE in the receiver', 200);
    await sleep(6000);
    await first.stop(); // SIGTERM: the queue is flushed
    proxy = undefined;
    const stoppedAt = Date.now();
    const before = (await r.query(`ALERTS_FOR_STATE[5m]`, stoppedAt / 1000)) as Raw[];
    expect(before).toHaveLength(1);
    expect(before[0].metric).toEqual({ __name__: 'ALERTS_FOR_STATE', alertname: 'Restored', severity: 'page', source: 'promfront' });
    expect(new Set(before[0].values.map(([, v]) => Number(v)))).toEqual(new Set([Math.floor(activeAt0 / 1000)]));
    const downAtS = Math.floor(before[0].values.at(-1)![0]);

    await sleep(4000); // promfront down
    const restartAt = Date.now();
    proxy = await startProxy(config);
    const second = proxy;
    // It writes ALERTS_FOR_STATE again only once restored (from its third round).
    const afterRestart = async () => ((await r.query(`ALERTS_FOR_STATE[1m]`, Date.now() / 1000)) as Raw[])[0].values.filter(([t]) => t * 1000 > stoppedAt);
    await waitFor(async () => (await afterRestart()).length > 0, 30_000, 'ALERTS_FOR_STATE from the restarted promfront', 200);
    const checkedAt = Date.now();
    const activeAt1 = Date.parse((await alerts(second))[0].activeAt);
    // RestoreForState: stored activeAt (whole seconds) + (restore time - last sample time, whole seconds).
    expect(activeAt1).toBeGreaterThanOrEqual(Math.floor(activeAt0 / 1000) * 1000 + (restartAt - downAtS * 1000));
    expect(activeAt1).toBeLessThanOrEqual(Math.floor(activeAt0 / 1000) * 1000 + (checkedAt - downAtS * 1000));

    await waitFor(async () => (await alerts(second))[0]?.state === 'firing', (FOR_S + 10) * 1000, 'the alert firing', 200);
    await sleep(500);
    const now = Date.now() / 1000;
    const firing = (await r.query(`ALERTS{alertstate="firing"}[2m]`, now)) as Raw[];
    expect(firing).toHaveLength(1);
    const firedAt = firing[0].values.filter(([t]) => t * 1000 > stoppedAt)[0][0] * 1000;
    // The first 1 s slot at least `for` after the restored activeAt.
    expect(firedAt).toBeGreaterThanOrEqual(activeAt1 + FOR_S * 1000);
    expect(firedAt).toBeLessThan(activeAt1 + FOR_S * 1000 + 1000);
    // Without restore its activeAt would have been its first round (two before its first write,
    // 2 s): the restored one keeps at least 2 s of the ~9 s it was pending before the restart.
    const firstWrite = (await afterRestart())[0][0] * 1000;
    expect(activeAt1).toBeLessThan(firstWrite - 2000 - 2000);
    // Every ALERTS_FOR_STATE after the restart carries the restored activeAt: none with a fresh one.
    const after = (await r.query(`ALERTS_FOR_STATE[2m]`, now)) as Raw[];
    const values = new Set(after[0].values.filter(([t]) => t * 1000 > stoppedAt).map(([, v]) => Number(v)));
    expect(values).toEqual(new Set([Math.floor(activeAt1 / 1000)]));
  }, 90_000);
});
