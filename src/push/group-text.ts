// Rebuilds a pushed group as the text exposition format from what a Pushgateway's /api/v1/metrics
// says about it, so a rebalance can push the group to its new owner with every family's type, help,
// labels and values as they were.
//
// Pushgateway's JSON (api/v1/api.go) lists per group its grouping labels and, per family, type,
// help and metrics: `value` for counters, gauges and untyped, `buckets`/`quantiles` with `count` and
// `sum` for histograms and summaries, values as Go formats floats. push_time_seconds and
// push_failure_time_seconds are left out: the receiving Pushgateway writes its own. The grouping
// labels and the empty `instance` Pushgateway adds are left out of each metric too: the receiving
// Pushgateway adds them back from the push path, as it did the first time.

export interface ApiMetric {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  quantiles?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface ApiFamily {
  type?: string;
  help?: string;
  time_stamp?: string;
  metrics?: ApiMetric[];
}

/** One group of /api/v1/metrics: `labels`, `last_push_successful` and one entry per family name. */
export type ApiGroup = { labels: Record<string, string>; last_push_successful?: boolean } & Record<string, unknown>;

/** Families Pushgateway maintains itself per group. */
export const PUSHGATEWAY_OWN = new Set(['push_time_seconds', 'push_failure_time_seconds']);

/** The family entries of a group, without Pushgateway's own. */
export function groupFamilies(group: ApiGroup): [string, ApiFamily][] {
  return Object.entries(group).filter(
    ([k, v]) => k !== 'labels' && k !== 'last_push_successful' && !PUSHGATEWAY_OWN.has(k) && typeof v === 'object' && v !== null,
  ) as [string, ApiFamily][];
}

/** The group's last successful push, in seconds since the epoch (0 when it has none). */
export function pushTime(group: ApiGroup): number {
  const fam = group.push_time_seconds as ApiFamily | undefined;
  const v = Number(fam?.metrics?.[0]?.value ?? 0);
  return Number.isFinite(v) ? v : 0;
}

/** The group as a text-format body (only the given families when `only` is set). */
export function groupText(group: ApiGroup, only?: ReadonlySet<string>): string {
  const grouping = new Set(Object.keys(group.labels));
  let out = '';
  for (const [name, fam] of groupFamilies(group)) {
    if (only && !only.has(name)) continue;
    const type = (fam.type ?? 'UNTYPED').toLowerCase();
    if (fam.help) out += `# HELP ${name} ${escapeHelp(fam.help)}\n`;
    out += `# TYPE ${name} ${type}\n`;
    for (const m of fam.metrics ?? []) {
      const own = Object.entries(m.labels ?? {}).filter(([k, v]) => !grouping.has(k) && v !== '');
      if (type === 'histogram') {
        const buckets = Object.entries(m.buckets ?? {});
        if (!buckets.some(([le]) => le === '+Inf')) buckets.push(['+Inf', m.count ?? '0']);
        for (const [le, v] of buckets) out += `${name}_bucket${labelText([...own, ['le', le]])} ${v}\n`;
        out += `${name}_sum${labelText(own)} ${m.sum ?? '0'}\n${name}_count${labelText(own)} ${m.count ?? '0'}\n`;
      } else if (type === 'summary') {
        for (const [q, v] of Object.entries(m.quantiles ?? {})) out += `${name}${labelText([...own, ['quantile', q]])} ${v}\n`;
        out += `${name}_sum${labelText(own)} ${m.sum ?? '0'}\n${name}_count${labelText(own)} ${m.count ?? '0'}\n`;
      } else out += `${name}${labelText(own)} ${m.value ?? '0'}\n`;
    }
  }
  return out;
}

function labelText(labels: [string, string][]): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

function escapeHelp(h: string): string {
  return h.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
