// The `query.results_cache` section: the range-query results cache in front of the engine
// (src/query/results-cache, docs/results-cache.md). On by default, in memory; Redis shares it
// between several promfront processes behind one load balancer.

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import { byteSize, duration, positiveDuration, secretString, target } from './fields.js';

export const resultsCacheSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Evaluation times newer than now minus this are never cached (replicas may still fill gaps there). */
    freshness: duration.default(parseDuration('10m')),
    /** Width of one cache entry's time bucket. */
    split_interval: positiveDuration.default(parseDuration('24h')),
    /** How long an entry is kept after it was last written. */
    ttl: positiveDuration.default(parseDuration('24h')),
    /** Bound of the in-process cache (ignored with redis). */
    max_size: byteSize.default(parseByteSize('256MiB')),
    /**
     * Largest entry (one query's extents in one split_interval bucket) that is stored: a dashboard
     * panel's answer is far smaller; an answer as large as a whole data set is not worth holding.
     */
    max_item_size: byteSize.default(parseByteSize('16MiB')),
    redis: z
      .strictObject({
        address: target,
        username: z.string().min(1).optional(),
        password: secretString.optional(),
        db: z.number().int().min(0).default(0),
        /** Bound on each cache call: past it the answer is evaluated instead. */
        timeout: positiveDuration.default(parseDuration('100ms')),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.freshness < 0) ctx.addIssue({ code: 'custom', path: ['freshness'], message: 'must not be negative' });
  });

export type ResultsCacheConfig = z.infer<typeof resultsCacheSchema>;
