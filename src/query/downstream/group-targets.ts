// How a server group's config becomes clients for its targets: the one place that decides the
// transport (remote read, the JSON API, or remote read falling back to it), the URL and the limits.
// The query layer builds its targets with it, and so does each worker of the partial-aggregation
// pool (src/query/partials), which must read a group exactly as the query thread would.

import type { QueryConfig, ServerGroupConfig } from '../../config/schema.js';
import { DownstreamClient } from '../../client/http-client.js';
import { JsonApiTarget, targetName } from './json-api-client.js';
import { RemoteReadTarget } from './remote-read-client.js';
import type { DownstreamObserver } from './metrics.js';
import type { ClosableStorage } from '../discovery/target-pool.js';

export interface GroupTargets {
  /** The client reading raw samples (and evaluating pushed PromQL) from the target at `address`. */
  create: (address: string) => ClosableStorage;
  /** A JSON API client for the target (rules, alerts and other API fan-outs). */
  jsonApi: (address: string) => JsonApiTarget;
  /** The target's name in warnings, errors and metrics: its URL without credentials. */
  nameOf: (address: string) => string;
}

/**
 * A group's own deadline: its `timeout`, else the query timeout; an ignore_error group without one
 * gets half the query timeout, so that when it hangs it becomes a warning with half the query's
 * time still left for the rest, instead of taking the query down with it at the same moment.
 */
export function groupTimeoutMs(g: ServerGroupConfig, q: QueryConfig): number {
  if (g.timeout !== undefined) return g.timeout;
  return g.ignore_error ? Math.max(1, Math.floor(q.timeout / 2)) : q.timeout;
}

/** The group's connection settings as a client; throws HttpClientFilesError when its files cannot be used. */
export function groupClient(g: ServerGroupConfig, q: QueryConfig): DownstreamClient {
  return new DownstreamClient(g.http_client, { requestTimeoutMs: groupTimeoutMs(g, q) });
}

export function groupTargets(
  q: QueryConfig,
  g: ServerGroupConfig,
  name: string,
  client: DownstreamClient | undefined,
  observer: DownstreamObserver | undefined,
): GroupTargets {
  const timeoutMs = groupTimeoutMs(g, q);
  const url = (address: string): string => `${g.scheme}://${address}${g.path_prefix}`;
  const targetOpts = (address: string) => ({
    url: url(address),
    timeoutMs,
    headers: g.http_headers,
    queryParams: g.query_params,
    client,
    group: name,
    observer,
    nanIsStale: g.stale_nan,
    maxResponseBytes: g.max_body_size,
    keepExternalLabels: g.keep_external_labels ?? q.keep_external_labels,
  });
  return {
    create: (address) => {
      const opts = targetOpts(address);
      if (g.remote_read === false) return new JsonApiTarget(opts);
      return new RemoteReadTarget({
        ...opts,
        remoteReadPath: g.remote_read_path,
        fallbackToJson: g.remote_read === undefined,
      });
    },
    jsonApi: (address) => new JsonApiTarget(targetOpts(address)),
    nameOf: (address) => targetName(url(address)),
  };
}
