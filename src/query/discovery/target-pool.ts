// The downstream clients of one server group as its targets come and go: one client (with its own
// keep-alive connection pool) per address, created when the address appears and closed when it is
// gone and its in-flight requests have ended. A request that still reaches a removed address (its
// query took the target list just before the change) gets a fresh client, closed again after it.
//
// It exists so discovery can change the targets at any moment without failing queries in flight
// and without leaking a connection pool per address that ever appeared.

import type { GroupTarget } from '../fanout.js';
import type { LabelMatcher, Labels } from '../../model/labels.js';
import { type MetricMetadataMap, type PushdownRequest, type PushdownResult, type SelectHints, type Series, type Storage } from '../../storage/interface.js';
import { seriesOf } from '../../storage/read.js';
import { withTargetLabels } from '../target-labels.js';
import type { DiscoveredTarget } from './target.js';
import type { ServerIdentity } from '../downstream/server-identity.js';

export interface ClosableStorage extends Storage {
  close(): Promise<void>;
  /** PromQL evaluated by the downstream itself (JsonApiTarget), for pushdown. */
  evaluate?(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult>;
  readsBinarySamples?(): boolean;
  identity?(): Promise<ServerIdentity | undefined>;
}

/** A target's client, opened on first use and closed once retired and idle. */
class ManagedTarget implements Storage {
  private inner: ClosableStorage | undefined;
  private inflight = 0;
  private retired = false;
  private closing: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly create: () => ClosableStorage,
    private readonly onIdleRetired: (t: ManagedTarget) => void,
  ) {}

  select(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
    return this.run((t) => t.select(matchers, startMs, endMs, hints, signal));
  }

  labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.run((t) => t.labelNames(matchers, startMs, endMs, signal));
  }

  labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
    return this.run((t) => t.labelValues(name, matchers, startMs, endMs, signal));
  }

  series(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
    return this.run((t) => seriesOf(t, matchers, startMs, endMs, signal));
  }

  metadata(metric: string | undefined, limitPerMetric: number, signal?: AbortSignal): Promise<MetricMetadataMap> {
    return this.run(async (t) => (t.metadata ? t.metadata(metric, limitPerMetric, signal) : new Map()));
  }

  /** Whether the client reads raw samples through remote read (known once it was used). */
  readsBinarySamples(): boolean {
    return this.inner?.readsBinarySamples?.() === true;
  }

  /** Which Prometheus the server is (server-identity.ts); undefined for a client that cannot tell. */
  identity(): Promise<ServerIdentity | undefined> {
    return this.run((t) => t.identity?.() ?? Promise.resolve(undefined));
  }

  evaluate(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult> {
    return this.run((t) => {
      if (t.evaluate === undefined) throw new Error('this target cannot evaluate PromQL');
      return t.evaluate(req, signal);
    });
  }

  get open(): boolean {
    return this.inner !== undefined;
  }

  retire(): void {
    this.retired = true;
    if (this.inflight === 0) void this.shut();
  }

  /** Closes the client now (in-flight requests on it end first: undici's close waits for them). */
  shut(): Promise<void> {
    const t = this.inner;
    this.inner = undefined;
    if (t !== undefined) this.closing = this.closing.then(() => t.close()).catch(() => {});
    if (this.retired) this.onIdleRetired(this);
    return this.closing;
  }

  private async run<T>(fn: (t: ClosableStorage) => Promise<T>): Promise<T> {
    this.inner ??= this.create();
    const t = this.inner;
    this.inflight++;
    try {
      return await fn(t);
    } finally {
      this.inflight--;
      if (this.retired && this.inflight === 0) void this.shut();
    }
  }
}

export class TargetPool {
  private readonly byAddress = new Map<string, ManagedTarget>();
  /** Removed targets whose client is still open. */
  private readonly retiring = new Set<ManagedTarget>();
  private members: GroupTarget[] = [];

  constructor(
    private readonly create: (address: string) => ClosableStorage,
    private readonly nameOf: (address: string) => string,
  ) {}

  /** The group's targets now, for FanoutStorage's currentTargets. */
  current(): readonly GroupTarget[] {
    return this.members;
  }

  /** Addresses with an open client (current or removed and still busy): for tests and status. */
  openClients(): string[] {
    const out: string[] = [];
    for (const [a, m] of this.byAddress) if (m.open) out.push(a);
    for (const m of this.retiring) if (m.open) out.push(m.name);
    return out;
  }

  update(targets: readonly DiscoveredTarget[]): void {
    const wanted = new Set(targets.map((t) => t.address));
    for (const [address, m] of this.byAddress) {
      if (wanted.has(address)) continue;
      this.byAddress.delete(address);
      this.retiring.add(m);
      m.retire();
    }
    this.members = targets.map((t) => {
      let m = this.byAddress.get(t.address);
      if (m === undefined) {
        m = new ManagedTarget(
          this.nameOf(t.address),
          () => this.create(t.address),
          (x) => this.retiring.delete(x),
        );
        this.byAddress.set(t.address, m);
      }
      return { storage: withTargetLabels(m, t.labels), name: m.name };
    });
  }

  async close(): Promise<void> {
    const all = [...this.byAddress.values(), ...this.retiring];
    this.byAddress.clear();
    this.retiring.clear();
    this.members = [];
    await Promise.all(all.map((m) => m.shut()));
  }
}
