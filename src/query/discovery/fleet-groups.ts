// Server groups that follow a fleet (docs/fleet.md, "The query layer follows the fleet"): a server
// group with `fleet_sd_configs` is a template, expanded into one server group per fleet group that
// the fleet's /sd/fleet/members answer names; each expanded group's targets are that group's live
// members (http_sd_configs on /sd/fleet/members?group=G), so members joining and leaving a group
// need nothing more. When the set of groups changes, the owner rebuilds its query layer with the
// new expansion: the fan-out's group list is fixed for a layer's life (it is what a query plans
// over), and groups come and go rarely, members often.
//
// It lives in the query layer, not in src/fleet, because the query layer runs in a worker thread
// and must not know about etcd: the seam is the fleet's HTTP answer, as for http_sd_configs.

import type { QueryConfig, ServerGroupConfig } from '../../config/schema.js';
import type { DiscoveryLog } from './target.js';
import { SILENT_LOG } from './target.js';
import { SdHttpClient, shownUrl } from './http-sd.js';

/** The label /sd/fleet/members puts on each group's target group. */
export const FLEET_GROUP_LABEL = '__meta_promfront_group';

/** The distinct fleet groups an HTTP SD answer names (label __meta_promfront_group), sorted. */
export function fleetGroupNames(text: string): string[] {
  const doc = JSON.parse(text) as unknown;
  if (!Array.isArray(doc)) throw new Error('answer is not a list of target groups');
  const names = new Set<string>();
  for (const [i, g] of doc.entries()) {
    const labels = (g as { labels?: unknown } | null)?.labels;
    const name = typeof labels === 'object' && labels !== null ? (labels as Record<string, unknown>)[FLEET_GROUP_LABEL] : undefined;
    if (typeof name !== 'string' || name === '') throw new Error(`target group ${i}: no ${FLEET_GROUP_LABEL} label (is this a fleet's /sd/fleet/members?)`);
    names.add(name);
  }
  return [...names].sort();
}

/** The members URL narrowed to one group (?group=G), other parameters kept. */
export function groupMembersUrl(url: string, group: string): string {
  const u = new URL(url);
  u.searchParams.set('group', group);
  return u.toString();
}

/** The expanded group's name: the fleet group's, prefixed by the template's name when it has one. */
export function expandedName(template: ServerGroupConfig, group: string): string {
  return template.name === undefined ? group : `${template.name}-${group}`;
}

/**
 * `q` with each template group (one with fleet_sd_configs) replaced by one group per fleet group
 * its URLs name now (`found`: URL to names), or kept as one group without targets while they name
 * none (so the layer has its group and queries say "no targets" rather than fail to plan). A name
 * another group already has is skipped (listed in `skipped`).
 */
export function expandFleetGroups(q: QueryConfig, found: ReadonlyMap<string, readonly string[]>): { query: QueryConfig; skipped: string[] } {
  const taken = new Set(q.server_groups.filter((g) => g.fleet_sd_configs.length === 0 && g.name !== undefined).map((g) => g.name!));
  const skipped: string[] = [];
  const out: ServerGroupConfig[] = [];
  for (const g of q.server_groups) {
    if (g.fleet_sd_configs.length === 0) {
      out.push(g);
      continue;
    }
    const names = [...new Set(g.fleet_sd_configs.flatMap((c) => found.get(c.url) ?? []))].sort();
    if (names.length === 0) {
      out.push({ ...g, fleet_sd_configs: [] });
      continue;
    }
    for (const n of names) {
      const name = expandedName(g, n);
      if (taken.has(name)) {
        skipped.push(name);
        continue;
      }
      taken.add(name);
      const own = g.fleet_sd_configs.filter((c) => found.get(c.url)?.includes(n));
      out.push({
        ...g,
        name,
        fleet_sd_configs: [],
        http_sd_configs: [...g.http_sd_configs, ...own.map((c) => ({ ...c, url: groupMembersUrl(c.url, n) }))],
      });
    }
  }
  return { query: { ...q, server_groups: out }, skipped };
}

interface Poll {
  url: string;
  refreshMs: number;
  key: string;
  names: string[] | undefined;
  timer: ReturnType<typeof setInterval> | undefined;
  lastError: string | undefined;
  client: SdHttpClient;
}

/**
 * Polls every fleet_sd_configs URL of a query section and calls `onChange` when the groups one of
 * them names change. A failed poll keeps the last names (as Prometheus keeps the last targets),
 * logged and counted.
 */
export class FleetGroupWatcher {
  private polls = new Map<string, Poll>();
  private stopped = false;
  /** Failed polls, for /metrics. */
  errors = 0;
  /** Rebuilds asked for because the groups changed. */
  changes = 0;

  constructor(
    private readonly onChange: () => void,
    private readonly log: DiscoveryLog = SILENT_LOG,
  ) {}

  /** URL to the groups it names now (absent until its first successful poll). */
  found(): Map<string, readonly string[]> {
    const m = new Map<string, readonly string[]>();
    for (const [url, p] of this.polls) if (p.names !== undefined) m.set(url, p.names);
    return m;
  }

  /**
   * Follows the URLs of `q` (stops the ones it no longer names); resolves when every new URL was
   * polled once, answered or not, so a layer built right after sees the groups that exist.
   */
  async configure(q: QueryConfig | undefined): Promise<void> {
    // Per URL, its first config (auth, TLS) and the shortest refresh interval any group asks for.
    const wanted = new Map<string, { refreshMs: number; config: ServerGroupConfig['fleet_sd_configs'][number]; key: string }>();
    for (const g of q?.server_groups ?? [])
      for (const c of g.fleet_sd_configs) {
        const had = wanted.get(c.url);
        const refreshMs = Math.min(had?.refreshMs ?? Infinity, c.refresh_interval);
        const config = had?.config ?? c;
        wanted.set(c.url, { refreshMs, config, key: JSON.stringify([refreshMs, config]) });
      }
    for (const [url, p] of this.polls)
      if (wanted.get(url)?.key !== p.key) {
        clearInterval(p.timer);
        p.client.close();
        this.polls.delete(url);
      }
    const first: Promise<void>[] = [];
    for (const [url, { refreshMs, config, key }] of wanted) {
      if (this.polls.has(url)) continue;
      const p: Poll = { url, refreshMs, key, names: undefined, timer: undefined, lastError: undefined, client: new SdHttpClient(config) };
      this.polls.set(url, p);
      first.push(this.poll(p, false));
      p.timer = setInterval(() => void this.poll(p, true), refreshMs);
      p.timer.unref();
    }
    await Promise.all(first);
  }

  private async poll(p: Poll, notify: boolean): Promise<void> {
    try {
      const res = await p.client.get(
        p.url,
        { accept: 'application/json', 'x-prometheus-refresh-interval-seconds': String(p.refreshMs / 1000) },
        AbortSignal.timeout(Math.max(1000, p.refreshMs)),
      );
      const text = res.text;
      if (res.status !== 200) throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
      const names = fleetGroupNames(text);
      if (this.stopped || this.polls.get(p.url) !== p) return;
      if (p.lastError !== undefined) this.log.info({ url: shownUrl(p.url) }, 'fleet_sd: works again');
      p.lastError = undefined;
      const changed = p.names === undefined || p.names.join('\n') !== names.join('\n');
      if (changed && p.names !== undefined)
        this.log.info({ url: shownUrl(p.url), groups: names }, "fleet_sd: the fleet's groups changed; rebuilding the server groups");
      p.names = names;
      if (changed && notify) {
        this.changes++;
        this.onChange();
      }
    } catch (err) {
      if (this.stopped || this.polls.get(p.url) !== p) return;
      this.errors++;
      const reason = (err as Error).message;
      if (p.lastError !== reason) this.log.warn({ url: shownUrl(p.url), err: reason }, `fleet_sd: ${shownUrl(p.url)}: ${reason}; keeping the last groups`);
      p.lastError = reason;
    }
  }

  status(): { url: string; groups: readonly string[] | null; last_error: string | null }[] {
    return [...this.polls.values()].map((p) => ({ url: shownUrl(p.url), groups: p.names ?? null, last_error: p.lastError ?? null }));
  }

  metrics(): string {
    if (this.polls.size === 0) return '';
    return [
      '# HELP promfront_fleet_sd_failures_total Failed polls of fleet_sd_configs URLs; the last groups were kept.',
      '# TYPE promfront_fleet_sd_failures_total counter',
      `promfront_fleet_sd_failures_total ${this.errors}`,
      '# HELP promfront_fleet_sd_group_changes_total Times the groups of a fleet changed and the server groups were rebuilt.',
      '# TYPE promfront_fleet_sd_group_changes_total counter',
      `promfront_fleet_sd_group_changes_total ${this.changes}`,
      '',
    ].join('\n');
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.polls.values()) {
      clearInterval(p.timer);
      p.client.close();
    }
    this.polls.clear();
  }
}
