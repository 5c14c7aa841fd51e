// A Storage that counts what passes through it for one request: series and samples returned by
// select, and the server groups each call would ask (the request log and metrics report them).

import type { LabelMatcher } from '../model/labels.js';
import type { Storage } from './interface.js';

export interface StorageStats {
  /** Names of the server groups asked (those not pruned by their group labels). */
  groups: Set<string>;
  series: number;
  samples: number;
}

export function newStorageStats(): StorageStats {
  return { groups: new Set(), series: 0, samples: 0 };
}

/** Wraps `inner`; `groupsFor` names the groups a call with these matchers reaches. */
export function countingStorage(inner: Storage, stats: StorageStats, groupsFor: (matchers: LabelMatcher[]) => string[] = () => []): Storage {
  const touch = (matchers: LabelMatcher[]) => {
    for (const g of groupsFor(matchers)) stats.groups.add(g);
  };
  const out: Storage = {
    async select(matchers, startMs, endMs, hints, signal) {
      touch(matchers);
      const found = await inner.select(matchers, startMs, endMs, hints, signal);
      stats.series += found.length;
      for (const s of found) stats.samples += s.timestamps.length;
      return found;
    },
    labelNames(matchers, startMs, endMs, signal) {
      touch(matchers);
      return inner.labelNames(matchers, startMs, endMs, signal);
    },
    labelValues(name, matchers, startMs, endMs, signal) {
      touch(matchers);
      return inner.labelValues(name, matchers, startMs, endMs, signal);
    },
  };
  if (inner.series) {
    const series = inner.series.bind(inner);
    out.series = async (matchers, startMs, endMs, signal) => {
      touch(matchers);
      const found = await series(matchers, startMs, endMs, signal);
      stats.series += found.length;
      return found;
    };
  }
  if (inner.metadata) {
    const metadata = inner.metadata.bind(inner);
    out.metadata = (metric, limitPerMetric, signal) => {
      touch([]);
      return metadata(metric, limitPerMetric, signal);
    };
  }
  if (inner.pushdown) {
    const pushdown = inner.pushdown.bind(inner);
    out.pushdown = async (req, signal) => {
      touch(req.matchers);
      const res = await pushdown(req, signal);
      if (res !== undefined) {
        stats.series += res.verbatim?.series ?? res.series.length;
        stats.samples += res.verbatim?.points ?? 0;
        for (const s of res.series) stats.samples += s.timestamps.length;
      }
      return res;
    };
  }
  if (inner.aggregate) {
    const aggregate = inner.aggregate.bind(inner);
    out.aggregate = async (req, signal) => {
      const res = await aggregate(req, signal);
      if (res !== undefined) {
        for (const g of res.groups) stats.groups.add(g);
        stats.series += res.readSeries;
        stats.samples += res.readSamples;
      }
      return res;
    };
  }
  return out;
}
