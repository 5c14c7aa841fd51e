// Labels that service discovery attaches to one downstream target (a file_sd target group's labels,
// a static_configs entry's labels), applied the way promxy applies them: added to every series the
// target returns, and matchers on those label names answered here instead of downstream.
//
// The rules are those of server group labels in fanout.ts, for one target: a series' own value of
// the label wins; a target whose value fails a matcher on the label is not asked (its answer is
// empty); a matcher the value passes is not sent downstream and is checked on the final label sets.

import { matchesLabels, planFixedLabels } from '../model/matchers.js';
import type { Label, LabelMatcher, Labels } from '../model/labels.js';
import { type SelectHints, type Series, type Storage } from '../storage/interface.js';
import { compareLabels, compareStrings } from '../model/labels.js';

/** `inner` with `labels` added to its series; `inner` itself when there are none. */
export function withTargetLabels(inner: Storage, labels: Record<string, string>): Storage {
  const sorted: Label[] = Object.entries(labels)
    .filter(([, v]) => v !== '')
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => compareStrings(a.name, b.name));
  if (sorted.length === 0) return inner;
  const byName = new Map(sorted.map((l) => [l.name, l.value]));

  const plan = (matchers: LabelMatcher[]) => planFixedLabels(byName, matchers);

  const wrapped: Storage = {
    async select(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]> {
      const p = plan(matchers);
      if (p.pruned) return [];
      let out = (await inner.select(p.downstream, startMs, endMs, hints, signal)).map((s) => addLabels(s, sorted));
      if (p.local.length > 0) out = out.filter((s) => matchesLabels(p.local, s.labels));
      return out.sort((a, b) => compareLabels(a.labels, b.labels));
    },
    async labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
      const p = plan(matchers);
      if (p.pruned) return [];
      const names = await inner.labelNames(p.downstream, startMs, endMs, signal);
      if (names.length === 0) return names;
      return [...new Set([...names, ...byName.keys()])].sort(compareStrings);
    },
    async labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]> {
      const p = plan(matchers);
      if (p.pruned) return [];
      const own = await inner.labelValues(name, p.downstream, startMs, endMs, signal);
      const value = byName.get(name);
      if (value === undefined) return own;
      // The target's value counts when it has any matching series.
      const any = (await inner.labelNames(p.downstream, startMs, endMs, signal)).length > 0;
      return any ? [...new Set([...own, value])].sort(compareStrings) : own;
    },
  };
  if (inner.series) {
    const series = inner.series.bind(inner);
    wrapped.series = async (matchers, startMs, endMs, signal) => {
      const p = plan(matchers);
      if (p.pruned) return [];
      let out = (await series(p.downstream, startMs, endMs, signal)).map((l) => addLabels({ labels: l } as Series, sorted).labels);
      if (p.local.length > 0) out = out.filter((l) => matchesLabels(p.local, l));
      return out.sort(compareLabels);
    };
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
