// Messages between the query thread's partial-aggregation pool (pool.ts) and its workers (worker.ts).

import type { QueryConfig } from '../../config/schema.js';
import type { Labels } from '../../model/labels.js';
import type { DiscoveredTarget } from '../discovery/target.js';
import type { DownstreamObservation } from '../downstream/metrics.js';

export interface WorkerInit {
  /** The query section the layer was built from (fleet groups expanded): groups by index. */
  query: QueryConfig;
}

/** One group's partial aggregates of one aggregation. */
export interface PartialTask {
  id: number;
  /** Index of the group in query.server_groups. */
  group: number;
  /** The group's targets now (the query thread runs service discovery), group-label names removed. */
  targets: DiscoveredTarget[];
  /** PromQL aggregations to evaluate over the group's data (plan.ts). */
  partials: string[];
  startMs: number;
  endMs: number;
  /** 0: one instant. */
  stepMs: number;
  timeoutMs: number;
}

export interface WireSeries {
  labels: Labels;
  timestamps: Float64Array;
  values: Float64Array;
}

export interface PartialAnswer {
  /** Per partial, its series (points at the steps). */
  partials: WireSeries[][];
  /**
   * One hash per raw series read, of its labels without the metric name (after the HA merge and
   * group labels): the pool compares them between groups to find a series held by two.
   */
  seriesHashes: Float64Array;
  readSeries: number;
  readSamples: number;
  /** The group's fan-out warnings (a replica failing), as the storage view reports them. */
  storageWarnings: string[];
  /** PromQL annotations of the evaluation. */
  warnings: string[];
  infos: string[];
}

/** An error of a worker's evaluation, as far as the query thread can rebuild it. */
export interface WireError {
  name: string;
  message: string;
  /** PromQLError's type. */
  errorType?: string;
  /** GroupError's group and target, when its cause was not a downstream's own refusal. */
  group?: string;
  target?: string;
}

export type ToWorker = ({ t: 'task' } & PartialTask) | { t: 'abort'; id: number };

export type FromWorker =
  | { t: 'done'; id: number; answer: PartialAnswer; observations: DownstreamObservation[]; hedged: [string, string][] }
  | { t: 'failed'; id: number; error: WireError; observations: DownstreamObservation[]; hedged: [string, string][] };
