// The storage interface the PromQL engine reads from, and helpers on label sets.

import { goQuote } from '../../util/go-quote.js';
import { METRIC_NAME, type Label, type LabelMatcher, type Labels } from '../model.js';

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
  select(
    matchers: LabelMatcher[],
    startMs: number,
    endMs: number,
    hints?: SelectHints,
    signal?: AbortSignal,
  ): Promise<Series[]>;
  /** Sorted label names of the series matching the matchers (all series when none) with samples in range. */
  labelNames(matchers: LabelMatcher[], startMs: number, endMs: number): Promise<string[]>;
  /** Sorted, non-empty values of label `name` over the matching series with samples in range. */
  labelValues(name: string, matchers: LabelMatcher[], startMs: number, endMs: number): Promise<string[]>;
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
}

export interface PushdownResult {
  /** One entry per result series: its points at (a subset of) the requested steps. */
  series: { labels: Labels; timestamps: Float64Array; values: Float64Array }[];
  /** The downstream's own annotations (Prometheus's `warnings` and `infos`), when it sent any. */
  warnings?: string[];
  infos?: string[];
}

/** One metadata entry of a metric (Prometheus's metadata.Metadata, as its API writes it). */
export interface MetricMetadata {
  type: string;
  help: string;
  unit: string;
}

/** Metric name -> distinct metadata entries, in the order they were found. */
export type MetricMetadataMap = Map<string, MetricMetadata[]>;

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

/**
 * Go's string order (byte-wise on UTF-8, i.e. code point order). JavaScript's `<` compares UTF-16
 * code units, which differs only between surrogate pairs (U+10000 and up) and U+E000..U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** Prometheus's labels.Compare: pairwise by name then value; a set that is a prefix of the other comes first. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x.name !== y.name) return compareStrings(x.name, y.name);
    if (x.value !== y.value) return compareStrings(x.value, y.value);
  }
  return a.length - b.length;
}

/**
 * A collision-free key of a label set: each name and value prefixed by its length, so no character
 * a value may hold (every one may) can make two different sets meet.
 */
export function labelsKey(l: Labels): string {
  let k = '';
  for (const x of l) k += `${x.name.length}:${x.name}${x.value.length}:${x.value}`;
  return k;
}

/** A label set from a record: sorted by name, empty values dropped (as Prometheus does). */
export function labelsFromRecord(r: Record<string, string>): Labels {
  const out: Label[] = [];
  for (const name of Object.keys(r)) {
    const value = r[name];
    if (value !== '' && value !== undefined) out.push({ name, value });
  }
  out.sort((x, y) => compareStrings(x.name, y.name));
  return out;
}

/** Sorts a label list by name and drops empty values; returns the input itself when already in shape. */
export function normalizeLabels(l: ReadonlyArray<Label>): Labels {
  let ok = true;
  for (let i = 0; i < l.length; i++) {
    if (l[i].value === '' || (i > 0 && compareStrings(l[i - 1].name, l[i].name) >= 0)) {
      ok = false;
      break;
    }
  }
  if (ok) return l;
  const out = l.filter((x) => x.value !== '').sort((x, y) => compareStrings(x.name, y.name));
  // Duplicate names: keep the last one given.
  const dedup: Label[] = [];
  for (const x of out) {
    if (dedup.length > 0 && dedup[dedup.length - 1].name === x.name) dedup[dedup.length - 1] = x;
    else dedup.push(x);
  }
  return dedup;
}

export function labelsToRecord(l: Labels): Record<string, string> {
  const r: Record<string, string> = {};
  for (const x of l) r[x.name] = x.value;
  return r;
}

const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The form Prometheus prints a series in (model.Metric's String): `name{a="b", c="d"}`, `name` alone
 * without other labels, `{a="b"}` without a name, `{}` for the empty set. Label names that are not
 * legacy identifiers are quoted, and so is such a metric name, inside the braces, as Prometheus 3 does:
 * `{"my.metric", a="b"}`.
 */
export function labelsToString(l: Labels): string {
  let name: string | undefined;
  const parts: string[] = [];
  for (const x of l) {
    if (x.name === METRIC_NAME) {
      name = x.value;
      continue;
    }
    const n = LEGACY_LABEL_NAME.test(x.name) ? x.name : goQuote(x.name);
    parts.push(`${n}=${goQuote(x.value)}`);
  }
  if (name !== undefined && !LEGACY_METRIC_NAME.test(name)) {
    return `{${[goQuote(name), ...parts].join(', ')}}`;
  }
  if (parts.length === 0) return name ?? '{}';
  return `${name ?? ''}{${parts.join(', ')}}`;
}

/** Prometheus's labels.Labels String(): `{__name__="up", job="x"}`, every label including __name__. */
export function labelsToSetString(l: Labels): string {
  return `{${l.map((x) => `${LEGACY_LABEL_NAME.test(x.name) ? x.name : goQuote(x.name)}=${goQuote(x.value)}`).join(', ')}}`;
}

export { goQuote };

/**
 * A storage that could not answer (a downstream server group down or timing out). The engine passes
 * it through untouched, and the API answers it as Prometheus's "unavailable" (HTTP 503).
 */
export class StorageUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageUnavailableError';
  }
}
