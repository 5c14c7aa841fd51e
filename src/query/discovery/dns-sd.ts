// dns_sd_configs: targets from DNS A, AAAA or SRV records, looked up again every refresh_interval,
// as Prometheus's DNS discovery does.
//
// It exists so a fleet whose Prometheus servers are published in DNS (a headless Kubernetes
// service, Consul DNS, SRV records kept by hand) is followed as servers come and go, without a
// config change or restart; the refresh lifecycle is RefreshingDiscoverer's (refresher.ts).
//
// Outcomes of one lookup, following Prometheus: records → those targets; the name does not exist
// (NXDOMAIN) or has no records of the type → no targets for that name; any other failure (SERVFAIL,
// timeout, refused, unreachable server) → the name keeps its last good targets, and the failure is
// logged and counted. Names are looked up as written (no resolv.conf search domains).

import { Resolver } from 'node:dns/promises';
import { RefreshingDiscoverer } from './refresher.js';
import { dedupeTargets, type DiscoveredTarget, type DiscoveryLog } from './target.js';

export interface DnsDiscoveryOptions {
  name: string;
  names: string[];
  type: 'SRV' | 'A' | 'AAAA';
  /** Required for A and AAAA. */
  port?: number;
  refreshIntervalMs: number;
  log?: DiscoveryLog;
  /** DNS servers ("ip" or "ip:port"); default: the system's. */
  servers?: string[];
  /** Per-try timeout and tries per server (defaults 2 s, 2). */
  timeoutMs?: number;
  tries?: number;
}

/** Lookup results that mean "no such records", not a failure. */
const EMPTY_ANSWER = new Set(['ENOTFOUND', 'ENODATA']);

export class DnsDiscovery extends RefreshingDiscoverer {
  private readonly resolver: Resolver;
  private readonly byName = new Map<string, DiscoveredTarget[]>();

  constructor(private readonly opts: DnsDiscoveryOptions) {
    if (opts.type !== 'SRV' && opts.port === undefined) throw new Error(`${opts.name}: a port is needed for ${opts.type} records`);
    // A lookup started while one runs would get the same answers: join it.
    super({ name: opts.name, refreshIntervalMs: opts.refreshIntervalMs, log: opts.log, overlap: 'join' });
    this.resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
    if (opts.servers !== undefined) this.resolver.setServers(opts.servers);
  }

  protected override released(): void {
    this.resolver.cancel();
  }

  protected async refreshOnce(): Promise<void> {
    await Promise.all(
      this.opts.names.map(async (name) => {
        try {
          this.byName.set(name, await this.lookup(name));
          this.succeeded(name, { sd: this.name, dns_name: name }, 'dns_sd: lookup works again');
        } catch (err) {
          if (this.stopped) return;
          const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          this.failed(
            name,
            reason,
            { sd: this.name, dns_name: name, err: reason, kept_targets: this.byName.get(name)?.length ?? 0 },
            `dns_sd: ${this.opts.type} lookup of ${name} failed: ${reason}; keeping its last good targets`,
          );
        }
      }),
    );
    if (this.stopped) return;
    this.publish(dedupeTargets(this.opts.names.flatMap((n) => this.byName.get(n) ?? [])));
  }

  private async lookup(name: string): Promise<DiscoveredTarget[]> {
    let addresses: string[];
    try {
      switch (this.opts.type) {
        case 'SRV':
          addresses = (await this.resolver.resolveSrv(name)).map((r) => hostPort(r.name.replace(/\.+$/, ''), r.port));
          break;
        case 'A':
          addresses = (await this.resolver.resolve4(name)).map((ip) => hostPort(ip, this.opts.port!));
          break;
        case 'AAAA':
          addresses = (await this.resolver.resolve6(name)).map((ip) => hostPort(ip, this.opts.port!));
          break;
      }
    } catch (err) {
      if (EMPTY_ANSWER.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
    // Servers rotate record order; sort so an unchanged answer is an unchanged target list.
    return [...new Set(addresses)].sort().map((address) => ({ address, labels: {} }));
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
