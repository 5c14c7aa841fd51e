// `./proxy scrape-config`: the scrape_configs the per-shard Prometheus servers need, derived from the
// shard section so that they cannot drift from what the proxy serves.

import { stringify } from 'yaml';
import { formatDuration } from '../util/duration.js';
import { parseListen, resolvedTimings, type Config } from '../config/schema.js';
import { federateJobName } from '../config/fleet.js';

/**
 * The Prometheus scrape_configs for the per-shard servers. Every shard uses the same job name and
 * honor_labels, so a series' job/instance labels, and a histogram's children, come out the same
 * whichever shard holds them.
 */
export function scrapeConfigFor(config: Config, shard: number, target?: string): Record<string, unknown> {
  const s = config.shard!;
  const t = resolvedTimings(s);
  const addr = proxyAddress(config, target);
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

/**
 * The job of a fleet member's Prometheus (docs/fleet.md): its group's share read from this proxy's
 * /sd/fleet through HTTP SD, refreshed every 5 s so a move is picked up well within the hand-over
 * overlap; honor_labels because shard endpoints and federated members carry their own job labels.
 */
export function renderFleetScrapeConfig(config: Config, target?: string): string {
  const f = config.fleet!;
  const group = f.register?.group ?? 'GROUP';
  const addr = proxyAddress(config, target);
  const sd = `http://${addr}/sd/fleet?group=${encodeURIComponent(group)}`;
  const doc = {
    scrape_configs: [
      {
        job_name: 'fleet',
        honor_labels: true,
        http_sd_configs: [{ url: sd, refresh_interval: '5s' }],
      },
      // Levels: one job per lower fleet, federating its members' share of this group.
      ...f.targets.federate.map((l) => ({
        job_name: federateJobName(l),
        honor_labels: true,
        metrics_path: '/federate',
        params: { 'match[]': l.match },
        http_sd_configs: [{ url: `${sd}&federate=${encodeURIComponent(federateJobName(l))}`, refresh_interval: '5s' }],
      })),
    ],
  };
  const note = f.register ? `# Prometheus server ${f.register.address} of fleet group ${group}\n` : '# No fleet.register: replace GROUP with the fleet group\n';
  return `${note}${stringify(doc)}`;
}

function proxyAddress(config: Config, target: string | undefined): string {
  if (target) return target;
  const { host, port } = parseListen(config.listen);
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/**
 * The job that scrapes the Pushgateways of the push section, found through the proxy's HTTP SD
 * (healthy members only); honor_labels keeps the job and instance labels the pushers gave.
 */
export function pushScrapeConfig(config: Config, target?: string): string {
  const p = config.push!;
  const doc = {
    scrape_configs: [
      {
        job_name: p.job_name,
        honor_labels: true,
        http_sd_configs: [{ url: `http://${proxyAddress(config, target)}/sd/pushgateways`, refresh_interval: formatDuration(p.health_check_interval) }],
      },
    ],
  };
  return `# Prometheus scrape job for the Pushgateways behind the push section\n${stringify(doc)}`;
}

export function renderScrapeConfigs(config: Config, only?: number, target?: string): string {
  const n = config.shard!.num_shards;
  const ids = only === undefined ? [...Array(n).keys()] : [only];
  return ids.map((k) => `# Prometheus server for shard ${k} of ${n}\n${stringify(scrapeConfigFor(config, k, target))}`).join('---\n');
}
