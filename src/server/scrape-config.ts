// `./proxy scrape-config`: the scrape_configs the per-shard Prometheus servers need, derived from the
// shard section so that they cannot drift from what the proxy serves.

import { stringify } from 'yaml';
import { formatDuration } from '../util/duration.js';
import { parseListen, resolvedTimings, type Config } from '../config/schema.js';

/**
 * The Prometheus scrape_configs for the per-shard servers. Every shard uses the same job name and
 * honor_labels, so a series' job/instance labels, and a histogram's children, come out the same
 * whichever shard holds them.
 */
export function scrapeConfigFor(config: Config, shard: number, target?: string): Record<string, unknown> {
  const s = config.shard!;
  const t = resolvedTimings(s);
  let addr = target;
  if (!addr) {
    const { host, port } = parseListen(config.listen);
    const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    addr = `${h}:${port}`;
  }
  return {
    scrape_configs: [
      {
        job_name: s.job_name,
        honor_labels: true,
        metrics_path: `/metrics/shard/${shard}`,
        scrape_interval: formatDuration(t.intervalMs),
        scrape_timeout: formatDuration(t.timeoutMs),
        static_configs: [{ targets: [addr] }],
      },
    ],
  };
}

export function renderScrapeConfigs(config: Config, only?: number, target?: string): string {
  const n = config.shard!.num_shards;
  const ids = only === undefined ? [...Array(n).keys()] : [only];
  return ids.map((k) => `# Prometheus server for shard ${k} of ${n}\n${stringify(scrapeConfigFor(config, k, target))}`).join('---\n');
}
