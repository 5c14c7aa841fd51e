// What a downstream server says it is, for the default (unset `pushdown`) whole-query pushdown: a
// group of one server may answer a whole query itself only when its answer is the one our engine
// would give, which needs the server to be Prometheus of the major version `query.semantics` names
// and to use our lookback delta and sample limit (docs/pushdown.md, "Whole queries"). Read from its
// /api/v1/status/buildinfo and /api/v1/status/flags, kept for a while and refreshed in the
// background, because a server can be upgraded or restarted with other flags behind one address.

import { parseDuration } from '../../util/duration.js';

export interface ServerIdentity {
  /** Prometheus's version as reported, e.g. "2.42.0". */
  version: string;
  major: number;
  /** Its `--query.lookback-delta`. */
  lookbackDeltaMs: number;
  /** Its `--query.max-samples`: a pushed query must be refused exactly where ours would be. */
  maxSamples: number;
}

/**
 * A Prometheus build-info answer's version major, or undefined for anything that is not plainly
 * Prometheus: Mimir and Thanos say `application` or report their own versions, VictoriaMetrics
 * reports a Prometheus-like version without the revision, date and Go version Prometheus fills in,
 * and promfront reports its own version with a Node.js runtime.
 */
export function prometheusMajor(data: unknown): { version: string; major: number } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (d.application !== undefined) return undefined;
  const str = (k: string): string => {
    const v = d[k];
    return typeof v === 'string' ? v : '';
  };
  const version = str('version');
  const m = /^(\d+)\.\d+\.\d+(?:[-+].*)?$/.exec(version);
  if (m === null) return undefined;
  if (str('revision') === '' || str('buildDate') === '' || !str('goVersion').startsWith('go')) return undefined;
  return { version, major: Number(m[1]) };
}

/**
 * `query.lookback-delta` and `query.max-samples` of a /api/v1/status/flags answer, or undefined when
 * either is absent or unreadable.
 */
export function queryFlags(data: unknown): { lookbackDeltaMs: number; maxSamples: number } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const lookback = d['query.lookback-delta'];
  const max = d['query.max-samples'];
  if (typeof lookback !== 'string' || typeof max !== 'string' || !/^\d+$/.test(max)) return undefined;
  try {
    return { lookbackDeltaMs: parseDuration(lookback), maxSamples: Number(max) };
  } catch {
    return undefined;
  }
}

/**
 * The identity of one server, asked once and then refreshed in the background every `refreshMs`.
 * A failed or unrecognised answer is remembered as undefined (not Prometheus as far as we know)
 * for the same time, so a server that is not Prometheus costs two requests per refresh, not per query.
 */
export class IdentityCache {
  private known: { identity: ServerIdentity | undefined; atMs: number } | undefined;
  private pending: Promise<ServerIdentity | undefined> | undefined;

  constructor(
    private readonly ask: () => Promise<ServerIdentity | undefined>,
    private readonly refreshMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Not cancellable by one query: the answer serves every query after it (the target's timeout bounds it). */
  get(): Promise<ServerIdentity | undefined> {
    if (this.known !== undefined) {
      if (this.now() - this.known.atMs >= this.refreshMs) void this.refresh();
      return Promise.resolve(this.known.identity);
    }
    return this.refresh();
  }

  private refresh(): Promise<ServerIdentity | undefined> {
    this.pending ??= this.ask()
      .catch(() => undefined)
      .then((identity) => {
        this.known = { identity, atMs: this.now() };
        this.pending = undefined;
        return identity;
      });
    return this.pending;
  }
}
