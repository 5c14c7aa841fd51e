// The fleet as read from etcd at one revision, and what it means: which members are live in which
// group, which targets exist, who scrapes what. Pure (no I/O), so every promfront derives the same
// view from the same keys, and bad keys are sorted out here, counted, never thrown.
//
// Key layout (docs/fleet.md):
//   <prefix>/members/<group>/<host:port>       a member (a Prometheus server), with its lease
//   <registry>/<service>/<host:port>[/path]    a target, as promster's registry writes them

import { isLegacyLabelName } from '../model/label-name.js';
import { FLEET_GROUP } from '../config/fleet.js';
import type { KeyValue } from './etcd-client.js';
import { assign } from './rendezvous.js';

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;

export function validAddress(a: string): boolean {
  const m = ADDRESS.exec(a);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}

export interface Member {
  group: string;
  address: string;
  key: string;
  /** The registering process's random id, so a second process claiming the same key is noticed. */
  id: string;
  createRevision: number;
}

export interface Target {
  /** Identity for hashing and moves: service/address[path]. */
  key: string;
  service: string;
  address: string;
  metricsPath?: string;
  labels: Record<string, string>;
  /** Where it came from: "etcd", "static", "file" or "federate". */
  source: string;
  /** For a lower fleet's member: the federate job that scrapes it (served only to that job). */
  job?: string;
}

export type InvalidReason = 'key' | 'address' | 'value' | 'duplicate';
export interface Invalid {
  key: string;
  reason: InvalidReason;
  detail: string;
}

export interface FleetView {
  revision: number;
  /** Live members by group, groups sorted, members sorted by address. */
  groups: Map<string, Member[]>;
  targets: Target[];
  invalid: Invalid[];
}

function parseLabels(value: string): Record<string, string> | undefined | 'bad' {
  const v = value.trim();
  if (v === '' || !v.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(v) as { labels?: unknown };
    if (o.labels === undefined) return {};
    if (typeof o.labels !== 'object' || o.labels === null) return 'bad';
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(o.labels as Record<string, unknown>)) {
      if (typeof x !== 'string' || !isLegacyLabelName(k) || k.startsWith('__')) return 'bad';
      out[k] = x;
    }
    return out;
  } catch {
    return 'bad';
  }
}

/** The members under `<prefix>/`: the valid ones, and why the others are not. */
export function parseMembers(prefix: string, kvs: Iterable<KeyValue>, invalid: Invalid[]): Map<string, Member[]> {
  const byAddress = new Map<string, Member>();
  const base = `${prefix}/members/`;
  const all: Member[] = [];
  for (const kv of kvs) {
    if (!kv.key.startsWith(base)) {
      invalid.push({ key: kv.key, reason: 'key', detail: `not under ${base}` });
      continue;
    }
    const rest = kv.key.slice(base.length).split('/');
    if (rest.length !== 2 || !FLEET_GROUP.test(rest[0])) {
      invalid.push({ key: kv.key, reason: 'key', detail: 'expected members/<group>/<host:port>' });
      continue;
    }
    const [group, address] = rest;
    if (!validAddress(address)) {
      invalid.push({ key: kv.key, reason: 'address', detail: `"${address}" is not host:port` });
      continue;
    }
    let id = '';
    try {
      const v = JSON.parse(kv.value) as { id?: unknown };
      if (typeof v.id === 'string') id = v.id;
    } catch {
      invalid.push({ key: kv.key, reason: 'value', detail: 'value is not the JSON a member writes' });
      continue;
    }
    all.push({ group, address, key: kv.key, id, createRevision: kv.createRevision });
  }
  // One address, one member: the earliest claim wins, later ones (another group) are refused.
  all.sort((a, b) => a.createRevision - b.createRevision || (a.key < b.key ? -1 : 1));
  for (const m of all) {
    const first = byAddress.get(m.address);
    if (first !== undefined) {
      invalid.push({ key: m.key, reason: 'duplicate', detail: `${m.address} is already a member of group ${first.group}` });
      continue;
    }
    byAddress.set(m.address, m);
  }
  const groups = new Map<string, Member[]>();
  for (const m of [...byAddress.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.address < b.address ? -1 : 1))) {
    const list = groups.get(m.group) ?? [];
    list.push(m);
    groups.set(m.group, list);
  }
  return groups;
}

/** The targets registered under `<registry>/`. */
export function parseTargets(registry: string, kvs: Iterable<KeyValue>, invalid: Invalid[]): Target[] {
  const out: Target[] = [];
  const base = `${registry}/`;
  for (const kv of kvs) {
    const rest = kv.key.slice(base.length);
    const slash = rest.indexOf('/');
    if (!kv.key.startsWith(base) || slash <= 0) {
      invalid.push({ key: kv.key, reason: 'key', detail: 'expected <service>/<host:port>' });
      continue;
    }
    const service = rest.slice(0, slash);
    const instance = rest.slice(slash + 1);
    const pathAt = instance.indexOf('/');
    const address = pathAt < 0 ? instance : instance.slice(0, pathAt);
    const metricsPath = pathAt < 0 ? undefined : instance.slice(pathAt);
    if (!validAddress(address)) {
      invalid.push({ key: kv.key, reason: 'address', detail: `"${address}" is not host:port` });
      continue;
    }
    const labels = parseLabels(kv.value);
    if (labels === 'bad') {
      invalid.push({ key: kv.key, reason: 'value', detail: 'value is neither plain text nor {"labels": {name: "value"}}' });
      continue;
    }
    out.push({ key: `${service}/${instance}`, service, address, metricsPath, labels: labels ?? {}, source: 'etcd' });
  }
  return out;
}

/** Targets of the config's static_configs (the same in every promfront of the fleet, by config). */
export function staticTargets(configs: readonly { targets: string[]; labels: Record<string, string> }[]): Target[] {
  const out: Target[] = [];
  for (const c of configs) {
    const service = c.labels.service ?? 'static';
    for (const address of c.targets) out.push({ key: `${service}/${address}`, service, address, labels: { ...c.labels }, source: 'static' });
  }
  return out;
}

/**
 * Levels: the live members of a lower fleet as targets of the federate job `job`, one per member
 * (every replica of a lower group is federated: each holds the group's series, and the federating
 * Prometheus keeps them apart by their own labels or external labels).
 */
export function federateTargets(fleetPrefix: string, job: string, members: ReadonlyMap<string, readonly Member[]>): Target[] {
  const out: Target[] = [];
  for (const [group, ms] of members)
    for (const m of ms)
      out.push({
        key: `${job}@federate/${m.address}`,
        service: job,
        address: m.address,
        metricsPath: '/federate',
        labels: { __meta_promfront_fleet: fleetPrefix, __meta_promfront_member_group: group },
        source: 'federate',
        job,
      });
  return out;
}

/**
 * Targets found by file_sd (the same files on every promfront, as static_configs). Labels starting
 * with "__" are not kept by file discovery, so such a target is scraped at the default path.
 */
export function fileTargets(found: readonly { address: string; labels: Record<string, string> }[]): Target[] {
  return found.map((t) => {
    const service = t.labels.service ?? 'file';
    return { key: `${service}/${t.address}`, service, address: t.address, labels: { ...t.labels }, source: 'file' };
  });
}

/** Target key to group, by rendezvous hashing with bounded loads over the live groups. */
export function assignView(view: FleetView, maxLoad: number): Map<string, string> {
  return assign(
    view.targets.map((t) => t.key),
    view.groups.keys(),
    maxLoad,
  );
}
