// How the answers of several Prometheus servers to the endpoints that are not about samples (rules,
// alerts, targets, target metadata, alertmanagers, TSDB status, exemplars) become one answer: pure
// functions over Prometheus's own JSON, so the rules promfront evaluates itself can later join the
// same merge as one more list. The rules are in docs/api.md.
//
// Replicas of a server group hold the same data, so within a group equal entries are one entry
// (the freshest or most severe copy kept); different groups hold different data, so across groups
// entries are summed (TSDB counts) or listed side by side (targets, each naming its group).
//
// Lint: the answers are JSON of whatever shape a server sends; fields are checked where read.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call */

import { compareStrings } from '../model/labels.js';

type Json = any;

/** A label object as Go writes labels.Labels: names sorted, group labels added where missing (own values win). */
export function withGroupLabels(labels: Record<string, string> | undefined, group: Record<string, string>): Record<string, string> {
  const all: Record<string, string> = { ...group, ...(labels ?? {}) };
  const out: Record<string, string> = {};
  for (const k of Object.keys(all).sort(compareStrings)) out[k] = all[k];
  return out;
}

const key = (x: unknown): string => JSON.stringify(x ?? null);

/** An RFC 3339 time as ms (Date.parse keeps ms; ties beyond that are equal); -Infinity when absent. */
function timeMs(s: unknown): number {
  if (typeof s !== 'string') return -Infinity;
  const t = Date.parse(s);
  return Number.isNaN(t) ? -Infinity : t;
}

const STATE_RANK: Record<string, number> = { inactive: 0, pending: 1, firing: 2 };
const stateRank = (s: unknown): number => (typeof s === 'string' ? (STATE_RANK[s] ?? -1) : -1);

/** The more severe of two copies of one alert: firing over pending, then the one active longer. */
function preferAlert(a: Json, b: Json): Json {
  const d = stateRank(b.state) - stateRank(a.state);
  if (d !== 0) return d > 0 ? b : a;
  return timeMs(b.activeAt) < timeMs(a.activeAt) ? b : a;
}

/** Alerts (Prometheus's Alert objects) as one list: one per label set, first-seen order. */
export function mergeAlertList(lists: readonly Json[][]): Json[] {
  const byLabels = new Map<string, Json>();
  for (const list of lists) {
    for (const a of list ?? []) {
      const k = key(a?.labels);
      const prev = byLabels.get(k);
      byLabels.set(k, prev === undefined ? a : preferAlert(prev, a));
    }
  }
  return [...byLabels.values()];
}

/** The copy of a rule to show: the most severe state, then the latest evaluation. */
function preferRule(a: Json, b: Json): Json {
  if (a.type === 'alerting') {
    const d = stateRank(b.state) - stateRank(a.state);
    if (d !== 0) return d > 0 ? b : a;
  }
  return timeMs(b.lastEvaluation) > timeMs(a.lastEvaluation) ? b : a;
}

const ruleKey = (r: Json): string => key([r?.type, r?.name, r?.query, r?.labels ?? null]);

/**
 * /api/v1/rules `groups` lists of several servers as one: groups with the same file and name are
 * one group (fields of the copy evaluated last), sorted by file then name as Prometheus's rule
 * manager lists them; a rule present in several copies (same type, name, query and labels) is one
 * rule, its most severe copy, with the union of the copies' alerts.
 */
export function mergeRuleGroups(lists: readonly Json[][]): Json[] {
  const groups = new Map<string, { group: Json; rules: Map<string, { rule: Json; alerts: Json[][] }> }>();
  for (const list of lists) {
    for (const g of list ?? []) {
      const gk = key([g?.file, g?.name]);
      let entry = groups.get(gk);
      if (entry === undefined) {
        entry = { group: g, rules: new Map() };
        groups.set(gk, entry);
      } else if (timeMs(g.lastEvaluation) > timeMs(entry.group.lastEvaluation)) entry.group = g;
      for (const r of g?.rules ?? []) {
        const rk = ruleKey(r);
        const prev = entry.rules.get(rk);
        if (prev === undefined) entry.rules.set(rk, { rule: r, alerts: [r.alerts ?? []] });
        else {
          prev.rule = preferRule(prev.rule, r);
          prev.alerts.push(r.alerts ?? []);
        }
      }
    }
  }
  const out = [...groups.values()].map(({ group, rules }) => {
    const merged = [...rules.values()].map(({ rule, alerts }) =>
      rule.type === 'alerting' && alerts.length > 1 ? { ...rule, alerts: mergeAlertList(alerts) } : rule,
    );
    return { ...group, rules: merged };
  });
  return out.sort((a, b) => compareStrings(String(a.file), String(b.file)) || compareStrings(String(a.name), String(b.name)));
}

/** Adds the server group's labels to every alert of a rule-group list (the alert's own values win). */
export function labelRuleGroupAlerts(groups: readonly Json[], labels: Record<string, string>): Json[] {
  if (Object.keys(labels).length === 0) return [...groups];
  return groups.map((g) => ({
    ...g,
    rules: (g?.rules ?? []).map((r: Json) => (Array.isArray(r?.alerts) ? { ...r, alerts: labelAlerts(r.alerts, labels) } : r)),
  }));
}

export function labelAlerts(alerts: readonly Json[], labels: Record<string, string>): Json[] {
  if (Object.keys(labels).length === 0) return [...alerts];
  return alerts.map((a) => ({ ...a, labels: withGroupLabels(a?.labels, labels) }));
}

const HEALTH_RANK: Record<string, number> = { down: 0, unknown: 1, up: 2 };

/** The better of two replicas' views of one target: healthier, then scraped last. */
function preferTarget(a: Json, b: Json): Json {
  const d = (HEALTH_RANK[b.health] ?? -1) - (HEALTH_RANK[a.health] ?? -1);
  if (d !== 0) return d > 0 ? b : a;
  return timeMs(b.lastScrape) > timeMs(a.lastScrape) ? b : a;
}

/**
 * /api/v1/targets of one server group's replicas as one: an active target is one per scrape pool,
 * scrape URL and labels (the healthier copy, then the one scraped last), a dropped one per
 * discovered label set; `droppedTargetCounts` (Prometheus 2.50+) is the largest count seen per pool.
 */
export function mergeGroupTargets(replicas: readonly Json[]): Json {
  const active = new Map<string, Json>();
  const dropped = new Map<string, Json>();
  let counts: Record<string, number> | undefined;
  for (const r of replicas) {
    for (const t of r?.activeTargets ?? []) {
      const k = key([t?.scrapePool, t?.scrapeUrl, t?.labels]);
      const prev = active.get(k);
      active.set(k, prev === undefined ? t : preferTarget(prev, t));
    }
    for (const t of r?.droppedTargets ?? []) {
      const k = key([t?.discoveredLabels]);
      if (!dropped.has(k)) dropped.set(k, t);
    }
    if (r?.droppedTargetCounts && typeof r.droppedTargetCounts === 'object') {
      counts ??= {};
      for (const [pool, n] of Object.entries(r.droppedTargetCounts as Record<string, number>)) counts[pool] = Math.max(counts[pool] ?? 0, Number(n) || 0);
    }
  }
  const out: Json = { activeTargets: [...active.values()], droppedTargets: [...dropped.values()] };
  if (counts !== undefined) out.droppedTargetCounts = counts;
  return out;
}

/** Targets of every group, each entry naming its server group in `serverGroup`; dropped counts summed over groups. */
export function mergeTargets(groups: readonly { group: string; merged: Json }[]): Json {
  const activeTargets: Json[] = [];
  const droppedTargets: Json[] = [];
  let counts: Record<string, number> | undefined;
  for (const { group, merged } of groups) {
    for (const t of merged.activeTargets) activeTargets.push({ ...t, serverGroup: group });
    for (const t of merged.droppedTargets) droppedTargets.push({ ...t, serverGroup: group });
    if (merged.droppedTargetCounts) {
      counts ??= {};
      for (const [pool, n] of Object.entries(merged.droppedTargetCounts as Record<string, number>)) counts[pool] = (counts[pool] ?? 0) + n;
    }
  }
  const out: Json = { activeTargets, droppedTargets };
  if (counts !== undefined) out.droppedTargetCounts = counts;
  return out;
}

/**
 * /api/v1/targets/metadata entries of several servers: equal entries once, first-seen order;
 * `limit` (>= 0) applied as Prometheus does, target by target: a target's entries are all added
 * while fewer than `limit` entries were kept, so the answer may pass it.
 */
export function mergeTargetMetadata(lists: readonly Json[][], limit: number): Json[] {
  const seen = new Set<string>();
  const byTarget = new Map<string, Json[]>();
  for (const list of lists) {
    for (const e of list ?? []) {
      const k = key(e);
      if (seen.has(k)) continue;
      seen.add(k);
      const tk = key(e?.target);
      let l = byTarget.get(tk);
      if (l === undefined) byTarget.set(tk, (l = []));
      l.push(e);
    }
  }
  const out: Json[] = [];
  for (const entries of byTarget.values()) {
    if (limit >= 0 && out.length >= limit) break;
    out.push(...entries);
  }
  return out;
}

/** /api/v1/alertmanagers: each URL once, first-seen order, active and dropped apart. */
export function mergeAlertmanagers(answers: readonly Json[]): Json {
  const list = (field: string): Json[] => {
    const seen = new Map<string, Json>();
    for (const a of answers) for (const am of a?.[field] ?? []) if (!seen.has(key(am?.url))) seen.set(key(am?.url), am);
    return [...seen.values()];
  };
  return { activeAlertmanagers: list('activeAlertmanagers'), droppedAlertmanagers: list('droppedAlertmanagers') };
}

const TSDB_LISTS = ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'] as const;

/**
 * /api/v1/status/tsdb: within a group (replicas hold the same series) the largest value of each
 * count, across groups (different series) the sum; minTime the earliest, maxTime the latest; each
 * top list cut to `limit` entries (Prometheus's default 10), largest first, ties by name.
 */
export function mergeTsdbStatus(groups: readonly Json[][], limit = 10): Json {
  const combine = (answers: readonly Json[], add: (a: number, b: number) => number): Json => {
    const head: Record<string, number> = {};
    const lists: Record<string, Map<string, number>> = {};
    for (const a of answers) {
      for (const [k, v] of Object.entries((a?.headStats ?? {}) as Record<string, number>)) {
        if (typeof v !== 'number') continue;
        if (!(k in head)) head[k] = v;
        else if (k === 'minTime') head[k] = Math.min(head[k], v);
        else if (k === 'maxTime') head[k] = Math.max(head[k], v);
        else head[k] = add(head[k], v);
      }
      for (const l of TSDB_LISTS) {
        const m = (lists[l] ??= new Map());
        for (const s of a?.[l] ?? []) {
          const name = String(s?.name);
          const v = Number(s?.value) || 0;
          m.set(name, m.has(name) ? add(m.get(name)!, v) : v);
        }
      }
    }
    const out: Json = { headStats: head };
    for (const l of TSDB_LISTS) {
      out[l] = [...(lists[l] ?? new Map<string, number>())].sort((x, y) => y[1] - x[1] || compareStrings(x[0], y[0])).map(([name, value]) => ({ name, value }));
    }
    return out;
  };
  const perGroup = groups.map((replicas) => combine(replicas, Math.max));
  const all = combine(perGroup, (a, b) => a + b);
  for (const l of TSDB_LISTS) all[l] = all[l].slice(0, limit);
  // Keep headStats' fields in Prometheus's order whatever order the first answer had.
  const order = ['numSeries', 'numLabelPairs', 'chunkCount', 'minTime', 'maxTime'];
  const head: Record<string, number> = {};
  for (const k of order) if (k in all.headStats) head[k] = all.headStats[k];
  for (const k of Object.keys(all.headStats)) if (!(k in head)) head[k] = all.headStats[k];
  return { ...all, headStats: head };
}

/**
 * /api/v1/query_exemplars: one entry per series label set (group labels added), its exemplars the
 * union of the copies (same labels, value and timestamp once) in time order; series in label order.
 */
export function mergeExemplars(groups: readonly { labels: Record<string, string>; replicas: Json[][] }[]): Json[] {
  const bySeries = new Map<string, { seriesLabels: Record<string, string>; exemplars: Map<string, Json> }>();
  for (const g of groups) {
    for (const list of g.replicas) {
      for (const s of list ?? []) {
        const seriesLabels = withGroupLabels(s?.seriesLabels, g.labels);
        const sk = key(seriesLabels);
        let entry = bySeries.get(sk);
        if (entry === undefined) bySeries.set(sk, (entry = { seriesLabels, exemplars: new Map() }));
        for (const e of s?.exemplars ?? []) {
          const ek = key([e?.labels, e?.value, e?.timestamp]);
          if (!entry.exemplars.has(ek)) entry.exemplars.set(ek, e);
        }
      }
    }
  }
  const labelKey = (l: Record<string, string>): string[] => Object.entries(l).flat();
  const cmp = (a: Record<string, string>, b: Record<string, string>): number => {
    const x = labelKey(a);
    const y = labelKey(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = compareStrings(x[i], y[i]);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  };
  return [...bySeries.values()]
    .sort((a, b) => cmp(a.seriesLabels, b.seriesLabels))
    .map((s) => ({ seriesLabels: s.seriesLabels, exemplars: [...s.exemplars.values()].sort((a, b) => Number(a.timestamp) - Number(b.timestamp)) }));
}

/** JSON as Go's encoding/json writes it: HTML-safe escapes (<, >, &, U+2028/9 only occur inside strings). */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
