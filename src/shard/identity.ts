// A split series' identity: the job and instance labels a direct scrape of its source would give it.
// Shard servers scrape the proxy with honor_labels, so whatever job/instance a served series carries
// is what they store; giving every series its source's identity here makes it the same whichever
// shard holds it and whatever num_shards is, while each shard's own scrape (up, scrape_*) keeps a
// per-shard instance from `scrape-config` (docs/shard-identity.md).

import type { ShardConfig, SourceConfig } from '../config/schema.js';

/**
 * The instance Prometheus 2.42 gives a target scraped at `url`: its host and port, the scheme's
 * default port (80, 443) written out when the URL has none.
 */
export function instanceOf(url: string): string {
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  // URL.hostname keeps an IPv6 address's brackets, as host:port needs them.
  return `${u.hostname}:${port}`;
}

/**
 * The identity labels for one URL source, sorted by name: job (the source's job_name, else the
 * shard section's) and instance, leaving out any the source's `labels` set (those win, as target
 * labels do), and none when the shard section turns source_identity off.
 */
export function sourceIdentity(
  shard: Pick<ShardConfig, 'job_name' | 'source_identity'>,
  source: Pick<SourceConfig, 'url' | 'labels' | 'job_name'>,
): [string, string][] {
  if (!shard.source_identity) return [];
  const labels: [string, string][] = [
    ['instance', instanceOf(source.url)],
    ['job', source.job_name ?? shard.job_name],
  ];
  return labels.filter(([name]) => !(name in source.labels));
}
