// Per-group partial aggregation pushed down to the servers (docs/parallel.md, "Pushed to the
// servers"): where every group an aggregation's selector reaches is one Prometheus known to evaluate
// PromQL as we do, each server evaluates the group's partial aggregate (`sum by (job) (rate(...))`
// over its own series) in Go, all groups in parallel, and the query thread only combines the small
// answers (combine.ts). The worker pool (pool.ts) does the same work in JS from raw samples; this
// path does not read raw samples at all, which is what makes a sharded fleet faster than one server.
//
// Exactness rests on the same conditions as the pool's, checked without the raw data: the series
// lists of all groups are asked in parallel with the partials (a series in two groups, after a
// reshard, makes the raw path answer), and the servers' identity and limits are verified as for
// whole queries (FanoutStorage.evaluatePartials). Every decision is counted in
// promfront_query_pushdown_total.

import type { AggregateRequest, AggregateResult } from '../../storage/interface.js';
import { compareStrings, labelsKey, type Label, type Labels } from '../../model/labels.js';
import type { GroupPartials, PartialsRequest, PushdownOutcome } from '../fanout.js';
import { combinePartials, distinctNotes, stepCount, type PartialSeries } from './combine.js';
import { planQuery, type PartialPlan } from './plan.js';

export interface PushedPartialsOptions {
  /** FanoutStorage.evaluatePartials. */
  evaluatePartials(req: PartialsRequest, signal?: AbortSignal): Promise<{ groups: GroupPartials[]; warnings: string[] } | PushdownOutcome>;
  /** Names of the groups a selector with these matchers reaches (FanoutStorage.groupsFor). */
  groupsFor(matchers: PartialPlan['matchers']): string[];
  /** Told of every decision (FanoutStorage.pushdownOutcomes). */
  count(o: PushdownOutcome): void;
  maxSamples: number;
  lookbackDeltaMs: number;
}

/**
 * How an offered aggregation ended: answered, `raw` (only the raw path is exact: a series is in two
 * groups), or undefined (not pushed; the worker pool may still compute it).
 */
export type PushedAnswer = AggregateResult | 'raw' | undefined;

export class PushedPartials {
  constructor(private readonly opts: PushedPartialsOptions) {}

  async aggregate(req: AggregateRequest, storageWarnings: string[], signal?: AbortSignal): Promise<PushedAnswer> {
    // Prometheus's `stats` are the samples our engine reads; a server's evaluation hides them.
    if (req.countSamples === true) return undefined;
    const plan = planQuery(req.query);
    if (typeof plan === 'string') return undefined;
    // One group: the whole query is pushed there where it can be (FanoutStorage.pushdownWholeQuery).
    if (this.opts.groupsFor(plan.matchers).length < 2) return undefined;
    const count = (o: PushdownOutcome): undefined => {
      this.opts.count(o);
      return undefined;
    };
    const lastStepMs = req.stepMs > 0 ? req.startMs + Math.floor((req.endMs - req.startMs) / req.stepMs) * req.stepMs : req.startMs;
    const got = await this.opts.evaluatePartials(
      {
        queries: plan.partials,
        matchers: plan.matchers,
        startMs: req.startMs,
        endMs: req.endMs,
        stepMs: req.stepMs,
        seriesStartMs: req.startMs - plan.offsetMs - (plan.windowMs ?? this.opts.lookbackDeltaMs),
        seriesEndMs: lastStepMs - plan.offsetMs,
      },
      signal,
    );
    if (typeof got === 'string') return count(got);
    // The raw path merges a series held by two groups before aggregating; two partials would count
    // it twice. Compared without the metric name, as the pool does: series differing only in their
    // name collide once a function drops it, and the raw path then fails.
    const seen = new Set<string>();
    let series = 0;
    for (const g of got.groups) {
      const own = new Set<string>();
      for (const l of g.series) own.add(labelsKey(l.filter((x) => x.name !== '__name__')));
      for (const k of own) {
        if (seen.has(k)) {
          count('same_series_in_two_groups');
          return 'raw';
        }
      }
      for (const k of own) seen.add(k);
      series += g.series.length;
    }
    // The operand's points over all groups at once are what the raw path holds and limits; each
    // server limits its own share with the same max_samples (verified through its flags).
    if (series * stepCount(req) > this.opts.maxSamples) return count('max_samples');
    const combined = combinePartials(
      plan.combine,
      got.groups.map((g) => g.answers.map((a) => withKeptGroupLabels(a.series, g.labels, plan))),
      req,
    );
    const { warnings, infos } = distinctNotes(got.groups.flatMap((g) => g.answers));
    storageWarnings.push(...got.warnings);
    count('pushed_partials');
    return {
      series: combined,
      warnings,
      infos,
      readSeries: series,
      // Read by the servers, not here.
      readSamples: 0,
      groups: got.groups.map((g) => g.group),
    };
  }
}

/**
 * The server's partial series as the raw path would group them: the raw path adds the group's
 * labels to every input series lacking them before aggregating, so an output keeping such a label
 * (`by` naming it, `without` not naming it) has the group's value where the server's has none.
 */
function withKeptGroupLabels(series: PartialSeries[], groupLabels: Labels, plan: PartialPlan): PartialSeries[] {
  const kept = groupLabels.filter((l) => plan.keepsLabel(l.name));
  if (kept.length === 0) return series;
  return series.map((s) => {
    const names = new Set(s.labels.map((l) => l.name));
    const add = kept.filter((l) => !names.has(l.name));
    if (add.length === 0) return s;
    const labels: Label[] = [...s.labels, ...add].sort((a, b) => compareStrings(a.name, b.name));
    return { ...s, labels };
  });
}
