// Fan-out over server groups: makes several shards (each a set of HA replicas) look like one Storage.
//
// select / labelNames / labelValues ask every target of every group in parallel, bounded by one
// p-limit per group shared by all queries (so a hung group, holding all its slots, cannot hold up
// requests to other groups), each request bounded by its group's timeout and the caller's
// AbortSignal from the moment it is wanted, time spent waiting for a slot included.
//
// Within a group, the replicas that answered are merged with mergeSeriesSets (anti-affinity merge).
// A failing replica while another answers gives a warning. A group whose targets all fail is left
// out with a warning when ignoreError is set; otherwise the call rejects with a GroupError.
//
// Group labels (like Prometheus external labels / federation without honor_labels=false): a group
// label is added to a series only when the series lacks that label; a series' own value wins.
// Matchers on group label names are answered locally:
//   * a group whose value for the label does not satisfy the matcher is not asked at all (pruned);
//   * when the group's value satisfies it, the matcher is not sent downstream, and it is applied
//     locally to the final label sets (so a series carrying its own non-matching value is dropped).
// Pruning assumes downstream series normally do not carry the group's label names themselves: a
// series with its own value of a group label is not found through a matcher that the group's value
// fails, even when its own value satisfies it.
// Matchers of any type (=, !=, =~, !~) on group labels are treated this way.
//
// Hedging (a group's `hedge`): once one replica of a group has answered, the replicas still
// working get a bounded extra wait, max(minWaitMs, latencyFactor x the answered one's latency),
// then are left out with a warning naming them (HedgedOutError). For select the warning says
// whether the answer is exact: it is when the replica that answered covers the requested range
// (replicaCoverage in merge.ts), so the merge would have taken nothing from the one left out.
//
// One fetch per distinct selection: a view made by forQuery() shares one call among identical
// calls of its request (same matchers in any order, time range and hints), so a query repeating a
// selector 2,000 times reads it once. Queries running at the same time share a target's read when
// one's range contains the other's (shared-reads.ts: a dashboard's panels read the same series).

import { subscribeAbort } from '../util/abort.js';
import { SharedReads } from './shared-reads.js';
import { formatDuration } from '../util/duration.js';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Label, LabelMatcher, Labels } from '../model/labels.js';
import { matchersKey, matchesLabels, planFixedLabels, type CompiledMatcher, type FixedLabelPlan } from '../model/matchers.js';
import { collectDownstreamWarnings } from './downstream/warnings.js';
import type { ServerIdentity } from './downstream/server-identity.js';
import { mergeSeriesSets, replicaCoverage, withoutLabelNames, withoutReplicaLabels } from './merge.js';
import { type MetricMetadataMap, type PushdownRequest, type PushdownResult, type SelectHints, type Series, type Storage } from '../storage/interface.js';
import { compareLabels, compareStrings, labelsKey } from '../model/labels.js';
import { seriesOf, unionLabelSets, unionMetadata } from '../storage/read.js';
import { DownstreamApiError, DownstreamError } from '../errors.js';
import { GroupError, HedgedOutError, TimeoutError } from '../errors.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../model/time.js';

/** One target of a group, as the fan-out sees it. */
export interface GroupTarget {
  storage: Storage;
  /** Names the target in warnings and errors. */
  name: string;
}

export interface GroupSpec {
  name: string;
  /** Fixed targets; `targetNames[i]` names `targets[i]`. */
  targets?: Storage[];
  targetNames?: string[];
  /**
   * Instead of fixed targets: the group's targets now (they change with service discovery), read
   * once per request. A group with no targets fails like one whose targets all failed.
   */
  currentTargets?: () => readonly GroupTarget[];
  antiAffinityMs: number;
  /**
   * Label names removed from every series before the HA merge (Thanos Query's replica labels), so
   * that replicas told apart only by them merge. Matchers on them still go downstream.
   */
  replicaLabels?: string[];
  ignoreError: boolean;
  timeoutMs?: number;
  /** Added to every series of the group that lacks the label (the series' own value wins). */
  labels?: Record<string, string>;
  /** Hedging between the group's replicas (see the top of this file); none when undefined. */
  hedge?: HedgeSpec;
  /**
   * The group's servers evaluate PromQL exactly as our engine does (same semantics): per-series
   * sub-expressions may be evaluated there. See docs/pushdown.md.
   */
  pushdown?: boolean;
  /**
   * With `pushdown` unset: whole queries may still run on the group's one server once it says it is
   * Prometheus of this major version with this lookback delta (server-identity.ts, docs/pushdown.md).
   */
  autoPushdown?: { major: number; lookbackDeltaMs: number; maxSamples: number };
}

/** A downstream that can evaluate PromQL itself (JsonApiTarget). */
export interface EvaluatingTarget {
  evaluate(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult>;
  /**
   * True when raw samples come as compact binary (remote read): a range query's per-step JSON answer
   * then costs more to move and parse than the raw samples it replaces.
   */
  readsBinarySamples?(): boolean;
  /** Which Prometheus the server is, when it plainly is one (server-identity.ts). */
  identity?(): Promise<ServerIdentity | undefined>;
}

/** Whether a server's identity is what pushing to it without `pushdown: true` requires (GroupSpec.autoPushdown). */
function identityAsExpected(id: ServerIdentity | undefined, auto: NonNullable<GroupSpec['autoPushdown']>): boolean {
  return id !== undefined && id.major === auto.major && id.lookbackDeltaMs === auto.lookbackDeltaMs && id.maxSamples === auto.maxSamples;
}

function canEvaluate(t: Storage): t is Storage & EvaluatingTarget {
  return typeof (t as Partial<EvaluatingTarget>).evaluate === 'function';
}

/** Why a pushdown was not used (counted per reason), or 'pushed' / 'pushed_query' (a whole query). */
export type PushdownOutcome =
  | 'pushed'
  | 'pushed_query'
  /** A whole query whose answer passed on as the server wrote it, never decoded (PushdownResult.verbatim). */
  | 'pushed_query_verbatim'
  | 'disabled'
  | 'group_label_matcher'
  | 'replicas'
  | 'refused'
  | 'same_series_in_two_groups'
  | 'several_groups'
  | 'group_labels'
  | 'group_failed'
  | 'binary_reads'
  | 'unverified'
  /** An aggregation computed as partial aggregates by each group's server, combined here (query/partials/pushed.ts). */
  | 'pushed_partials'
  /** Pushed partials: the operand's points over all groups could exceed max_samples. */
  | 'max_samples';

/** A request to evaluate partial aggregates on each group's server (FanoutStorage.evaluatePartials). */
export interface PartialsRequest {
  /** PromQL aggregations, each evaluated on every group's server. */
  queries: string[];
  /** The operand's one selector: groups are pruned on it; the series lists are asked with it. */
  matchers: LabelMatcher[];
  startMs: number;
  endMs: number;
  stepMs: number;
  /** The time range the operand reads: each group's series in it are listed too. */
  seriesStartMs: number;
  seriesEndMs: number;
}

/** One group's answers to the pushed partial aggregates. */
export interface GroupPartials {
  group: string;
  /** The group's labels, sorted by name (added to series lacking them). */
  labels: Labels;
  /** Per query of the request, the server's answer. */
  answers: PushdownResult[];
  /** The series the selector reaches in the group over the series range, group labels added. */
  series: Labels[];
}

export interface HedgeSpec {
  /** The least extra wait given to a replica after its twin answered. */
  minWaitMs: number;
  /** The extra wait is at least this many times the answered twin's latency. */
  latencyFactor: number;
}

export interface FanoutOptions {
  /** Maximum concurrent target requests to one group, over all queries of this FanoutStorage. */
  maxConcurrency: number;
  /** Told of every replica left out by hedging (for the metrics). */
  onHedged?: (group: string, target: string) => void;
  /** Told of every series that several groups returned with different samples over the same time (merge.ts conflicting). */
  onConflict?: (groups: string[], labels: Labels) => void;
}

interface Group {
  spec: GroupSpec;
  members: () => readonly GroupTarget[];
  /** Group labels sorted by name, empty values dropped. */
  labels: Labels;
  labelMap: Map<string, string>;
  replicaLabels: ReadonlySet<string>;
  limit: LimitFunction;
}

interface TargetFailure {
  target: string;
  reason: string;
  /** Left out by hedging: the replica that answered instead. */
  hedgedFor?: string;
  /** The target's own error: a downstream's 4xx is answered with its status (errors.ts downstreamRefusal). */
  error: unknown;
}

/** Result of one group for one request: undefined value when the group was pruned. */
type GroupOutcome<T> =
  { pruned: true } | { pruned: false; results: T[]; failures: TargetFailure[]; noTargets?: boolean; passed?: { target: string; warning: string }[] };

/** The widest time range a select is sent downstream with (see select). */
const SELECT_MIN_MS = Math.max(MIN_TIME_MS, Number.MIN_SAFE_INTEGER);
const SELECT_MAX_MS = Math.min(MAX_TIME_MS, Number.MAX_SAFE_INTEGER);

const NO_TARGETS = 'no targets: service discovery currently finds none';

export class FanoutStorage {
  private readonly groups: Group[];
  /** How pushdown requests ended, by outcome. */
  readonly pushdownOutcomes = new Map<PushdownOutcome, number>();

  private readonly onHedged: FanoutOptions['onHedged'];
  /** Reads of one target shared by queries running at the same time (shared-reads.ts). */
  readonly sharedReads = new SharedReads();
  private readonly onConflict: FanoutOptions['onConflict'];

  constructor(groups: GroupSpec[], opts: FanoutOptions) {
    this.onHedged = opts.onHedged;
    this.onConflict = opts.onConflict;
    this.groups = groups.map((spec) => {
      const members = groupMembers(spec);
      const labels: Label[] = Object.entries(spec.labels ?? {})
        .filter(([, v]) => v !== '')
        .map(([name, value]) => ({ name, value }))
        .sort((a, b) => compareStrings(a.name, b.name));
      const limit = pLimit(Math.max(1, opts.maxConcurrency));
      const replicaLabels = new Set(spec.replicaLabels ?? []);
      return { spec, members, labels, labelMap: new Map(labels.map((l) => [l.name, l.value])), replicaLabels, limit };
    });
  }

  /** A view for one query: its warnings (Prometheus-style strings) collect in `warnings`. */
  forQuery(): { storage: Storage; warnings: string[] } {
    const warnings: string[] = [];
    // Identical calls of one request share one promise (and so add their warnings once). Callers
    // get their own copy of the list: they may sort or filter it.
    const shared = new Map<string, Promise<unknown>>();
    const once = <T>(key: string, call: () => Promise<T>): Promise<T> => {
      let p = shared.get(key) as Promise<T> | undefined;
      if (p === undefined) {
        p = call();
        shared.set(key, p);
      }
      return p;
    };
    const storage: Storage = {
      select: async (matchers, startMs, endMs, hints, signal) =>
        (
          await once(`select\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}\u0000${hintsKey(hints)}`, () =>
            this.select(warnings, matchers, startMs, endMs, hints, signal),
          )
        ).slice(),
      labelNames: async (matchers, startMs, endMs, signal) =>
        (
          await once(`names\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, () => this.labelNames(warnings, matchers, startMs, endMs, signal))
        ).slice(),
      labelValues: async (name, matchers, startMs, endMs, signal) =>
        (
          await once(`values\u0000${name}\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, () =>
            this.labelValues(warnings, name, matchers, startMs, endMs, signal),
          )
        ).slice(),
      series: async (matchers, startMs, endMs, signal) =>
        (
          await once(`series\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, () => this.series(warnings, matchers, startMs, endMs, signal))
        ).slice(),
      metadata: (metric, limitPerMetric, signal) => this.metadata(warnings, metric, limitPerMetric, signal),
      pushdown: (req, signal) =>
        once(
          `pushdown\u0000${req.query}\u0000${matchersKey(req.matchers)}\u0000${req.startMs}\u0000${req.endMs}\u0000${req.stepMs}\u0000${
            req.wholeQuerySelectors?.map(matchersKey).join('\u0001') ?? ''
          }`,
          () => this.pushdown(warnings, req, signal),
        ),
    };
    return { storage, warnings };
  }

  /** Names of the groups a request with these matchers asks (those its group labels do not prune). */
  groupsFor(matchers: LabelMatcher[]): string[] {
    return this.groups.filter((g) => !planGroup(g, matchers).pruned).map((g) => g.spec.name);
  }

  // -------------------------------------------------------------------------------------------

  private async select(
    warnings: string[],
    matchers: LabelMatcher[],
    startMs: number,
    endMs: number,
    hints: SelectHints | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Series[]> {
    // No server stores samples outside the API's time range (nor past 2^53 ms, some 285,000 years,
    // which remote read's int64 fields cannot carry from a double): a range wholly outside it is
    // empty without asking, one reaching outside it is cut to it. time=9e18 asks for 9e21 ms.
    if (endMs < SELECT_MIN_MS || startMs > SELECT_MAX_MS || startMs > endMs) return [];
    startMs = Math.max(startMs, SELECT_MIN_MS);
    endMs = Math.min(endMs, SELECT_MAX_MS);
    const outcomes = await this.fanout(
      matchers,
      async (t, downstream, sig, g) =>
        withoutReplicaLabels(await this.sharedReads.select(t, downstream, startMs, endMs, hints, sig), g.replicaLabels, g.spec.antiAffinityMs),
      signal,
    );
    for (const { group: g, outcome } of outcomes) {
      if (outcome.pruned || outcome.results.length === 0) continue;
      for (const f of outcome.failures) {
        if (f.hedgedFor === undefined) continue;
        const c = replicaCoverage(mergeSeriesSets(outcome.results, g.spec.antiAffinityMs), startMs, endMs, g.spec.antiAffinityMs);
        f.reason += c.covered
          ? `; the answer is exact: target ${JSON.stringify(f.hedgedFor)} covers the requested range`
          : `; the answer may be incomplete: target ${JSON.stringify(f.hedgedFor)} ${c.why}`;
      }
    }
    const perGroup: Series[][] = [];
    const names: string[] = [];
    this.collect(outcomes, warnings, (g, results, local) => {
      names.push(g.spec.name);
      const merged = mergeSeriesSets(results, g.spec.antiAffinityMs);
      let out = g.labels.length === 0 ? merged : merged.map((s) => withGroupLabels(s, g.labels));
      if (local.length > 0) out = out.filter((s) => matchesLabels(local, s.labels));
      if (g.labels.length > 0) out.sort((a, b) => compareLabels(a.labels, b.labels));
      perGroup.push(out);
    });
    // Identical series from different groups (e.g. a series that moved shard) merge; use the largest
    // anti-affinity of the groups involved.
    const aa = Math.max(0, ...this.groups.map((g) => g.spec.antiAffinityMs));
    const onConflict = this.onConflict;
    return mergeSeriesSets(
      perGroup,
      aa,
      onConflict &&
        ((copies, sets) =>
          onConflict(
            sets.map((k) => names[k]),
            copies[0].labels,
          )),
    );
  }

  /**
   * Label sets only: each target's own series lookup (Storage.series, else select's labels), group
   * labels and pruning as select does, replicas and groups unioned.
   */
  private async series(warnings: string[], matchers: LabelMatcher[], startMs: number, endMs: number, signal: AbortSignal | undefined): Promise<Labels[]> {
    const outcomes = await this.fanout(
      matchers,
      async (t, downstream, sig, g) => {
        const sets = await seriesOf(t, downstream, startMs, endMs, sig);
        return g.replicaLabels.size === 0 ? sets : unionLabelSets([sets.map((l) => withoutLabelNames(l, g.replicaLabels)).sort(compareLabels)]);
      },
      signal,
    );
    const perGroup: Labels[][] = [];
    this.collect(outcomes, warnings, (g, results, local) => {
      let out = unionLabelSets(results);
      if (g.labels.length > 0) out = unionLabelSets([out.map((l) => addGroupLabels(l, g.labels)).sort(compareLabels)]);
      if (local.length > 0) out = out.filter((l) => matchesLabels(local, l));
      perGroup.push(out);
    });
    return unionLabelSets(perGroup);
  }

  /**
   * Every target's metric metadata (a target without metadata has none), unioned in group and
   * target order: distinct entries per metric, at most limitPerMetric when > 0. Groups failing
   * follow select's rules.
   */
  private async metadata(warnings: string[], metric: string | undefined, limitPerMetric: number, signal: AbortSignal | undefined): Promise<MetricMetadataMap> {
    const outcomes = await this.fanout(
      [],
      async (t, _downstream, sig) => (t.metadata ? t.metadata(metric, limitPerMetric, sig) : (new Map() as MetricMetadataMap)),
      signal,
    );
    const maps: MetricMetadataMap[] = [];
    this.collect(outcomes, warnings, (_g, results) => maps.push(...results));
    return unionMetadata(maps, limitPerMetric);
  }

  private async labelNames(warnings: string[], matchers: LabelMatcher[], startMs: number, endMs: number, signal: AbortSignal | undefined): Promise<string[]> {
    const outcomes = await this.fanout(matchers, (t, downstream, sig) => t.labelNames(downstream, startMs, endMs, sig), signal);
    const names = new Set<string>();
    this.collect(outcomes, warnings, (g, results) => {
      let any = false;
      for (const r of results) {
        for (const n of r) if (!g.replicaLabels.has(n)) names.add(n);
        if (r.length > 0) any = true;
      }
      // Group label names count only when the group has matching series.
      if (any) for (const l of g.labels) names.add(l.name);
    });
    return [...names].sort(compareStrings);
  }

  private async labelValues(
    warnings: string[],
    name: string,
    matchers: LabelMatcher[],
    startMs: number,
    endMs: number,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    const outcomes = await this.fanout(
      matchers,
      async (t, downstream, sig, g) => {
        // Series carry no replica label once merged.
        if (g.replicaLabels.has(name)) return [];
        const own = await t.labelValues(name, downstream, startMs, endMs, sig);
        // For a group label, the group's value counts when the target has any matching series.
        const groupValue = g.labelMap.get(name);
        if (groupValue === undefined) return own;
        const anyNames = await t.labelNames(downstream, startMs, endMs, sig);
        return anyNames.length > 0 ? [...own, groupValue] : own;
      },
      signal,
    );
    const values = new Set<string>();
    this.collect(outcomes, warnings, (_g, results) => {
      for (const r of results) for (const v of r) if (v !== '') values.add(v);
    });
    return [...values].sort(compareStrings);
  }

  /**
   * Evaluates a per-series expression on each group's server and concatenates the answers. Exact
   * only when each group's merged data is one server's data (a single target), no matcher touches a
   * group label, and no series is in two groups: otherwise resolves undefined and the engine reads
   * raw data. A downstream that refuses the query (an error answer) also means undefined; a
   * downstream that is down or hangs fails the group as select would.
   */
  private async pushdown(warnings: string[], req: PushdownRequest, signal: AbortSignal | undefined): Promise<PushdownResult | undefined> {
    const outcome = (o: PushdownOutcome): undefined => {
      this.pushdownOutcomes.set(o, (this.pushdownOutcomes.get(o) ?? 0) + 1);
      return undefined;
    };
    if (req.wholeQuerySelectors !== undefined) return this.pushdownWholeQuery(req, req.wholeQuerySelectors, signal, outcome);
    for (const g of this.groups) {
      const p = planGroup(g, req.matchers);
      if (p.pruned) continue;
      if (!g.spec.pushdown) return outcome('disabled');
      if (p.local.length > 0) return outcome('group_label_matcher');
      // The downstream's answer would still tell replicas apart by the labels removed here.
      if (g.replicaLabels.size > 0) return outcome('replicas');
      // A target with its own (service discovery) labels is wrapped and cannot evaluate: raw data.
      const members = g.members();
      if (members.length !== 1 || !canEvaluate(members[0].storage)) return outcome('replicas');
      // Per step, a pushed answer has one JSON point per series; raw reads through remote read move
      // each sample in about 1.4 bytes. Only an instant query (one point for a window of samples)
      // then gains; range queries read raw samples.
      if (req.stepMs > 0 && members[0].storage.readsBinarySamples?.() === true) return outcome('binary_reads');
    }
    const { outcomes, refused } = await this.evaluateOn(req.matchers, req, signal);
    if (refused) return outcome('refused');
    const groupWarnings: string[] = [];
    const seen = new Set<string>();
    const series: PushdownResult['series'] = [];
    let clash = false;
    this.collect(outcomes, groupWarnings, (g, results) => {
      for (const r of results) {
        for (const s of r.series) {
          const labels = g.labels.length === 0 ? s.labels : withGroupLabels({ labels: s.labels } as Series, g.labels).labels;
          const key = labelsKey(labels);
          if (seen.has(key)) clash = true;
          seen.add(key);
          series.push({ ...s, labels });
        }
      }
    });
    if (clash) return outcome('same_series_in_two_groups');
    warnings.push(...groupWarnings);
    outcome('pushed');
    return { series };
  }

  /**
   * A whole query evaluated by one server: exact when every selector reaches one group only, that
   * group is one server with no group or target labels (labels added here could be aggregated or
   * matched on), and it evaluates PromQL as we do (`pushdown: true`). Its answer is the answer.
   */
  private async pushdownWholeQuery(
    req: PushdownRequest,
    selectors: LabelMatcher[][],
    signal: AbortSignal | undefined,
    outcome: (o: PushdownOutcome) => undefined,
  ): Promise<PushdownResult | undefined> {
    const reached = this.groups.filter((g) => selectors.some((ms) => !planGroup(g, ms).pruned));
    if (reached.length !== 1) return outcome('several_groups');
    const g = reached[0];
    const auto = g.spec.pushdown === undefined ? g.spec.autoPushdown : undefined;
    if (g.spec.pushdown !== true && auto === undefined) return outcome('disabled');
    if (g.labels.length > 0) return outcome('group_labels');
    if (g.replicaLabels.size > 0) return outcome('replicas');
    const members = g.members();
    if (members.length !== 1 || !canEvaluate(members[0].storage)) return outcome('replicas');
    if (auto !== undefined && !identityAsExpected(await members[0].storage.identity?.(), auto)) return outcome('unverified');
    // After the identity: a target's client (and so its transport) exists only once it was used.
    // An answer passed on as the server wrote it (verbatim) is never decoded here: cheaper than raw samples.
    if (req.stepMs > 0 && req.sizedLikeInput === true && req.verbatim === undefined && members[0].storage.readsBinarySamples?.() === true) {
      return outcome('binary_reads');
    }
    const first = selectors.find((ms) => !planGroup(g, ms).pruned)!;
    const { outcomes, refused } = await this.evaluateOn(first, req, signal);
    if (refused) return outcome('refused');
    let result: PushdownResult | undefined;
    // Throws GroupError as select would; under ignore_error the group is left out and the raw path
    // answers (as with no data: `absent(x)` is 1 there, not empty), with its own warning.
    this.collect(outcomes, [], (_g, results) => {
      result = results[0];
    });
    if (result === undefined) return outcome('group_failed');
    outcome(result.verbatim === undefined ? 'pushed_query' : 'pushed_query_verbatim');
    return result;
  }

  /**
   * Evaluates partial aggregates on the one server of every group the selector reaches, and lists
   * each group's series the selector reaches, all in parallel. Only where each reached group is one
   * server known to evaluate PromQL as we do (`pushdown: true`, or verified as for whole queries),
   * with no replica labels and no matcher on its labels (docs/pushdown.md). Resolves the outcome
   * that prevented it otherwise, and 'refused' when a server answered with an error. A group
   * failing fails the call (GroupError) or, with ignore_error, is left out with a warning, as a
   * raw read would; the warnings come back for the caller to add when it uses the answers. Counts
   * nothing: the caller decides after its own checks.
   */
  async evaluatePartials(req: PartialsRequest, signal?: AbortSignal): Promise<{ groups: GroupPartials[]; warnings: string[] } | PushdownOutcome> {
    const verify: Promise<boolean>[] = [];
    for (const g of this.groups) {
      const p = planGroup(g, req.matchers);
      if (p.pruned) continue;
      const auto = g.spec.pushdown === undefined ? g.spec.autoPushdown : undefined;
      if (g.spec.pushdown !== true && auto === undefined) return 'disabled';
      if (p.local.length > 0) return 'group_label_matcher';
      if (g.replicaLabels.size > 0) return 'replicas';
      const members = g.members();
      if (members.length !== 1 || !canEvaluate(members[0].storage)) return 'replicas';
      if (auto === undefined) continue;
      // Asked once per server and then in the background (server-identity.ts). Not waited for while
      // unknown: over several groups, a hung server's identity would hold up the query past the
      // group's own deadline, where the raw path leaves an ignore_error group out. Until it is
      // known, the aggregation is computed here (unverified).
      const asked = members[0].storage.identity?.() ?? Promise.resolve(undefined);
      const known = asked.then((id) => identityAsExpected(id, auto));
      verify.push(Promise.race([known, new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]));
    }
    if ((await Promise.all(verify)).includes(false)) return 'unverified';
    let refused = false;
    const outcomes = await this.fanout(
      req.matchers,
      async (t, downstream, sig) => {
        const target = t as Storage & EvaluatingTarget;
        try {
          const [answers, series] = await Promise.all([
            Promise.all(
              req.queries.map((query) => target.evaluate({ query, matchers: req.matchers, startMs: req.startMs, endMs: req.endMs, stepMs: req.stepMs }, sig)),
            ),
            seriesOf(t, downstream, req.seriesStartMs, req.seriesEndMs, sig),
          ]);
          return { answers, series };
        } catch (err) {
          if (!(err instanceof DownstreamApiError)) throw err;
          refused = true;
          return { answers: [], series: [] };
        }
      },
      signal,
    );
    if (refused) return 'refused';
    const out: GroupPartials[] = [];
    const warnings: string[] = [];
    this.collect(outcomes, warnings, (g, results) => {
      const r = results[0];
      out.push({
        group: g.spec.name,
        labels: g.labels,
        answers: r.answers,
        series: g.labels.length === 0 ? r.series : r.series.map((l) => addGroupLabels(l, g.labels)),
      });
    });
    return { groups: out, warnings };
  }

  /**
   * Asks the servers of the groups `matchers` reach to evaluate `req`. `refused`: one answered with
   * a Prometheus error (it understood and declined), so the caller reads raw data instead.
   */
  private async evaluateOn(matchers: LabelMatcher[], req: PushdownRequest, signal: AbortSignal | undefined) {
    let refused = false;
    const outcomes = await this.fanout(
      matchers,
      async (t, _downstream, sig) => {
        try {
          return await (t as Storage & EvaluatingTarget).evaluate(req, sig);
        } catch (err) {
          if (!(err instanceof DownstreamApiError)) throw err;
          refused = true;
          return { series: [] };
        }
      },
      signal,
    );
    return { outcomes, refused };
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Runs `call` on every target of every non-pruned group in parallel (bounded by the group's limit)
   * and waits for all. Rejects with the caller's abort reason when `signal` aborts.
   */
  private async fanout<T>(
    matchers: LabelMatcher[],
    call: (t: Storage, downstream: LabelMatcher[], signal: AbortSignal, g: Group) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<{ group: Group; outcome: GroupOutcome<T>; local: CompiledMatcher[] }[]> {
    signal?.throwIfAborted();
    const plans = this.groups.map((g) => ({ group: g, ...planGroup(g, matchers) }));
    const outcomes = await Promise.all(
      plans.map(async (p) => {
        if (p.pruned) return { group: p.group, outcome: { pruned: true } as GroupOutcome<T>, local: [] };
        const g = p.group;
        const members = g.members();
        if (members.length === 0) {
          return { group: g, outcome: { pruned: false, results: [], failures: [], noTargets: true } as GroupOutcome<T>, local: p.local };
        }
        // The deadline wraps the wait for a slot: a request queued behind hung ones still ends
        // at its group timeout or the caller's abort, and is dropped if it ends before its turn.
        // Each call collects the warnings its downstream answered with (a lower promfront's).
        const carried = members.map((): string[] => []);
        const calls = members.map((t, i) =>
          startCall(
            (sig) =>
              g.limit(() => (sig.aborted ? Promise.reject(sig.reason) : collectDownstreamWarnings(carried[i], () => call(t.storage, p.downstream, sig, g)))),
            g.spec.timeoutMs,
            signal,
          ),
        );
        const settled = await this.settleHedged(g, members, calls);
        const results: T[] = [];
        const failures: TargetFailure[] = [];
        const passed: { target: string; warning: string }[] = [];
        settled.forEach((s, i) => {
          if (s.status === 'fulfilled') {
            results.push(s.value);
            for (const warning of carried[i]) passed.push({ target: members[i].name, warning });
          } else failures.push({ target: members[i].name, reason: errorReason(s.reason), hedgedFor: s.hedgedFor, error: s.reason });
        });
        return { group: g, outcome: { pruned: false, results, failures, passed } as GroupOutcome<T>, local: p.local };
      }),
    );
    signal?.throwIfAborted();
    return outcomes;
  }

  /**
   * Waits for every call of one group, as Promise.allSettled; with hedging, once one call has
   * answered, the calls still running get the hedge wait and are then left out (aborted).
   */
  private settleHedged<T>(g: Group, members: readonly GroupTarget[], calls: Call<T>[]): Promise<(PromiseSettledResult<T> & { hedgedFor?: string })[]> {
    const hedge = g.spec.hedge;
    const t0 = performance.now();
    return new Promise((resolve) => {
      const out = new Array<PromiseSettledResult<T> & { hedgedFor?: string }>(calls.length);
      const done = new Array<boolean>(calls.length).fill(false);
      let pending = calls.length;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = (i: number, r: PromiseSettledResult<T> & { hedgedFor?: string }): void => {
        if (done[i]) return;
        done[i] = true;
        out[i] = r;
        pending--;
        if (pending === 0) {
          if (timer !== undefined) clearTimeout(timer);
          resolve(out);
          return;
        }
        if (r.status !== 'fulfilled' || hedge === undefined || timer !== undefined) return;
        const latencyMs = performance.now() - t0;
        const waitMs = Math.max(hedge.minWaitMs, hedge.latencyFactor * latencyMs);
        const by = members[i].name;
        timer = setTimeout(() => {
          const err = new HedgedOutError(
            `left out: no answer ${formatDuration(Math.round(waitMs))} after target ${JSON.stringify(by)} answered (in ${formatDuration(Math.round(latencyMs))})`,
          );
          calls.forEach((c, j) => {
            if (done[j]) return;
            this.onHedged?.(g.spec.name, members[j].name);
            settle(j, { status: 'rejected', reason: err, hedgedFor: by });
            c.leaveOut(err);
          });
        }, waitMs);
      };
      calls.forEach((c, i) => {
        c.promise.then(
          (value) => settle(i, { status: 'fulfilled', value }),
          (reason: unknown) => settle(i, { status: 'rejected', reason }),
        );
      });
    });
  }

  /** Applies the warning / error rules and hands each answering group's results to `use`. */
  private collect<T>(
    outcomes: { group: Group; outcome: GroupOutcome<T>; local: CompiledMatcher[] }[],
    warnings: string[],
    use: (g: Group, results: T[], local: CompiledMatcher[]) => void,
  ): void {
    // Throw before adding warnings of other groups? Warnings are irrelevant when the call rejects.
    for (const { group: g, outcome } of outcomes) {
      if (outcome.pruned || outcome.results.length > 0 || (outcome.failures.length === 0 && !outcome.noTargets)) continue;
      if (!g.spec.ignoreError) {
        const first = outcome.failures[0];
        throw new GroupError(g.spec.name, first?.target, outcome.noTargets ? NO_TARGETS : describeFailures(outcome.failures), first?.error);
      }
    }
    for (const { group: g, outcome, local } of outcomes) {
      if (outcome.pruned) continue;
      const name = JSON.stringify(g.spec.name);
      if (outcome.results.length === 0 && (outcome.failures.length > 0 || outcome.noTargets)) {
        warnings.push(`server group ${name} failed: ${outcome.noTargets ? NO_TARGETS : describeFailures(outcome.failures)}`);
        continue;
      }
      for (const f of outcome.failures) {
        warnings.push(`server group ${name}: target ${JSON.stringify(f.target)} ${f.hedgedFor === undefined ? 'failed: ' : ''}${f.reason}`);
      }
      // A downstream's own warnings, named by where they came from; HA twins saying the same once.
      const said = new Set<string>();
      for (const { target, warning } of outcome.passed ?? []) {
        if (said.has(warning)) continue;
        said.add(warning);
        warnings.push(`server group ${name}: target ${JSON.stringify(target)}: ${warning}`);
      }
      use(g, outcome.results, local);
    }
  }
}

/** The group's targets as a function: its currentTargets, or its fixed targets. */
function groupMembers(spec: GroupSpec): () => readonly GroupTarget[] {
  const quoted = JSON.stringify(spec.name);
  if (spec.currentTargets !== undefined) {
    if (spec.targets !== undefined) throw new Error(`server group ${quoted}: give either targets or currentTargets, not both`);
    return spec.currentTargets;
  }
  const targets = spec.targets ?? [];
  const names = spec.targetNames ?? [];
  if (targets.length !== names.length) throw new Error(`server group ${quoted}: targets and targetNames differ in length`);
  const fixed = targets.map((storage, i) => ({ storage, name: names[i] }));
  return () => fixed;
}

/**
 * Which matchers go downstream for a group, which are checked locally, and whether the group is
 * pruned (one of its labels fails a matcher on that label).
 */
function planGroup(g: Group, matchers: LabelMatcher[]): FixedLabelPlan {
  return planFixedLabels(g.labelMap, matchers);
}

/** Adds the group labels the series lacks (the series' own values win). */
function withGroupLabels(s: Series, groupLabels: Labels): Series {
  const labels = addGroupLabels(s.labels, groupLabels);
  return labels === s.labels ? s : { ...s, labels };
}

/** Adds the group labels a label set lacks (its own values win); the same array when none is added. */
function addGroupLabels(a: Labels, groupLabels: Labels): Labels {
  const out: Label[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < groupLabels.length) {
    if (j >= groupLabels.length) out.push(a[i++]);
    else if (i >= a.length) out.push(groupLabels[j++]);
    else {
      const c = compareStrings(a[i].name, groupLabels[j].name);
      if (c < 0) out.push(a[i++]);
      else if (c > 0) out.push(groupLabels[j++]);
      else {
        out.push(a[i++]); // series' own value wins
        j++;
      }
    }
  }
  if (out.length === a.length) return a;
  return out;
}

/** One downstream call under its deadline; `leaveOut` ends it early (hedging). */
interface Call<T> {
  promise: Promise<T>;
  leaveOut(reason: Error): void;
}

/**
 * Runs fn with a signal aborted on the caller's abort, after timeoutMs or by leaveOut; settles at
 * that moment even when fn ignores its signal. The caller's signal gets no listener of its own per
 * call: subscribeAbort keeps one per signal, so thousands of calls of one request cost O(1) each.
 */
function startCall<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number | undefined, outer: AbortSignal | undefined): Call<T> {
  if (outer?.aborted) return { promise: Promise.reject(outer.reason as Error), leaveOut: () => {} };
  const ctl = new AbortController();
  let leaveOut: (reason: Error) => void = () => {};
  const promise = new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe: (() => void) | undefined;
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe?.();
      return true;
    };
    const end = (reason: unknown): void => {
      if (!finish()) return;
      ctl.abort(reason);
      reject(reason);
    };
    leaveOut = end;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs) && timeoutMs > 0) {
      timer = setTimeout(() => end(new TimeoutError(`timeout after ${formatDuration(timeoutMs)}`)), timeoutMs);
    }
    if (outer !== undefined) unsubscribe = subscribeAbort(outer, () => end(outer.reason));
    let p: Promise<T>;
    try {
      p = fn(ctl.signal);
    } catch (err) {
      if (finish()) reject(err);
      return;
    }
    p.then(
      (v) => {
        if (finish()) resolve(v);
      },
      (err) => {
        if (finish()) reject(err);
      },
    );
  });
  return { promise, leaveOut: (reason) => leaveOut(reason) };
}

/** A key equal for matcher lists that select the same series (the order of matchers does not matter). */
function hintsKey(h: SelectHints | undefined): string {
  return h === undefined ? '' : JSON.stringify([h.startMs, h.endMs, h.stepMs, h.func, h.rangeMs]);
}

/** The reason text of a target's error, without the target prefix DownstreamError adds. */
function errorReason(err: unknown): string {
  if (err instanceof DownstreamError) {
    const prefix = `${err.target}: `;
    return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

function describeFailures(fs: TargetFailure[]): string {
  return fs.map((f) => `target ${JSON.stringify(f.target)}: ${f.reason}`).join('; ');
}
