// The seam for sources whose scrapes arrive by message rather than by an HTTP scrape of ours (the
// `nats` entry of shard.sources, implemented in src/stream, which sits above this layer): the shard
// service asks each one at every cycle for what it serves now, already parsed and split by shard.

import type { Logger } from 'pino';
import type { NatsSourceConfig } from '../config/stream.js';
import type { ShardBody, ShardSet } from './build.js';
import type { SourceData } from './ingest.js';

export interface PushedSource {
  /** Connects and begins receiving; resolves without waiting for the first message. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What to serve from now on: one entry per target, split for the service's num_shards; read at each cycle. */
  collect(nowMs: number): SourceData[];
  /**
   * Grows whenever what collect() returns changes (a scrape applied, a target expired, which
   * collect() itself decides): the service rebuilds the shard bodies only when it moved.
   */
  readonly version: number;
  /** Whether it is connected and receiving (the source's `up` in /status and /metrics). */
  readonly up: boolean;
  readonly lastError: string | undefined;
  /** Its own families for /metrics; several pushed sources' samples are merged by family name. */
  metrics(): PushedMetricFamily[];
  /** Its own part of the source's /status entry. */
  status(): unknown;
  /**
   * Offered by a source that keeps the shard bodies of its own series up to date (NatsSource): when
   * it is the service's only source, it calls `publish` with every new set as soon as something
   * changed, rather than the service rebuilding everything at its next cycle.
   */
  serveShards?(publish: (set: ShardSet) => void, opts: { gzipLevel: number }): void;
}

/**
 * A shard body made on first request (a served set that changes several times a second is mostly
 * never asked for): the size of its gzip form, once made; undefined until then.
 */
export function madeGzipBytes(body: ShardBody, om: boolean): number | undefined {
  const lazy = body as Partial<{ gzipBytesIfMade(om: boolean): number | undefined }>;
  if (typeof lazy.gzipBytesIfMade === 'function') return lazy.gzipBytesIfMade(om);
  return om ? body.omGzip.length : body.textGzip.length;
}

export interface PushedMetricFamily {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: [Record<string, string>, number][];
}

/** Builds a pushed source for a config entry; given to the shard service by the server layer. */
export type PushedSourceFactory = (config: NatsSourceConfig, ctx: { numShards: number; log: Logger }) => PushedSource;

/**
 * The pushed sources' versions at the last build. A cycle of a service whose sources are all pushed
 * builds only when one of them moved: each build re-assembles and gzips every shard body, which for
 * hundreds of targets costs far more than applying the scrapes that arrived in between.
 */
export class PushedChanges {
  private built: (number | undefined)[] | undefined;

  /** The versions now; read after collect(), which may move them. */
  read(pushed: readonly (PushedSource | undefined)[]): (number | undefined)[] {
    return pushed.map((p) => p?.version);
  }

  /** Whether anything changed since the last build (true before the first one). */
  changed(versions: readonly (number | undefined)[]): boolean {
    const b = this.built;
    return b === undefined || b.length !== versions.length || versions.some((v, i) => v !== b[i]);
  }

  /** Records a finished build of `versions`. */
  done(versions: (number | undefined)[]): void {
    this.built = versions;
  }
}
