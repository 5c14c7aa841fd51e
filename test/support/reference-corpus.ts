// PromQL queries for the query layer's reference suite (test/query-reference.test.ts), over the
// four-hour data set of generateReferenceData (src/dev/backfill.ts). Most are shared with the
// engine's live cross-check (test/promql-live.test.ts) through test/support/queries.ts; the rest use
// the extended families (summary, build_info whose series change mid-range, cache_hit_ratio with NaN
// samples) and the longer range.

import { BACKFILL_START_MS, REFERENCE_END_MS } from '../../dev/backfill.js';
import { type Case, I, sharedQueries } from './queries.js';

export const T0 = BACKFILL_START_MS / 1000; // 2024-01-01T00:00:00Z
export const T_END = REFERENCE_END_MS / 1000; // 2024-01-01T04:00:00Z
const T_MID = T0 + 2 * 3600;

export type { Case, Mode } from './queries.js';

export const CORPUS: Case[] = [
  ...sharedQueries({ T0, T_MID }),

  // the extended families and the longer range, which the engine's live check does not have

  // selectors, offset, @
  { q: '{job="cache"}' },
  { q: 'build_info' },
  { q: 'rpc_duration_seconds{quantile="0.99", method="List"}' },
  { q: 'up @ start()' },
  { q: 'build_info[30m]', modes: I },
  { q: 'cache_hit_ratio[2m]', modes: I },
  { q: 'up[20m] @ start()', modes: I },

  // counters and gauges over ranges
  { q: 'rate(rpc_duration_seconds_count[5m])' },
  { q: 'increase(rpc_duration_seconds_sum[15m])' },
  { q: 'resets(cpu_seconds_total[4h])' },
  { q: 'resets(rpc_duration_seconds_count[2h])' },
  { q: 'changes(build_info[1h])' },

  // *_over_time
  { q: 'count_over_time(build_info[1h])' },
  { q: 'last_over_time(build_info[15m])' },
  { q: 'avg_over_time(cache_hit_ratio[10m])' },
  { q: 'max_over_time(cache_hit_ratio[5m])' },
  { q: 'absent_over_time(build_info{version=~"1.2.*"}[10m])' },

  // classic histograms and summaries
  { q: 'sum by (job) (rate(rpc_duration_seconds_sum[5m])) / sum by (job) (rate(rpc_duration_seconds_count[5m]))' },
  { q: 'max by (quantile) (rpc_duration_seconds)' },
  { q: 'avg without (instance) (rpc_duration_seconds{quantile="0.9"})' },

  // labels
  { q: 'label_replace(build_info, "major", "$1", "version", "([0-9]+)\\\\..*")' },

  // math
  { q: 'clamp_max(cache_hit_ratio, 0.5)' },

  // sort, absent, scalar/vector
  { q: 'absent(build_info{version="1.1.0", job="api"})' },

  // aggregations
  { q: 'sum(cache_hit_ratio)' },
  { q: 'min(cache_hit_ratio)' },
  { q: 'count by (version) (build_info)' },
  { q: 'topk(2, cache_hit_ratio)' },

  // binary operators
  { q: 'up * on(job, instance) group_left(version) build_info' },
  { q: 'rpc_duration_seconds / ignoring(quantile) group_left rpc_duration_seconds_count' },
  { q: 'cache_hit_ratio >= bool 0.5' },
  { q: 'up unless on(job, instance) build_info{version=~"1.0.*"}' },

  // subqueries
  { q: 'min_over_time(rate(rpc_duration_seconds_count[2m])[20m:1m] @ end())' },

  // edge cases
  { q: 'avg_over_time(memory_usage_bytes[4h])' },
];
