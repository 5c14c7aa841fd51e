// Labels that belong to one downstream target rather than to its series, added to every series the
// target returns and answered here when a matcher names them:
//   * service discovery's labels for a target (a file_sd target group's labels, a static_configs
//     entry's labels), applied the way promxy applies them (withTargetLabels);
//   * a server's external labels kept with `keep_external_labels` (the downstream clients apply
//     them with the functions below on both transports), as Thanos's store API makes them part of
//     each series a Prometheus sidecar sends.
//
// The rules are those of server group labels in fanout.ts, for one target: a series' own value of
// the label wins; a target whose value fails a matcher on the label is not asked (its answer is
// empty); a matcher the value passes is not sent downstream and is checked on the final label sets.

import { matchesLabels, planFixedLabels, type FixedLabelPlan } from '../model/matchers.js';
import type { Label, LabelMatcher, Labels } from '../model/labels.js';
import { type SelectHints, type Series, type Storage } from '../storage/interface.js';
import { compareLabels, compareStrings, METRIC_NAME } from '../model/labels.js';

/** One target's fixed labels, sorted by name (empty values dropped), and the same by name. */
export interface FixedLabels {
  sorted: Labels;
  byName: ReadonlyMap<string, string>;
}

/** The labels as FixedLabels; undefined when none is left once empty values are dropped. */
export function fixedLabels(labels: ReadonlyMap<string, string>): FixedLabels | undefined {
  const sorted: Label[] = [...labels]
    .filter(([, v]) => v !== '')
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => compareStrings(a.name, b.name));
  if (sorted.length === 0) return undefined;
  return { sorted, byName: new Map(sorted.map((l) => [l.name, l.value])) };
}

/**
 * Which matchers go downstream. When every matcher names a fixed label, the target is asked for all
 * its series (`__name__=~".+"`, which every stored series passes): an empty matcher list selects
 * nothing over remote read and is refused by the JSON API.
 */
function plan(fixed: FixedLabels, matchers: LabelMatcher[]): FixedLabelPlan {
  const p = planFixedLabels(fixed.byName, matchers);
  if (p.pruned || p.downstream.length > 0 || matchers.length === 0) return p;
  return { ...p, downstream: [{ type: '=~', name: METRIC_NAME, value: '.+' }] };
}

/** A select through `read` (the target's own), with the fixed labels added and matched. */
export async function selectWithFixedLabels(
  fixed: FixedLabels,
  matchers: LabelMatcher[],
  read: (downstream: LabelMatcher[]) => Promise<Series[]>,
): Promise<Series[]> {
  const p = plan(fixed, matchers);
  if (p.pruned) return [];
  let out = (await read(p.downstream)).map((s) => addLabels(s, fixed.sorted));
  if (p.local.length > 0) out = out.filter((s) => matchesLabels(p.local, s.labels));
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** A series lookup through `read`, with the fixed labels added and matched. */
export async function seriesWithFixedLabels(
  fixed: FixedLabels,
  matchers: LabelMatcher[],
  read: (downstream: LabelMatcher[]) => Promise<Labels[]>,
): Promise<Labels[]> {
  const p = plan(fixed, matchers);
  if (p.pruned) return [];
  let out = (await read(p.downstream)).map((l) => addLabels({ labels: l } as Series, fixed.sorted).labels);
  if (p.local.length > 0) out = out.filter((l) => matchesLabels(p.local, l));
  return out.sort(compareLabels);
}

/** Label names through `read`; the fixed names count when the target has matching series. */
export async function labelNamesWithFixedLabels(
  fixed: FixedLabels,
  matchers: LabelMatcher[],
  read: (downstream: LabelMatcher[]) => Promise<string[]>,
): Promise<string[]> {
  const p = plan(fixed, matchers);
  if (p.pruned) return [];
  const names = await read(p.downstream);
  if (names.length === 0) return names;
  return [...new Set([...names, ...fixed.byName.keys()])].sort(compareStrings);
}

/** Values of `name` through `readValues`; a fixed label's value counts when the target has matching series (`readNames`). */
export async function labelValuesWithFixedLabels(
  fixed: FixedLabels,
  name: string,
  matchers: LabelMatcher[],
  readValues: (downstream: LabelMatcher[]) => Promise<string[]>,
  readNames: (downstream: LabelMatcher[]) => Promise<string[]>,
): Promise<string[]> {
  const p = plan(fixed, matchers);
  if (p.pruned) return [];
  const own = await readValues(p.downstream);
  const value = fixed.byName.get(name);
  if (value === undefined) return own;
  const any = (await readNames(p.downstream)).length > 0;
  return any ? [...new Set([...own, value])].sort(compareStrings) : own;
}

/** `inner` with `labels` added to its series; `inner` itself when there are none. */
export function withTargetLabels(inner: Storage, labels: Record<string, string>): Storage {
  const fixed = fixedLabels(new Map(Object.entries(labels)));
  if (fixed === undefined) return inner;
  const wrapped: Storage = {
    select: (matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> =>
      selectWithFixedLabels(fixed, matchers, (ms) => inner.select(ms, startMs, endMs, hints, signal)),
    labelNames: (matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> =>
      labelNamesWithFixedLabels(fixed, matchers, (ms) => inner.labelNames(ms, startMs, endMs, signal)),
    labelValues: (name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> =>
      labelValuesWithFixedLabels(
        fixed,
        name,
        matchers,
        (ms) => inner.labelValues(name, ms, startMs, endMs, signal),
        (ms) => inner.labelNames(ms, startMs, endMs, signal),
      ),
  };
  if (inner.series) {
    const series = inner.series.bind(inner);
    wrapped.series = (matchers, startMs, endMs, signal) => seriesWithFixedLabels(fixed, matchers, (ms) => series(ms, startMs, endMs, signal));
  }
  // Metadata is per metric name, which target labels do not touch.
  if (inner.metadata) wrapped.metadata = inner.metadata.bind(inner);
  return wrapped;
}

/** Adds the labels the series lacks (the series' own values win). */
function addLabels(s: Series, extra: Labels): Series {
  const have = new Set(s.labels.map((l) => l.name));
  const missing = extra.filter((l) => !have.has(l.name));
  if (missing.length === 0) return s;
  return { ...s, labels: [...s.labels, ...missing].sort((a, b) => compareStrings(a.name, b.name)) };
}
