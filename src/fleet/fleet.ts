// The fleet capability: registers this promfront's Prometheus in etcd with a lease and keeps it
// alive, watches the members and the target registry from the last revision it read, assigns every
// target to one group by rendezvous hashing, and serves each group's share as Prometheus HTTP SD
// (/sd/fleet?group=G) and each group's live members (/sd/fleet/members) for the query layer.
// When etcd cannot be reached the last assignment keeps being served, flagged (docs/fleet.md).

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Capability, CapabilityContext } from '../capability.js';
import type { Config } from '../config/schema.js';
import type { FleetConfig } from '../config/fleet.js';
import { EtcdError } from '../errors.js';
import { EtcdClient, type KeyValue, type WatchEvent } from './etcd-client.js';
import { assign, countMoves, DEFAULT_MAX_LOAD } from './rendezvous.js';
import { federateJobName } from '../config/fleet.js';
import { FileDiscovery } from '../query/discovery/file-sd.js';
import { assignView, federateTargets, fileTargets, parseMembers, parseTargets, staticTargets, type FleetView, type Invalid, type Target } from './view.js';

const INVALID_REASONS = ['key', 'address', 'value', 'duplicate'] as const;

/** A sleep that ends early (without throwing) when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function hostOf(listen: string): string {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = listen.slice(i + 1);
  return `${host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export class Fleet implements Capability {
  readonly name = 'fleet';
  private cfg: FleetConfig;
  private shardTargets: { jobName: string; count: number } | undefined;
  private client: EtcdClient;
  private readonly id = randomUUID();
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** targets.file_sd_configs, one discoverer each; a change recomputes the assignment. */
  private fileSd: FileDiscovery[] = [];
  private log: Logger;

  // What etcd holds, as last read or watched.
  /** Per watched prefix (watchedPrefixes: the fleet, the registry, lower fleets' members), its keys. */
  private kvs: Map<string, KeyValue>[] = [];
  private revision = 0;
  /** Per watched prefix, the revision its stream delivered last: each resumes from its own. */
  private streamRevs: number[] = [];
  private synced = false;

  // What it means.
  private view: FleetView = { revision: 0, groups: new Map(), targets: [], invalid: [] };
  private owner = new Map<string, string>();
  private targetsByKey = new Map<string, Target>();
  /** Targets a group still serves after they moved away from it: key to [group, until ms]. */
  private lingering = new Map<string, { group: string; until: number }>();

  // Registration.
  private lease: string | undefined;
  private keyWritten = false;

  // Health and counts.
  private etcdUp = false;
  private lastError: string | undefined;
  private lastContactMs = 0;
  private moves = 0;
  private registrations = 0;
  private leaseLosses = 0;
  private renewals = 0;
  private resyncs = { start: 0, compacted: 0, reconnect: 0 };
  private duplicateOwnKey = 0;

  constructor(
    config: Config,
    private readonly ctx: CapabilityContext,
  ) {
    this.cfg = config.fleet!;
    this.shardTargets = this.cfg.targets.shards && config.shard ? { jobName: config.shard.job_name, count: config.shard.num_shards } : undefined;
    this.client = new EtcdClient(this.cfg.etcd);
    this.log = ctx.log.child({ component: 'fleet' });
  }

  private get memberKey(): string | undefined {
    const r = this.cfg.register;
    return r ? `${this.cfg.etcd.prefix}/members/${r.group}/${r.address}` : undefined;
  }

  /** The registry keys of this process's shard endpoints, put with its lease. */
  private shardKeys(): string[] {
    const s = this.shardTargets;
    const reg = this.cfg.targets.etcd_prefix;
    if (!s || reg === undefined) return [];
    const addr = hostOf(this.ctx.listen);
    return Array.from({ length: s.count }, (_, k) => `${reg}/${s.jobName}/${addr}/metrics/shard/${k}`);
  }

  async start(): Promise<void> {
    await this.startFileSd();
    const signal = this.abort.signal;
    this.loops = [this.watchLoop(signal)];
    if (this.memberKey !== undefined || this.shardKeys().length > 0) this.loops.push(this.registerLoop(signal));
    await Promise.resolve();
  }

  async reload(next: Config): Promise<void> {
    const old = this.cfg;
    const nextCfg = next.fleet!;
    const restart =
      JSON.stringify([old.etcd, old.register, old.targets.etcd_prefix, old.targets.shards, old.targets.federate.map((l) => l.fleet_prefix)]) !==
      JSON.stringify([
        nextCfg.etcd,
        nextCfg.register,
        nextCfg.targets.etcd_prefix,
        nextCfg.targets.shards,
        nextCfg.targets.federate.map((l) => l.fleet_prefix),
      ]);
    if (restart) {
      await this.stop();
      this.cfg = nextCfg;
      this.shardTargets = nextCfg.targets.shards && next.shard ? { jobName: next.shard.job_name, count: next.shard.num_shards } : undefined;
      this.client = new EtcdClient(nextCfg.etcd);
      this.abort = new AbortController();
      this.kvs = [];
      this.synced = false;
      await this.start();
    } else {
      const filesChanged = JSON.stringify(old.targets.file_sd_configs) !== JSON.stringify(nextCfg.targets.file_sd_configs);
      if (filesChanged) this.stopFileSd();
      this.cfg = nextCfg;
      if (filesChanged) await this.startFileSd();
      this.recompute();
    }
  }

  /** Starts reading targets.file_sd_configs; resolves after the first read of every file. */
  private async startFileSd(): Promise<void> {
    const log = {
      info: (o: object, m: string) => this.log.info(o, m),
      warn: (o: object, m: string) => this.log.warn(o, m),
      error: (o: object, m: string) => this.log.error(o, m),
    };
    this.fileSd = this.cfg.targets.file_sd_configs.map(
      (c, i) => new FileDiscovery({ name: `fleet.targets.file_sd_configs[${i}]`, files: c.files, refreshIntervalMs: c.refresh_interval, log }),
    );
    // Before the first etcd read there is no assignment to change: recompute only once synced.
    await Promise.all(this.fileSd.map((d) => d.start(() => this.synced && this.recompute())));
  }

  private stopFileSd(): void {
    for (const d of this.fileSd) d.stop();
    this.fileSd = [];
  }

  async stop(): Promise<void> {
    this.stopFileSd();
    this.abort.abort();
    await Promise.allSettled(this.loops);
    this.loops = [];
    // A clean stop removes the member at once: revoking the lease deletes every key put with it.
    const lease = this.lease;
    this.lease = undefined;
    this.keyWritten = false;
    if (lease !== undefined) {
      try {
        await this.client.revoke(lease);
        this.log.info({ lease }, 'fleet: left the fleet (lease revoked)');
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'fleet: could not revoke the lease; the member goes when it expires');
      }
    }
    await this.client.close();
  }

  // --- etcd health ---------------------------------------------------------------------------

  private up(): void {
    if (!this.etcdUp) this.log.info({ endpoint: this.client.endpoint }, 'fleet: etcd reachable');
    this.etcdUp = true;
    this.lastError = undefined;
    this.lastContactMs = Date.now();
  }

  private down(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (this.etcdUp || this.lastError === undefined) this.log.warn({ err: msg }, 'fleet: etcd unreachable; serving the last assignment');
    this.etcdUp = false;
    this.lastError = msg;
  }

  // --- registration ----------------------------------------------------------------------------

  private async registerLoop(signal: AbortSignal): Promise<void> {
    const ttlSeconds = this.cfg.etcd.lease_ttl / 1000;
    while (!signal.aborted) {
      let wait = Math.max(500, this.cfg.etcd.lease_ttl / 3);
      try {
        if (this.lease === undefined) {
          this.lease = await this.client.grant(ttlSeconds);
          this.keyWritten = false;
        } else {
          const ttl = await this.client.keepAlive(this.lease);
          if (ttl <= 0) {
            // Expired while we could not reach etcd (or revoked by someone): register anew.
            this.leaseLosses++;
            this.log.warn({ lease: this.lease }, 'fleet: lease lost; registering again');
            this.lease = undefined;
            this.keyWritten = false;
            continue;
          }
          this.renewals++;
        }
        if (!this.keyWritten) await this.writeKeys();
        this.up();
      } catch (e) {
        if (signal.aborted) break;
        this.down(e);
        wait = 1000;
      }
      await pause(wait, signal);
    }
  }

  private async writeKeys(): Promise<void> {
    const lease = this.lease!;
    const key = this.memberKey;
    if (key !== undefined) {
      const r = this.cfg.register!;
      await this.client.put(key, JSON.stringify({ id: this.id, group: r.group, address: r.address, proxy: hostOf(this.ctx.listen) }), lease);
    }
    for (const k of this.shardKeys()) await this.client.put(k, '', lease);
    if (this.lease !== lease) return;
    this.keyWritten = true;
    this.registrations++;
    this.log.info({ key, lease }, 'fleet: registered');
  }

  // --- watching ----------------------------------------------------------------------------

  /**
   * What is watched, in this order: the fleet's own prefix, the target registry (when configured),
   * then the members of each lower fleet this one federates (a prefix a second entry repeats is
   * watched once).
   */
  private watchedPrefixes(): string[] {
    const out = [`${this.cfg.etcd.prefix}/`];
    const registry = this.cfg.targets.etcd_prefix;
    if (registry !== undefined) out.push(`${registry}/`);
    for (const l of this.cfg.targets.federate) if (!out.includes(`${l.fleet_prefix}/members/`)) out.push(`${l.fleet_prefix}/members/`);
    return out;
  }

  private kvsOf(prefix: string): Iterable<KeyValue> {
    const i = this.watchedPrefixes().indexOf(prefix);
    return i < 0 ? [] : (this.kvs[i]?.values() ?? []);
  }

  private async watchLoop(signal: AbortSignal): Promise<void> {
    const prefixes = this.watchedPrefixes();
    let reason: keyof Fleet['resyncs'] = 'start';
    let needRead = true;
    while (!signal.aborted) {
      try {
        if (needRead) {
          // A full read: at start, after compaction, and after a watch failure (the watch resumes
          // from the revision below, so events missed while away are not lost either way).
          const r = await this.client.rangePrefixes(prefixes);
          this.kvs = r.kvs.map((list) => new Map(list.map((kv) => [kv.key, kv])));
          this.revision = r.revision;
          this.streamRevs = prefixes.map(() => r.revision);
          this.synced = true;
          this.resyncs[reason]++;
          this.up();
          this.recompute();
          needRead = false;
        }
        // One watch stream per prefix, all from the revision just read; any ending restarts them all.
        const ctl = new AbortController();
        const both = AbortSignal.any([signal, ctl.signal]);
        const ends = prefixes.map((p, i) =>
          this.client.watchPrefix(p, this.streamRevs[i] + 1, (events, rev) => this.apply(i, events, rev), both).finally(() => ctl.abort()),
        );
        const results = await Promise.allSettled(ends);
        if (signal.aborted) break;
        const compacted = results.find((r) => r.status === 'fulfilled' && r.value.kind === 'compacted');
        const failed = results.find(
          (r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof Error && r.reason.name === 'AbortError'),
        );
        if (compacted) {
          this.log.warn({ revision: this.revision }, 'fleet: watch history compacted; reading everything again');
          reason = 'compacted';
          needRead = true;
        } else if (failed) {
          throw failed.reason;
        }
      } catch (e) {
        if (signal.aborted) break;
        this.down(e instanceof EtcdError || e instanceof Error ? e : new Error(String(e)));
        this.client.rotate();
        await pause(1000, signal);
      }
    }
  }

  private apply(prefixIndex: number, events: WatchEvent[], revision: number): void {
    const map = this.kvs[prefixIndex];
    for (const e of events) {
      if (e.type === 'DELETE') map.delete(e.kv.key);
      else map.set(e.kv.key, e.kv);
      if (prefixIndex === 0 && e.kv.key === this.memberKey && this.lease !== undefined) {
        if (e.type === 'DELETE') this.keyWritten = false;
        else if (!e.kv.value.includes(this.id)) {
          this.duplicateOwnKey++;
          this.log.warn({ key: e.kv.key }, 'fleet: another process registered the same member key');
        }
      }
    }
    this.streamRevs[prefixIndex] = Math.max(this.streamRevs[prefixIndex], revision);
    this.revision = Math.max(this.revision, revision);
    this.up();
    if (events.length > 0) this.recompute();
  }

  /** Rebuilds the view and the assignment from the keys held; counts and remembers moves. */
  private recompute(): void {
    const invalid: Invalid[] = [];
    const groups = parseMembers(this.cfg.etcd.prefix, this.kvsOf(`${this.cfg.etcd.prefix}/`), invalid);
    const registry = this.cfg.targets.etcd_prefix;
    const fromEtcd = registry === undefined ? [] : parseTargets(registry, this.kvsOf(`${registry}/`), invalid);
    const byKey = new Map<string, Target>();
    const fromFiles = fileTargets(this.fileSd.flatMap((d) => d.targets()));
    for (const t of [...staticTargets(this.cfg.targets.static_configs), ...fromFiles, ...fromEtcd]) if (!byKey.has(t.key)) byKey.set(t.key, t);
    // Levels: each lower fleet's live members are one more kind of target, spread on their own so
    // that a few heavy federation targets are balanced over the groups whatever the rest weighs.
    const levels = this.cfg.targets.federate.map((l) => {
      const members = parseMembers(l.fleet_prefix, this.kvsOf(`${l.fleet_prefix}/members/`), invalid);
      return federateTargets(l.fleet_prefix, federateJobName(l), members);
    });
    this.view = { revision: this.revision, groups, targets: [...byKey.values()], invalid };
    const next = assignView(this.view, DEFAULT_MAX_LOAD);
    for (const level of levels) {
      for (const t of level) byKey.set(t.key, t);
      for (const [k, g] of assign(
        level.map((t) => t.key),
        groups.keys(),
        DEFAULT_MAX_LOAD,
      ))
        next.set(k, g);
      this.view.targets.push(...level);
    }
    const now = Date.now();
    const moved = countMoves(this.owner, next);
    if (moved > 0) {
      this.moves += moved;
      for (const [t, g] of next) {
        const old = this.owner.get(t);
        if (old !== undefined && old !== g) this.lingering.set(t, { group: old, until: now + this.cfg.handover_overlap });
      }
      this.log.info({ moved, revision: this.revision }, 'fleet: targets moved between groups');
    }
    for (const [t, l] of this.lingering) if (l.until <= now || !byKey.has(t) || next.get(t) === l.group) this.lingering.delete(t);
    this.owner = next;
    this.targetsByKey = byKey;
  }

  // --- serving -------------------------------------------------------------------------------

  /** The HTTP SD target groups of `group`'s share: its own targets and those still handed over. */
  sdFor(group: string, job?: string): unknown[] {
    const now = Date.now();
    const out: { targets: string[]; labels: Record<string, string> }[] = [];
    const add = (t: Target, handover: boolean): void => {
      // /sd/fleet serves the plain targets; each federate job reads its own list (?federate=JOB).
      if (t.job !== job) return;
      const labels: Record<string, string> = {
        ...t.labels,
        // A federated member's series keep their own labels (honor_labels): no service label added.
        ...(t.job === undefined ? { service: t.labels.service ?? t.service } : {}),
        __meta_promfront_service: t.service,
        __meta_promfront_group: group,
        __meta_promfront_source: t.source,
        __meta_promfront_handover: handover ? 'true' : 'false',
      };
      if (t.metricsPath !== undefined) labels.__metrics_path__ = t.metricsPath;
      out.push({ targets: [t.address], labels });
    };
    for (const [key, g] of this.owner) if (g === group) add(this.targetsByKey.get(key)!, false);
    for (const [key, l] of this.lingering) {
      const t = this.targetsByKey.get(key);
      if (l.group === group && l.until > now && t !== undefined) add(t, true);
    }
    return out;
  }

  membersSd(group: string | undefined): unknown[] {
    const out: unknown[] = [];
    for (const [g, ms] of this.view.groups) {
      if (group !== undefined && g !== group) continue;
      out.push({ targets: ms.map((m) => m.address), labels: { __meta_promfront_group: g } });
    }
    return out;
  }

  private json(body: unknown, status = 200): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json',
        'x-promfront-fleet-revision': String(this.view.revision),
        'x-promfront-fleet-etcd': this.etcdUp ? 'up' : 'unreachable',
      },
    });
  }

  fetch(req: Request): Response | undefined {
    const url = new URL(req.url);
    if (url.pathname !== '/sd/fleet' && url.pathname !== '/sd/fleet/members') return undefined;
    if (req.method !== 'GET') return new Response('Method Not Allowed\n', { status: 405, headers: { allow: 'GET' } });
    // Before etcd was read once there is no assignment: an error makes Prometheus keep its old list.
    if (!this.synced) return this.json({ status: 'error', error: 'fleet: etcd has not been read yet' }, 503);
    const group = url.searchParams.get('group') ?? undefined;
    if (url.pathname === '/sd/fleet/members') return this.json(this.membersSd(group));
    if (group === undefined || group === '')
      return this.json({ status: 'error', error: 'fleet: the "group" parameter is required, e.g. /sd/fleet?group=shard-0' }, 400);
    const job = url.searchParams.get('federate') ?? undefined;
    if (job !== undefined && !this.cfg.targets.federate.some((l) => federateJobName(l) === job))
      return this.json({ status: 'error', error: `fleet: no federate job ${JSON.stringify(job)} in fleet.targets.federate` }, 400);
    return this.json(this.sdFor(group, job));
  }

  /** Target counts per group (own targets, not handed-over ones). */
  private counts(): Map<string, number> {
    const c = new Map<string, number>();
    for (const g of this.view.groups.keys()) c.set(g, 0);
    for (const g of this.owner.values()) c.set(g, (c.get(g) ?? 0) + 1);
    return c;
  }

  metrics(): string {
    const lines: string[] = [];
    const fam = (name: string, type: string, help: string, samples: [string, number][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    fam('promfront_fleet_etcd_up', 'gauge', 'Whether the last etcd request or watch message succeeded (0: serving the last assignment).', [
      ['', this.etcdUp ? 1 : 0],
    ]);
    fam('promfront_fleet_etcd_revision', 'gauge', 'The etcd revision the served assignment was computed from.', [['', this.view.revision]]);
    fam('promfront_fleet_etcd_last_contact_timestamp_seconds', 'gauge', 'When etcd last answered.', [['', this.lastContactMs / 1000]]);
    fam('promfront_fleet_etcd_request_failures_total', 'counter', 'etcd requests that failed on every endpoint.', [['', this.client.errors]]);
    fam('promfront_fleet_registered', 'gauge', 'Whether this promfront holds a lease with its keys written.', [['', this.keyWritten ? 1 : 0]]);
    fam('promfront_fleet_registrations_total', 'counter', 'Times this promfront wrote its member keys under a new lease.', [['', this.registrations]]);
    fam('promfront_fleet_lease_losses_total', 'counter', 'Leases found expired or revoked on renewal.', [['', this.leaseLosses]]);
    fam(
      'promfront_fleet_full_reads_total',
      'counter',
      'Full reads of the fleet and registry prefixes, by why.',
      Object.entries(this.resyncs).map(([k, v]) => [`{reason="${k}"}`, v]),
    );
    fam('promfront_fleet_groups', 'gauge', 'Groups with at least one live member.', [['', this.view.groups.size]]);
    fam(
      'promfront_fleet_members',
      'gauge',
      'Live members per group.',
      [...this.view.groups].map(([g, ms]) => [`{group="${escapeLabel(g)}"}`, ms.length]),
    );
    fam(
      'promfront_fleet_targets',
      'gauge',
      'Targets assigned per group.',
      [...this.counts()].map(([g, n]) => [`{group="${escapeLabel(g)}"}`, n]),
    );
    fam('promfront_fleet_targets_moved_total', 'counter', 'Targets whose group changed between two assignments.', [['', this.moves]]);
    fam('promfront_fleet_handover_targets', 'gauge', 'Targets still served by the group they moved away from.', [['', this.lingering.size]]);
    const inv = new Map<string, number>(INVALID_REASONS.map((r) => [r, 0]));
    for (const i of this.view.invalid) inv.set(i.reason, inv.get(i.reason)! + 1);
    fam(
      'promfront_fleet_invalid_keys',
      'gauge',
      'Keys under the fleet or registry prefix that were ignored, by why.',
      [...inv].map(([r, n]) => [`{reason="${r}"}`, n]),
    );
    fam('promfront_fleet_file_sd_failures_total', 'counter', 'Failed reads of targets.file_sd_configs files; their last good targets were kept.', [
      ['', this.fileSd.reduce((n, d) => n + d.errors, 0)],
    ]);
    fam('promfront_fleet_member_key_conflicts_total', 'counter', 'Times another process wrote this member key.', [['', this.duplicateOwnKey]]);
    return lines.join('\n') + '\n';
  }

  status(): unknown {
    const counts = this.counts();
    return {
      etcd: {
        endpoint: this.client.endpoint,
        reachable: this.etcdUp,
        last_error: this.lastError,
        last_contact: this.lastContactMs > 0 ? new Date(this.lastContactMs).toISOString() : undefined,
        revision: this.view.revision,
      },
      assignment_frozen: !this.etcdUp,
      synced: this.synced,
      registration: this.cfg.register
        ? {
            group: this.cfg.register.group,
            address: this.cfg.register.address,
            registered: this.keyWritten,
            registrations: this.registrations,
            lease_losses: this.leaseLosses,
          }
        : undefined,
      groups: Object.fromEntries([...this.view.groups].map(([g, ms]) => [g, { members: ms.map((m) => m.address), targets: counts.get(g) ?? 0 }])),
      targets: this.view.targets.length,
      moves: this.moves,
      handover: this.lingering.size,
      invalid_keys: this.view.invalid,
      file_sd_failures: Object.fromEntries(this.fileSd.flatMap((d) => [...d.failures()])),
    };
  }
}
