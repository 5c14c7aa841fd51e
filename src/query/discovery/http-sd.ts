// http_sd_configs: targets from an HTTP endpoint answering Prometheus's HTTP SD JSON, fetched again
// every refresh_interval, as Prometheus's HTTP discovery does.
//
// It exists so any HTTP SD source can feed a server group; in particular promfront's own fleet
// (`/sd/fleet/members?group=G`, docs/fleet.md) makes each fleet group a server group whose targets
// are its live members, without the query layer (a worker thread) knowing about etcd.
//
// As Prometheus: the answer must be 200 with a JSON Content-Type and a list of target groups; any
// failure keeps the last good targets, logged and counted. The refresh interval is sent in
// X-Prometheus-Refresh-Interval-Seconds. No auth or TLS settings yet (plain URLs only).

import { RefreshingDiscoverer } from './refresher.js';
import { dedupeTargets, type DiscoveryLog, parseTargetGroupsFile } from './target.js';

export interface HttpDiscoveryOptions {
  name: string;
  url: string;
  refreshIntervalMs: number;
  log?: DiscoveryLog;
}

const JSON_TYPE = /^application\/json(;.*)?$/i;

export class HttpDiscovery extends RefreshingDiscoverer {
  private readonly abort = new AbortController();

  constructor(private readonly opts: HttpDiscoveryOptions) {
    super({ name: opts.name, refreshIntervalMs: opts.refreshIntervalMs, log: opts.log, overlap: 'join' });
  }

  protected override released(): void {
    this.abort.abort();
  }

  protected async refreshOnce(): Promise<void> {
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(1000, this.opts.refreshIntervalMs))]);
      const res = await fetch(this.opts.url, {
        signal,
        headers: { accept: 'application/json', 'x-prometheus-refresh-interval-seconds': String(this.opts.refreshIntervalMs / 1000) },
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
      const type = res.headers.get('content-type') ?? '';
      if (!JSON_TYPE.test(type)) throw new Error(`unsupported content type ${JSON.stringify(type)}`);
      const targets = parseTargetGroupsFile(text, 'answer.json');
      if (this.stopped) return;
      this.succeeded(this.opts.url, { sd: this.name, url: this.opts.url }, 'http_sd: works again');
      this.publish(dedupeTargets(targets));
    } catch (err) {
      if (this.stopped) return;
      const reason = (err as Error).message;
      this.failed(
        this.opts.url,
        reason,
        { sd: this.name, url: this.opts.url, err: reason, kept_targets: this.targets().length },
        `http_sd: ${this.opts.url}: ${reason}; keeping the last good targets`,
      );
    }
  }
}
