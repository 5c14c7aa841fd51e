// The data model shared by the PromQL engine, the storage interface and (later) the query layer.

/** A label set: sorted by name, no duplicate names, no empty values; __name__ included when present. */
export type Labels = ReadonlyArray<Label>;

export interface Label {
  readonly name: string;
  readonly value: string;
}

export type MatchType = '=' | '!=' | '=~' | '!~';

/** A label matcher as written in a selector; regex matchers are fully anchored (RE2 semantics). */
export interface LabelMatcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
}

export const METRIC_NAME = '__name__';

/**
 * Prometheus's API defaults for an open start / end (api.go MinTime / MaxTime) in ms: the widest
 * range a request can ask for.
 */
export const MIN_TIME_MS = -9223309901257974 * 1000;
export const MAX_TIME_MS = 9223309901257974 * 1000 + 999;
