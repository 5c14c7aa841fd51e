// One GET of Prometheus's HTTP API sent to every target of every server group, each answer's `data`
// handed back per group and replica. The endpoints that are not about series (rules, alerts,
// targets, alertmanagers, TSDB status, exemplars) are merged by their own rules (src/query/api-merge.ts)
// from these raw answers, so they need no Storage method of their own in the fan-out.
//
// It keeps its own JSON-API client per target address (made by the query layer with the group's
// http_client, headers and timeout) instead of borrowing the sample fan-out's: those may read
// through remote read, and these endpoints exist only in the JSON API. Failure rules are the
// fan-out's: a failing replica beside an answering one is a warning; a group whose every target
// fails is a warning under ignore_error and a GroupError otherwise.

import { GroupError } from '../errors.js';
import type { DownstreamEndpoint } from './downstream/metrics.js';

/** What a target's client must do for this module (JsonApiTarget.apiGet). */
export interface ApiGetClient {
  apiGet(endpoint: DownstreamEndpoint, apiPath: string, params: [string, string][], signal?: AbortSignal): Promise<{ data: unknown; warnings: string[] }>;
  close(): Promise<void>;
}

export interface ApiGetGroup {
  name: string;
  ignoreError: boolean;
  /** Group labels (config `labels:`), added where an answer carries series labels. */
  labels: Record<string, string>;
  /** The group's target addresses now (static and discovered). */
  addresses: () => readonly string[];
  /** A client for an address, and how the address is named in warnings. */
  client: (address: string) => ApiGetClient;
  nameOf: (address: string) => string;
}

export interface ReplicaAnswer {
  target: string;
  data: unknown;
}

export interface GroupAnswer {
  group: string;
  labels: Record<string, string>;
  replicas: ReplicaAnswer[];
}

export interface FanoutAnswer {
  groups: GroupAnswer[];
  warnings: string[];
}

export class ApiFanout {
  private readonly clients = new Map<string, { address: string; client: ApiGetClient }>();

  constructor(private readonly groups: readonly ApiGetGroup[]) {}

  /** GET apiPath with params on every target; throws GroupError as the sample fan-out does. */
  async get(endpoint: DownstreamEndpoint, apiPath: string, params: [string, string][], signal?: AbortSignal): Promise<FanoutAnswer> {
    this.closeGone();
    const outcomes = await Promise.all(
      this.groups.map(async (g, gi) => {
        const addresses = g.addresses();
        const settled = await Promise.allSettled(addresses.map((a) => this.clientFor(gi, g, a).apiGet(endpoint, apiPath, params, signal)));
        return { g, addresses, settled };
      }),
    );
    signal?.throwIfAborted();
    const warnings: string[] = [];
    const groups: GroupAnswer[] = [];
    for (const { g, addresses, settled } of outcomes) {
      const name = JSON.stringify(g.name);
      const replicas: ReplicaAnswer[] = [];
      const failures: { target: string; reason: string; error: unknown }[] = [];
      settled.forEach((s, i) => {
        const target = g.nameOf(addresses[i]);
        if (s.status === 'fulfilled') {
          replicas.push({ target, data: s.value.data });
          for (const w of s.value.warnings) warnings.push(w);
        } else failures.push({ target, reason: reasonOf(s.reason), error: s.reason });
      });
      if (replicas.length === 0) {
        const reason = addresses.length === 0 ? 'no targets' : failures.map((f) => f.reason).join('; ');
        if (!g.ignoreError) throw new GroupError(g.name, failures[0]?.target, reason, failures[0]?.error);
        warnings.push(`server group ${name} failed: ${reason}`);
        continue;
      }
      for (const f of failures) warnings.push(`server group ${name}: target ${JSON.stringify(f.target)} failed: ${f.reason}`);
      groups.push({ group: g.name, labels: g.labels, replicas });
    }
    return { groups, warnings };
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.client.close().catch(() => {})));
  }

  private clientFor(gi: number, g: ApiGetGroup, address: string): ApiGetClient {
    const key = `${gi}\u0000${address}`;
    let c = this.clients.get(key);
    if (c === undefined) {
      c = { address, client: g.client(address) };
      this.clients.set(key, c);
    }
    return c.client;
  }

  /** Closes the clients of addresses discovery has removed (their requests end first: undici's close waits). */
  private closeGone(): void {
    for (const [key, c] of this.clients) {
      const gi = Number(key.slice(0, key.indexOf('\u0000')));
      if (this.groups[gi]?.addresses().includes(c.address)) continue;
      this.clients.delete(key);
      void c.client.close().catch(() => {});
    }
  }
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
