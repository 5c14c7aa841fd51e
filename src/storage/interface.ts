// The storage interface the PromQL engine reads from: what a select returns, the optional calls a
// storage may answer (series, metadata, pushdown), and the one error a storage raises on purpose.

import { type LabelMatcher, type Labels } from '../model/labels.js';

export interface SelectHints {
  startMs: number;
  endMs: number;
  stepMs?: number;
  func?: string;
  rangeMs?: number;
}

export interface Series {
  labels: Labels;
  /** Sample timestamps in ms, strictly increasing. May be a view on storage memory: do not mutate. */
  timestamps: Float64Array;
  values: Float64Array;
  /**
   * Staleness markers are NOT NaN bit patterns: stale[i] is 1 where sample i is a staleness marker
   * (its value is then meaningless, NaN by convention). Absent when the series has none in range.
   */
  stale?: Uint8Array;
}

export interface Storage {
  /** Series matching all matchers with their samples in startMs <= t <= endMs; series sorted by labels (compareLabels). */
  select(matchers: LabelMatcher[], startMs: number, endMs: number, hints?: SelectHints, signal?: AbortSignal): Promise<Series[]>;
  /** Sorted label names of the series matching the matchers (all series when none) with samples in range. */
  labelNames(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]>;
  /** Sorted, non-empty values of label `name` over the matching series with samples in range. */
  labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<string[]>;
  /**
   * Label sets of the series matching all matchers in [startMs, endMs], sorted (compareLabels),
   * without reading samples. Optional: without it, callers take the labels of select's series
   * (seriesOf does that).
   */
  series?(matchers: LabelMatcher[], startMs: number, endMs: number, signal?: AbortSignal): Promise<Labels[]>;
  /**
   * Metric metadata as Prometheus's /api/v1/metadata gives it: per metric name, its distinct
   * entries. `metric` restricts to one name; `limitPerMetric` > 0 caps the entries per name.
   * Optional: a storage without it has no metadata.
   */
  metadata?(metric: string | undefined, limitPerMetric: number, signal?: AbortSignal): Promise<MetricMetadataMap>;
  /**
   * Evaluates a per-series PromQL expression downstream (see src/query/pushdown.ts for when the
   * engine asks). Resolves undefined when this storage cannot answer it exactly; the engine then
   * evaluates the expression itself on raw data.
   */
  pushdown?(req: PushdownRequest, signal?: AbortSignal): Promise<PushdownResult | undefined>;
  /**
   * Evaluates an aggregation as per-server-group partial aggregates combined (src/query/partials,
   * docs/parallel.md). Resolves undefined when this storage cannot answer it exactly; the engine
   * then evaluates it itself on raw data.
   */
  aggregate?(req: AggregateRequest, signal?: AbortSignal): Promise<AggregateResult | undefined>;
}

/** An aggregation to evaluate at the steps startMs, startMs+stepMs, ... <= endMs (stepMs 0: one instant). */
export interface AggregateRequest {
  /** The aggregation as PromQL text. */
  query: string;
  startMs: number;
  endMs: number;
  stepMs: number;
  /** What is left of the query's time budget. */
  timeoutMs: number;
  /** The engine counts the samples it reads (`stats`): a server's own evaluation would hide them. */
  countSamples?: boolean;
}

export interface AggregateResult extends PushdownResult {
  /** Raw series and samples read to compute it (for the request's stats). */
  readSeries: number;
  readSamples: number;
  /** Names of the server groups asked. */
  groups: string[];
}

/** A sub-expression to evaluate downstream at the steps startMs, startMs+stepMs, ... <= endMs (stepMs 0: one instant). */
export interface PushdownRequest {
  /** The expression as PromQL text. */
  query: string;
  /** The matchers of its one selector: groups are pruned on them as for select. */
  matchers: LabelMatcher[];
  startMs: number;
  endMs: number;
  stepMs: number;
  /**
   * The whole query, not one per-series call: answerable only where one server holds every series
   * any of its selectors (these matcher lists) can reach. `matchers` is then the first selector's.
   */
  wholeQuerySelectors?: LabelMatcher[][];
  /**
   * A whole query with no aggregation, range-vector function or subquery: its answer has about one
   * point per raw sample it reads, so a range query gains nothing by being answered as JSON points
   * where raw samples come as compact binary.
   */
  sizedLikeInput?: boolean;
  /**
   * A whole query whose caller writes the answer as Prometheus's JSON: the storage may answer with
   * the downstream's `data` bytes instead of series (PushdownResult.verbatim) where they are what
   * the engine would write. 'sorted': only when its series are in label order (the engine sorts
   * them); 'any': in the downstream's order (sort(), topk() and the like).
   */
  verbatim?: 'sorted' | 'any';
}

export interface PushdownResult {
  /** One entry per result series: its points at (a subset of) the requested steps. */
  series: { labels: Labels; timestamps: Float64Array; values: Float64Array }[];
  /** The downstream's own annotations (Prometheus's `warnings` and `infos`), when it sent any. */
  warnings?: string[];
  infos?: string[];
  /**
   * Set only when the request asked for it: the answer's `data` member as the downstream wrote it,
   * byte for byte what the engine would write for these series (`series` is then empty), with how
   * many series and points it holds.
   */
  verbatim?: VerbatimData;
}

export interface VerbatimData {
  data: Uint8Array;
  series: number;
  points: number;
}

/** One metadata entry of a metric (Prometheus's metadata.Metadata, as its API writes it). */
export interface MetricMetadata {
  type: string;
  help: string;
  unit: string;
}

/** Metric name -> distinct metadata entries, in the order they were found. */
export type MetricMetadataMap = Map<string, MetricMetadata[]>;
