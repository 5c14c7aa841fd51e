// Time bounds of the Prometheus HTTP API, in ms since the epoch.

/**
 * Prometheus's API defaults for an open start / end (api.go MinTime / MaxTime) in ms: the widest
 * range a request can ask for.
 */
export const MIN_TIME_MS = -9223309901257974 * 1000;
export const MAX_TIME_MS = 9223309901257974 * 1000 + 999;
