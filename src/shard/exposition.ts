// Shared vocabulary of the exposition formats: what the parser reports and the shard builder consumes.

export type ExpositionFormat = 'text' | 'openmetrics';

/** OpenMetrics types; text 0.0.4's "untyped" is reported as "unknown". */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown';

/** A family's metadata. The parser reuses a single object for every family: a handler must copy what it keeps. */
export interface FamilyMeta {
  /**
   * The family name exactly as declared (TYPE/HELP/UNIT line), or the sample name for an undeclared family.
   * A copy that points into no body piece: it may be kept as it is.
   */
  name: string;
  type: MetricType;
  /** Unescaped HELP text, undefined when there is no HELP line. */
  help: string | undefined;
  /** OpenMetrics UNIT, undefined when absent or empty. */
  unit: string | undefined;
}

/**
 * One sample line. The parser reuses a single object for every sample: a handler must copy what it keeps.
 */
export interface Sample {
  /** The sample's metric name, e.g. "foo_bucket". */
  name: string;
  /** Flat [name0, value0, name1, value1, ...], values unescaped, in input order. */
  labels: string[];
  value: number;
  /** The value exactly as written. */
  valueText: string;
  /**
   * Timestamp in integer milliseconds, or undefined. OpenMetrics seconds become Math.trunc(seconds * 1000),
   * the same float arithmetic Prometheus uses, so a proxied sample lands on the same millisecond.
   */
  timestampMs: number | undefined;
  /** The timestamp exactly as written (ms in text 0.0.4, seconds in OpenMetrics). */
  timestampText: string | undefined;
  /** OpenMetrics exemplar, the validated raw text after " # " (labels, value, optional timestamp), or undefined. */
  exemplar: string | undefined;
  /**
   * OpenMetrics: whether a label value of the series has a backslash (so the text is not the only
   * spelling of the series). Text 0.0.4: undefined, not tracked.
   */
  escaped: boolean | undefined;
  /**
   * The text being parsed when this sample was read: the whole body, or the piece of it pushed last. The
   * offsets below point into it; carried by the sample so a consumer needs no side channel to the parser.
   */
  text: string;
  /**
   * Where the sample stands in the parsed text: its line is text.slice(lineStart, lineEnd) (without the
   * newline), and the series part, name and label set exactly as written, ends at seriesEnd. Lets a
   * consumer pass the upstream's bytes through instead of re-serializing them.
   */
  lineStart: number;
  seriesEnd: number;
  lineEnd: number;
}

export interface ExpositionHandler {
  /** Called once per family, before its first sample. */
  family(meta: FamilyMeta): void;
  sample(sample: Sample): void;
}

// Kept for the parser's imports (src/shard/textparse/); the class lives in src/errors.ts.
export { ExpositionError } from '../errors.js';
