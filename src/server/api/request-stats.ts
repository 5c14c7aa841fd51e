// What one API request of the query layer did, gathered while its handler runs, for the request log
// and the query metrics: what was asked, which server groups were asked, how many samples came back,
// how many warnings went out and how it failed.

import type { Context } from 'hono';
import type { StorageStats } from '../../storage/counting.js';

export type { StorageStats } from '../../storage/counting.js';

/** Query kinds with their own metrics; endpoints that read no data are 'other'. */
export type QueryType = 'instant' | 'range' | 'series' | 'labels' | 'label_values' | 'metadata' | 'federate' | 'read' | 'other';

export interface RequestStats {
  type: QueryType;
  query?: string;
  match?: string[];
  /** Names of the server groups asked (not pruned by group labels). */
  groups: Set<string>;
  /** Series and samples returned by the storage's select calls. */
  series: number;
  samples: number;
  warnings: number;
  /** The warnings' texts, for the request log (which shows the first few, cut). */
  warningTexts: string[];
  /** Prometheus's error type when the request failed with an API error. */
  errorType?: string;
}

const byRequest = new WeakMap<Request, RequestStats>();

export function beginRequest(c: Context, type: QueryType): RequestStats {
  const stats: RequestStats = { type, groups: new Set(), series: 0, samples: 0, warnings: 0, warningTexts: [] };
  byRequest.set(c.req.raw, stats);
  return stats;
}

/** The stats of the request being answered, when it is instrumented. */
export function requestStats(c: Context): RequestStats | undefined {
  return byRequest.get(c.req.raw);
}

/** Counts the warnings an answer carries and keeps their texts for the request log. */
export function addWarnings(stats: RequestStats | undefined, warnings: readonly string[]): void {
  if (!stats) return;
  stats.warnings += warnings.length;
  stats.warningTexts.push(...warnings);
}

/** Adds what a storage view counted to the request's stats. */
export function addStorageStats(c: Context, s: StorageStats | undefined): void {
  const stats = requestStats(c);
  if (!stats || !s) return;
  for (const g of s.groups) stats.groups.add(g);
  stats.series += s.series;
  stats.samples += s.samples;
}
