// `./proxy scrape-config`: the scrape_configs the per-shard Prometheus servers need, derived from the
// shard section so that they cannot drift from what the proxy serves.

import { stringify } from 'yaml';
import { formatDuration } from '../util/duration.js';
import { parseListen, resolvedTimings, type Config } from '../config/schema.js';
import { federateJobName } from '../config/fleet.js';

/**
 * The Prometheus scrape_configs for the per-shard servers. Every shard uses the same job name and
 * honor_labels, so the job/instance each served series carries (its source's, src/shard/identity.ts)
 * is what is stored, whichever shard holds it. Each shard's target gets its own instance,
 * `<proxy host:port>/shard/K`, so that its up and scrape_* series stay apart from the other shards'
 * (docs/shard-identity.md): set as a static label, which Prometheus uses instead of the address.
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
        static_configs: [{ targets: [addr], labels: { instance: shardInstance(addr, shard) } }],
      },
    ],
  };
}

/** The instance label of shard K's scrape target: the address it is scraped at and the shard. */
export function shardInstance(addr: string, shard: number): string {
  return `${addr}/shard/${shard}`;
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
        ...pushScrapeConnection(p),
      },
    ],
  };
  const inline = p.basic_auth?.password !== undefined || p.authorization?.credentials !== undefined;
  const note = inline ? '# the push section has its secret inline: give Prometheus the same one (password_file / credentials_file)\n' : '';
  return `# Prometheus scrape job for the Pushgateways behind the push section\n${note}${stringify(doc)}`;
}

export function renderScrapeConfigs(config: Config, only?: number, target?: string): string {
  const n = config.shard!.num_shards;
  const ids = only === undefined ? [...Array(n).keys()] : [only];
  return ids.map((k) => `# Prometheus server for shard ${k} of ${n}\n${stringify(scrapeConfigFor(config, k, target))}`).join('---\n');
}

/** Prometheus reaches the Pushgateways as the proxy does: same scheme, TLS trust and credentials (file paths only, never a secret). */
function pushScrapeConnection(p: NonNullable<Config['push']>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.scheme === 'https') out.scheme = 'https';
  if (p.tls_config)
    out.tls_config = Object.fromEntries(Object.entries(p.tls_config).filter(([k, v]) => v !== undefined && !(k === 'insecure_skip_verify' && v === false)));
  if (p.basic_auth) out.basic_auth = { username: p.basic_auth.username, ...(p.basic_auth.password_file ? { password_file: p.basic_auth.password_file } : {}) };
  if (p.authorization)
    out.authorization = { type: p.authorization.type, ...(p.authorization.credentials_file ? { credentials_file: p.authorization.credentials_file } : {}) };
  return out;
}
