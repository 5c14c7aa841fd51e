// Warnings through layers: a promfront over a promfront whose second server group is down under
// ignore_error. The top answer, read over remote read and over the JSON API alike, carries the
// bottom's warning naming the group that is down, and its data is the reference's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { freePort, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { askApi, sameData, type Body } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const ask = async (base: string, path: string, params: Record<string, string>): Promise<Body> =>
  (await askApi(base, path, params, { timeoutMs: 20_000, strictJson: true })).body;

describe('proxy over proxy with a group down under ignore_error', () => {
  let prom: PrometheusProcess;
  let bottom: ProxyProcess;
  const tops: Record<string, ProxyProcess> = {};

  beforeAll(async () => {
    prom = await startBackfilledPrometheus(generateBackfillData());
    const dead = await freePort();
    bottom = await startProxy(
      (listen) => `
listen: ${listen}
log_level: error
query:
  semantics: prometheus-2
  server_groups:
    - name: live
      static_configs: [{targets: ["127.0.0.1:${prom.port}"]}]
    - name: bottom-down
      static_configs: [{targets: ["127.0.0.1:${dead}"]}]
      ignore_error: true
      timeout: 2s
`,
    );
    const top = (remoteRead: boolean) => (listen: string) => `
listen: ${listen}
log_level: error
query:
  semantics: prometheus-2
  server_groups:
    - name: upper
      static_configs: [{targets: ["${new URL(bottom.url).host}"]}]
      remote_read: ${remoteRead}
`;
    const [rr, json] = await Promise.all([startProxy(top(true)), startProxy(top(false))]);
    Object.assign(tops, { 'remote read': rr, 'JSON API': json });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(tops).map((p) => p.stop()));
    await bottom?.stop();
    await prom?.stop();
  });

  for (const transport of ['remote read', 'JSON API']) {
    it(`${transport}: the top answer names the bottom group that is down, data as the reference`, async () => {
      const params = {
        query: 'sum by (job) (rate(http_requests_total[5m]))',
        start: String(BACKFILL_START_MS / 1000 + 600),
        end: String(BACKFILL_END_MS / 1000),
        step: '60',
      };
      const ref = await ask(prom.url, '/api/v1/query_range', params);
      const got = await ask(tops[transport].url, '/api/v1/query_range', params);
      expect(sameData(ref, got)).toBeUndefined();
      const text = (got.warnings ?? []).join('\n');
      expect(text).toMatch(new RegExp(`server group "upper": target "[^"]+": server group "bottom-down" failed`));
      // Named once, though both the read and the label lookups of a query may carry it.
      expect(got.warnings!.filter((w) => w.includes('bottom-down')).length).toBe(1);
    });
  }

  it('a label lookup through the JSON API carries it too', async () => {
    const got = await ask(tops['JSON API'].url, '/api/v1/labels', {});
    expect((got.warnings ?? []).join('\n')).toMatch(/server group "bottom-down" failed/);
  });
});
