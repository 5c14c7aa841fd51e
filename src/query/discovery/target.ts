// What service discovery yields: a downstream address and the labels its target group carried,
// and the reader for Prometheus's file_sd file format.
//
// Kept apart from any one discoverer so all of them, and the target set that merges their output,
// agree on what one target is (address plus labels) and on when a list of targets has changed.

import { parse as parseYaml } from 'yaml';
import { TARGET_ADDRESS } from '../../config/schema.js';
import { isLegacyLabelName } from '../../model/label-name.js';

export interface DiscoveredTarget {
  /** host:port */
  address: string;
  /**
   * The target group's labels whose names do not start with "__" (those only steer Prometheus's
   * relabelling, which promfront does not have). Added to the target's series like promxy does.
   */
  labels: Record<string, string>;
}

/** Minimal logger; pino's Logger fits. */
/** The few logger methods the query layer uses (a pino Logger has them). */
export interface DiscoveryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const SILENT_LOG: DiscoveryLog = { info() {}, warn() {}, error() {} };

/** Identity of a target: the same address with other labels is another target. */
export function targetKey(t: DiscoveredTarget): string {
  const labels = Object.keys(t.labels)
    .sort()
    .map((k) => [k, t.labels[k]]);
  return labels.length === 0 ? t.address : `${t.address} ${JSON.stringify(labels)}`;
}

/** The targets once each, first occurrence kept (order is the discovery order). */
export function dedupeTargets(ts: Iterable<DiscoveredTarget>): DiscoveredTarget[] {
  const seen = new Set<string>();
  const out: DiscoveredTarget[] = [];
  for (const t of ts) {
    const k = targetKey(t);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(t);
  }
  return out;
}

export function sameTargets(a: readonly DiscoveredTarget[], b: readonly DiscoveredTarget[]): boolean {
  return a.length === b.length && a.every((t, i) => targetKey(t) === targetKey(b[i]));
}

/**
 * Parses a file_sd file: a JSON (.json) or YAML (.yml/.yaml) list of `{targets: [...], labels: {...}}`.
 * Throws an Error saying what is wrong (the caller adds the file name).
 */
export function parseTargetGroupsFile(text: string, file: string): DiscoveredTarget[] {
  let doc: unknown;
  if (/\.json$/i.test(file)) {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`invalid JSON: ${(err as Error).message}`, { cause: err });
    }
  } else {
    try {
      doc = parseYaml(text, { uniqueKeys: true, prettyErrors: false });
    } catch (err) {
      throw new Error(`invalid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    // An empty YAML file holds no target groups (as in Prometheus).
    if (doc === null || doc === undefined) return [];
  }
  if (!Array.isArray(doc)) throw new Error('must be a list of target groups ({targets: [...], labels: {...}})');
  const out: DiscoveredTarget[] = [];
  doc.forEach((group: unknown, i) => {
    const at = `target group ${i}`;
    if (typeof group !== 'object' || group === null || Array.isArray(group)) throw new Error(`${at}: must be a mapping with "targets" and "labels"`);
    for (const key of Object.keys(group)) {
      if (key !== 'targets' && key !== 'labels') throw new Error(`${at}: unknown field "${key}"`);
    }
    const g = group as { targets?: unknown; labels?: unknown };
    const labels: Record<string, string> = {};
    if (g.labels !== undefined && g.labels !== null) {
      if (typeof g.labels !== 'object' || Array.isArray(g.labels)) throw new Error(`${at}: labels must be a mapping of label names to strings`);
      for (const [name, value] of Object.entries(g.labels)) {
        if (!isLegacyLabelName(name)) throw new Error(`${at}: invalid label name ${JSON.stringify(name)}`);
        if (typeof value !== 'string') throw new Error(`${at}: label ${name} must be a string`);
        if (!name.startsWith('__') && value !== '') labels[name] = value;
      }
    }
    if (g.targets === undefined || g.targets === null) return;
    if (!Array.isArray(g.targets)) throw new Error(`${at}: targets must be a list of "host:port"`);
    for (const t of g.targets) {
      if (typeof t !== 'string' || !TARGET_ADDRESS.test(t)) throw new Error(`${at}: target ${JSON.stringify(t)} is not host:port`);
      out.push({ address: t, labels });
    }
  });
  return out;
}

/** A source of targets that changes over time (file_sd, dns_sd). */
export interface Discoverer {
  /** What it is, for logs: e.g. `file_sd_configs[0]`. */
  readonly name: string;
  /** Starts discovering; resolves after the first refresh, successful or not. `onChange` runs when targets() changed. */
  start(onChange: () => void): Promise<void>;
  /** The targets now (the last good ones of each file or name). */
  targets(): readonly DiscoveredTarget[];
  /** Failed reads or lookups so far. */
  readonly errors: number;
  stop(): void;
}
