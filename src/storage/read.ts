// Reading through the Storage interface: label sets without samples where a storage can give them,
// and the unions the API and the fan-out use to combine several storages' answers.

import { compareLabels, type LabelMatcher, type Labels } from '../model/labels.js';
import type { MetricMetadata, MetricMetadataMap, Storage } from './interface.js';

/** The label sets of the matching series: Storage.series when present, else from select. */
export async function seriesOf(storage: Storage, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]> {
  if (storage.series) return storage.series(matchers, startMs, endMs, signal);
  const found = await storage.select(matchers, startMs, endMs, { startMs, endMs, func: 'series' }, signal);
  return found.map((s) => s.labels);
}

/** Merges sorted label-set lists into one sorted list without duplicates. */
export function unionLabelSets(lists: ReadonlyArray<ReadonlyArray<Labels>>): Labels[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return [];
  if (nonEmpty.length === 1) return dedupeSorted([...nonEmpty[0]]);
  const all: Labels[] = [];
  for (const l of nonEmpty) for (const x of l) all.push(x);
  all.sort(compareLabels);
  return dedupeSorted(all);
}

function dedupeSorted(sorted: Labels[]): Labels[] {
  let n = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (n > 0 && compareLabels(sorted[n - 1], sorted[i]) === 0) continue;
    sorted[n++] = sorted[i];
  }
  sorted.length = n;
  return sorted;
}

/** Whether two metadata entries are the same (Prometheus keys its sets by the whole entry). */
export function sameMetadata(a: MetricMetadata, b: MetricMetadata): boolean {
  return a.type === b.type && a.help === b.help && a.unit === b.unit;
}

/**
 * Unions metadata maps in the order given: per metric the distinct entries, first found first,
 * at most limitPerMetric of them when it is > 0.
 */
export function unionMetadata(maps: ReadonlyArray<MetricMetadataMap>, limitPerMetric: number): MetricMetadataMap {
  const out: MetricMetadataMap = new Map();
  for (const m of maps) {
    for (const [name, entries] of m) {
      let list = out.get(name);
      if (list === undefined) out.set(name, (list = []));
      for (const e of entries) {
        if (limitPerMetric > 0 && list.length >= limitPerMetric) break;
        if (!list.some((x) => sameMetadata(x, e))) list.push(e);
      }
    }
  }
  return out;
}
