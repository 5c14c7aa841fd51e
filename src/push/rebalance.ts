// Rebalance: after the healthy set of Pushgateways changed (and every so often anyway), reads every
// healthy Pushgateway's groups (/api/v1/metrics), and for each group held anywhere but by its
// owner, makes the owner hold the newest copy and deletes the others, so Prometheus never scrapes
// one group from two Pushgateways for longer than a rebalance takes.
//
// A push through this proxy and a move of the same group do not interleave: a push waits for the
// group's move in flight, and a move skips copying a group this proxy forwarded a push for since
// the ring changed (the owner then holds what the client last sent). docs/push.md#rebalance has
// the timelines and what this cannot see (pushes sent to a Pushgateway directly, other proxies).

import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { PushConnection } from './connection.js';
import { groupPath } from './grouping-key.js';
import { type ApiGroup, groupFamilies, groupText, pushTime } from './group-text.js';
import type { PushMetrics, RebalanceReport } from './metrics.js';
import { ownerOf } from './ring.js';

interface Copy {
  address: string;
  group: ApiGroup;
  pushTime: number;
}

export interface RebalancerOptions {
  /** The connection in service (a reload may replace it). */
  conn: () => PushConnection;
  log: Logger;
  ring: () => readonly string[];
  enabled: () => boolean;
  timeoutMs: () => number;
  metrics: PushMetrics;
  counted: (address: string, groups: number) => void;
}

/** Health-check rounds between two rebalances when nothing changed (they also recount groups). */
const PERIODIC_EVERY = 12;
/** Pause after a ring change before moving, so members flapping together cause one rebalance. */
const SETTLE_MS = 250;
const MOVES_AT_ONCE = 16;

/** The canonical key of a group read back from a Pushgateway (the same as grouping-key.ts computes from a path). */
export function keyOfLabels(labels: Record<string, string>): string {
  const rest = Object.entries(labels)
    .filter(([k]) => k !== 'job')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return ['job', labels.job ?? '', ...rest.flat()].join('\xff');
}

export class Rebalancer {
  last: RebalanceReport | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private settle: ReturnType<typeof setTimeout> | undefined;
  private ticks = 0;
  private stopped = false;
  /** Pushes forwarded since the ring changed (or this run started): key → methods. */
  private recording: Map<string, Set<string>> | undefined;
  private readonly moving = new Map<string, Promise<void>>();
  private lastFailed = false;

  constructor(private readonly o: RebalancerOptions) {}

  ringChanged(): void {
    this.recording ??= new Map();
    if (this.settle) clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.run(), SETTLE_MS);
    this.settle.unref();
  }

  /** After each health-check round: a periodic run, sooner when the last one left failures. */
  tick(): void {
    this.ticks++;
    if (this.ticks >= PERIODIC_EVERY || (this.lastFailed && this.ticks >= 2) || this.last === undefined) {
      this.ticks = 0;
      void this.run();
    }
  }

  /** A move of the group in flight, if any (a push awaits it before it is forwarded). */
  moveOf(key: string): Promise<void> | undefined {
    return this.moving.get(key);
  }

  notePush(key: string, method: string): void {
    if (!this.recording) return;
    let s = this.recording.get(key);
    if (!s) this.recording.set(key, (s = new Set()));
    s.add(method);
  }

  /** Runs a rebalance now (joins one running; runs once more after it if asked meanwhile). */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          this.recording ??= new Map();
          await this.once();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.settle) clearTimeout(this.settle);
    await this.running?.catch(() => {});
  }

  private async once(): Promise<void> {
    const started = Date.now();
    const ring = [...this.o.ring()];
    const report: RebalanceReport = {
      started: new Date(started).toISOString(),
      duration_seconds: 0,
      groups: 0,
      moved: 0,
      stale_deleted: 0,
      failed: 0,
      unreadable: [],
    };
    const copies = new Map<string, Copy[]>();
    await Promise.all(
      ring.map(async (address) => {
        try {
          const groups = await this.readGroups(address);
          this.o.counted(address, groups.length);
          for (const group of groups) {
            const key = keyOfLabels(group.labels);
            let list = copies.get(key);
            if (!list) copies.set(key, (list = []));
            list.push({ address, group, pushTime: pushTime(group) });
          }
        } catch (err) {
          report.unreadable.push(address);
          this.o.log.warn(
            { pushgateway: address, err: (err as Error).message },
            'push rebalance: cannot read the groups of a Pushgateway; its groups stay where they are this time',
          );
        }
      }),
    );
    report.groups = copies.size;
    if (this.o.enabled() && ring.length > 0) {
      const limit = pLimit(MOVES_AT_ONCE);
      await Promise.all([...copies].map(([key, list]) => limit(() => this.settleGroup(key, list, ring, report))));
    }
    report.duration_seconds = (Date.now() - started) / 1000;
    this.last = report;
    this.lastFailed = report.failed > 0 || report.unreadable.length > 0;
    this.o.metrics.rebalanced(report);
    // Pushes recorded for this run are answered by it; a ring change since asked for another run.
    if (!this.again) this.recording = undefined;
    if (report.moved + report.stale_deleted + report.failed > 0)
      this.o.log.info({ ...report, unreadable: report.unreadable.length }, 'push rebalance: groups moved to their owners');
  }

  private async settleGroup(key: string, list: Copy[], ring: string[], report: RebalanceReport): Promise<void> {
    const owner = ownerOf(key, ring)!;
    const others = list.filter((c) => c.address !== owner);
    if (others.length === 0) return;
    let done!: () => void;
    const moving = new Promise<void>((r) => (done = r));
    // Set before anything else so a push arriving now waits for this move.
    this.moving.set(key, moving);
    try {
      const atOwner = list.find((c) => c.address === owner);
      const best = others.reduce((a, b) => (b.pushTime > a.pushTime ? b : a));
      const pushed = this.recording?.get(key);
      const labels = Object.entries(best.group.labels);
      const path = groupPath(best.group.labels.job ?? '', labels);
      let copy: { method: 'PUT' | 'POST'; only?: Set<string> } | undefined;
      if (pushed) {
        // The client pushed to the owner since the ring changed. A PUT or DELETE replaced the group;
        // after only POSTs, the families the owner lacks are still the old copy's.
        if (pushed.has('POST') && !pushed.has('PUT') && !pushed.has('DELETE')) {
          const have = new Set(atOwner ? groupFamilies(atOwner.group).map(([n]) => n) : []);
          const missing = new Set(
            groupFamilies(best.group)
              .map(([n]) => n)
              .filter((n) => !have.has(n)),
          );
          if (missing.size > 0) copy = { method: 'POST', only: missing };
        }
      } else if (!atOwner || atOwner.pushTime < best.pushTime) copy = { method: 'PUT' };
      if (copy) {
        const ok = await this.send(owner, copy.method, path, groupText(best.group, copy.only));
        if (!ok) {
          report.failed++;
          return;
        }
        report.moved++;
      }
      for (const c of others) {
        if (await this.send(c.address, 'DELETE', path)) report.stale_deleted++;
        else report.failed++;
      }
    } finally {
      this.moving.delete(key);
      done();
    }
  }

  private async send(address: string, method: 'PUT' | 'POST' | 'DELETE', path: string, body?: string): Promise<boolean> {
    try {
      const r = await this.o.conn().request(address, path, {
        method,
        body,
        headers: body === undefined ? {} : { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
        timeoutMs: this.o.timeoutMs(),
      });
      const text = await r.body.text();
      if (r.statusCode >= 300) {
        this.o.log.warn(
          { pushgateway: address, method, path, status: r.statusCode, answer: text.slice(0, 300) },
          'push rebalance: a Pushgateway refused a move',
        );
        return false;
      }
      return true;
    } catch (err) {
      this.o.log.warn({ pushgateway: address, method, path, err: (err as Error).message }, 'push rebalance: a Pushgateway did not answer a move');
      return false;
    }
  }

  private async readGroups(address: string): Promise<ApiGroup[]> {
    const r = await this.o.conn().request(address, '/api/v1/metrics', { timeoutMs: this.o.timeoutMs() });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`/api/v1/metrics answered ${r.statusCode}`);
    const doc = JSON.parse(text) as { status?: string; data?: ApiGroup[] };
    if (doc.status !== 'success' || !Array.isArray(doc.data)) throw new Error('/api/v1/metrics did not answer {"status":"success","data":[...]}');
    return doc.data;
  }
}
