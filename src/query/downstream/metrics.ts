// The query layer's own metrics: what each downstream target was asked and how it went, and what
// each kind of query cost. Downstream clients (JSON API, remote read, ...) report every request with
// observe(); the API reports every request with observeQuery(). render() writes the families in
// the text exposition format for /metrics, and targets() feeds the /status page.

import { RepeatedFailureLog, type FailureLogger } from '../../util/failure-log.js';

export type DownstreamEndpoint =
  'query' | 'query_range' | 'series' | 'labels' | 'label_values' | 'metadata' | 'read' | 'status_config' | 'status_buildinfo' | 'status_flags' | ApiGetEndpoint;
/** The endpoints asked through src/query/fanout-get.ts. */
export type ApiGetEndpoint = 'rules' | 'alerts' | 'targets' | 'scrape_pools' | 'targets_metadata' | 'alertmanagers' | 'tsdb' | 'query_exemplars';

/** success; error (refused, HTTP error, bad answer); timeout; canceled (the caller gave up). */
export type DownstreamOutcome = 'success' | 'error' | 'timeout' | 'canceled';

export interface DownstreamObservation {
  group: string;
  /** The target's URL without credentials. */
  target: string;
  endpoint: DownstreamEndpoint;
  outcome: DownstreamOutcome;
  seconds: number;
  /** Response body bytes received. */
  bytes: number;
  /** For errors and timeouts: a short kind for promfront_query_downstream_errors_total. */
  errorKind?: string;
  /** For errors and timeouts: what went wrong, free of secrets (shown on /status). */
  error?: string;
}

/** What a downstream client needs: one call per request it made. */
export interface DownstreamObserver {
  observe(o: DownstreamObservation): void;
}

export interface QueryObservation {
  /** instant, range, series, labels, label_values, metadata, federate, read, other. */
  type: string;
  /** success, or the API error type (bad_data, execution, unavailable, ...). */
  outcome: string;
  seconds: number;
  warnings: number;
  samples: number;
}

export interface TargetState {
  group: string;
  target: string;
  requests: number;
  errors: number;
  lastSuccessAt?: number;
  lastErrorAt?: number;
  lastError?: string;
  /** How long its last request took, answered or not (the web UI's latency column). */
  lastDurationMs?: number;
  /** How the target's last successful read of samples went: remote read or the JSON API. */
  transport?: 'remote_read' | 'json';
}

/** The last series a group returned that another group also returned with different samples. */
export interface GroupConflict {
  /** The series, as name{labels}. */
  series: string;
  /** The other groups that returned it. */
  with: string[];
  at: number;
}

/** Prometheus's default buckets, extended to the query layer's 2m default timeout. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
}

type LabelSet = Record<string, string>;

/** Values keyed by their label set, in first-seen order. */
class Family<T> {
  private readonly byKey = new Map<string, { labels: LabelSet; value: T }>();
  constructor(private readonly make: () => T) {}
  get(labels: LabelSet): T {
    const key = JSON.stringify(labels);
    let e = this.byKey.get(key);
    if (e === undefined) this.byKey.set(key, (e = { labels, value: this.make() }));
    return e.value;
  }
  /** The value for these labels if it was ever set, without creating it. */
  peek(labels: LabelSet): T | undefined {
    return this.byKey.get(JSON.stringify(labels))?.value;
  }
  entries(): Iterable<{ labels: LabelSet; value: T }> {
    return this.byKey.values();
  }
}

class Counter {
  value = 0;
}

export class QueryMetrics implements DownstreamObserver {
  private readonly dsRequests = new Family(() => new Counter());
  private readonly dsErrors = new Family(() => new Counter());
  private readonly dsDuration = new Family(() => new Histogram(LATENCY_BUCKETS));
  private readonly dsBytes = new Family(() => new Counter());
  private readonly qRequests = new Family(() => new Counter());
  private readonly qDuration = new Family(() => new Histogram(LATENCY_BUCKETS));
  private readonly qWarnings = new Family(() => new Counter());
  private readonly qSamples = new Family(() => new Counter());
  private readonly hedged = new Family(() => new Counter());
  private readonly refused = new Family(() => new Counter());
  private readonly conflicts = new Family(() => new Counter());
  private readonly lastConflict = new Map<string, GroupConflict>();
  private readonly state = new Map<string, TargetState>();
  /**
   * Per group, target and endpoint, the series observe() updates, found with one string key: a
   * query over 3 groups of 2 replicas makes 6 observations per selector, and building each
   * family's key (JSON of its label set) three times each was a visible part of a small read.
   */
  private readonly perEndpoint = new Map<string, { base: LabelSet; requests: Map<DownstreamOutcome, Counter>; duration: Histogram; bytes: Counter }>();
  // A target that keeps failing is logged when it starts, as a reminder, and when it answers again.
  private readonly failureLog: RepeatedFailureLog | undefined;

  constructor(log?: FailureLogger) {
    this.failureLog = log && new RepeatedFailureLog(log);
  }

  observe(o: DownstreamObservation): void {
    const key = `${o.group}\u0000${o.target}`;
    const epKey = `${key}\u0000${o.endpoint}`;
    let ep = this.perEndpoint.get(epKey);
    if (ep === undefined) {
      const b = { group: o.group, target: o.target, endpoint: o.endpoint };
      ep = { base: b, requests: new Map(), duration: this.dsDuration.get(b), bytes: this.dsBytes.get(b) };
      this.perEndpoint.set(epKey, ep);
    }
    const base = ep.base;
    let requests = ep.requests.get(o.outcome);
    if (requests === undefined) ep.requests.set(o.outcome, (requests = this.dsRequests.get({ ...base, outcome: o.outcome })));
    requests.value++;
    ep.duration.observe(o.seconds);
    ep.bytes.value += o.bytes;
    let st = this.state.get(key);
    if (st === undefined) this.state.set(key, (st = { group: o.group, target: o.target, requests: 0, errors: 0 }));
    st.requests++;
    st.lastDurationMs = o.seconds * 1000;
    const now = Date.now();
    if (o.outcome === 'success') {
      st.lastSuccessAt = now;
      if (o.endpoint === 'read') st.transport = 'remote_read';
      else if (o.endpoint === 'query' || o.endpoint === 'query_range' || o.endpoint === 'series') st.transport = 'json';
      this.failureLog?.succeeded(key, { group: o.group, target: o.target }, 'downstream target answers again');
    } else if (o.outcome === 'error' || o.outcome === 'timeout') {
      const kind = o.errorKind ?? o.outcome;
      this.dsErrors.get({ ...base, kind }).value++;
      st.errors++;
      st.lastErrorAt = now;
      st.lastError = o.error ?? o.outcome;
      this.failureLog?.failed(key, { group: o.group, target: o.target, endpoint: o.endpoint, kind, err: st.lastError }, 'downstream target request failed');
    }
  }

  /** A replica left out of its group's answer: its twin answered, it did not within the hedge wait. */
  observeHedged(group: string, target: string): void {
    this.hedged.get({ group, target }).value++;
  }

  /**
   * A series that several groups returned with different samples over the same time (fanout's
   * onConflict), counted for each group involved, once per read of it.
   */
  observeConflict(groups: string[], series: string): void {
    const at = Date.now();
    for (const group of groups) {
      this.conflicts.get({ group }).value++;
      this.lastConflict.set(group, { series, with: groups.filter((g) => g !== group), at });
    }
  }

  /** For /status: how many conflicting series reads the group had, and the last one. */
  conflictsOf(group: string): { count: number; last: GroupConflict | undefined } {
    return { count: this.conflicts.peek({ group })?.value ?? 0, last: this.lastConflict.get(group) };
  }

  /** A request refused before it ran (e.g. reason too_many_matchers), by query type. */
  observeRefused(type: string, reason: string): void {
    this.refused.get({ type, reason }).value++;
  }

  observeQuery(o: QueryObservation): void {
    this.qRequests.get({ type: o.type, outcome: o.outcome }).value++;
    this.qDuration.get({ type: o.type }).observe(o.seconds);
    if (o.warnings > 0) this.qWarnings.get({ type: o.type }).value += o.warnings;
    if (o.samples > 0) this.qSamples.get({ type: o.type }).value += o.samples;
  }

  /** Per target of every group that has been asked: counts and the last error. */
  targets(): TargetState[] {
    return [...this.state.values()].map((s) => ({ ...s }));
  }

  /** Where render() reads the pushdown decisions from (the fan-out counts them). */
  pushdownOutcomes: (() => ReadonlyMap<string, number>) | undefined;
  /** Target reads answered by another query's read already running (query/shared-reads.ts). */
  sharedReads: (() => number) | undefined;

  render(): string {
    const out: string[] = [];
    counterFamily(
      out,
      'promfront_query_downstream_requests_total',
      'Requests to downstream targets by server group, target, endpoint and outcome.',
      this.dsRequests,
    );
    counterFamily(
      out,
      'promfront_query_downstream_errors_total',
      'Failed downstream requests by server group, target, endpoint and kind of failure.',
      this.dsErrors,
    );
    histogramFamily(
      out,
      'promfront_query_downstream_request_duration_seconds',
      'Duration of downstream requests, until the whole answer was read.',
      this.dsDuration,
    );
    counterFamily(out, 'promfront_query_downstream_response_bytes_total', 'Response body bytes received from downstream targets.', this.dsBytes);
    counterFamily(out, 'promfront_query_requests_total', 'Query API requests by query type and outcome (success or the API error type).', this.qRequests);
    histogramFamily(out, 'promfront_query_duration_seconds', 'Duration of query API requests by query type.', this.qDuration);
    counterFamily(
      out,
      'promfront_query_warnings_total',
      'Warnings returned with query API answers (e.g. a server group left out), by query type.',
      this.qWarnings,
    );
    counterFamily(out, 'promfront_query_samples_loaded_total', 'Samples read from the server groups, by query type.', this.qSamples);
    counterFamily(
      out,
      'promfront_query_downstream_hedged_total',
      'Replicas left out of a server group answer: a twin answered and they did not within the hedge wait.',
      this.hedged,
    );
    counterFamily(
      out,
      'promfront_query_series_conflicts_total',
      'Series another server group also returned with different samples over the same time, by group (docs/shard-identity.md).',
      this.conflicts,
    );
    counterFamily(out, 'promfront_query_refused_total', 'Query API requests refused before they ran, by query type and reason.', this.refused);
    if (this.pushdownOutcomes !== undefined) {
      const name = 'promfront_query_pushdown_total';
      out.push(
        `# HELP ${name} Sub-expressions considered for pushdown, by outcome: pushed, or why raw data was read instead (docs/pushdown.md).\n# TYPE ${name} counter\n`,
      );
      for (const [outcome, n] of [...this.pushdownOutcomes()].sort()) out.push(`${name}${labelText({ outcome })} ${n}\n`);
    }
    if (this.sharedReads !== undefined) {
      const name = 'promfront_query_shared_reads_total';
      out.push(
        `# HELP ${name} Reads of a downstream target answered by another query's read of the same series over a range containing theirs, already running.\n# TYPE ${name} counter\n${name} ${this.sharedReads()}\n`,
      );
    }
    return out.join('');
  }
}

function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function labelText(labels: LabelSet, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function counterFamily(out: string[], name: string, help: string, f: Family<Counter>): void {
  out.push(`# HELP ${name} ${help}\n# TYPE ${name} counter\n`);
  for (const { labels, value } of f.entries()) out.push(`${name}${labelText(labels)} ${num(value.value)}\n`);
}

function histogramFamily(out: string[], name: string, help: string, f: Family<Histogram>): void {
  out.push(`# HELP ${name} ${help}\n# TYPE ${name} histogram\n`);
  for (const { labels, value: h } of f.entries()) {
    h.buckets.forEach((b, i) => out.push(`${name}_bucket${labelText(labels, ['le', num(b)])} ${h.counts[i]}\n`));
    out.push(`${name}_bucket${labelText(labels, ['le', '+Inf'])} ${h.count}\n`);
    out.push(`${name}_sum${labelText(labels)} ${num(h.sum)}\n`);
    out.push(`${name}_count${labelText(labels)} ${h.count}\n`);
  }
}
