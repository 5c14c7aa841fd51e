// The deadline of one API request on the endpoints that take no `timeout` parameter (/series,
// /labels, /label/../values, /metadata, /federate, remote read). Prometheus runs them under the
// request's context only; here the query timeout bounds them too, so a request with thousands of
// match[] or a hung server group cannot hold its client, its downstream calls and our event loop
// past that time. The cap on match[] lives here as well: it is the other half of keeping these
// requests bounded.

import { subscribeAbort } from '../../util/abort.js';
import { ApiError, DeadlineExceededError } from '../../errors.js';

/**
 * Runs `fn` with a signal that aborts after `timeoutMs` (with DeadlineExceededError) or when the
 * client goes away (with its reason), and settles at that moment even when `fn` ignores its
 * signal: a storage that does not listen cannot hold the answer. No deadline when timeoutMs is
 * undefined or not positive.
 */
export function runWithDeadline<T>(client: AbortSignal, timeoutMs: number | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  if (client.aborted) return Promise.reject(client.reason);
  const timer = timeoutMs !== undefined && timeoutMs > 0 ? setTimeout(() => ctl.abort(new DeadlineExceededError()), timeoutMs) : undefined;
  const unsubClient = subscribeAbort(client, () => ctl.abort(client.reason));
  return new Promise<T>((resolve, reject) => {
    const unsub = subscribeAbort(ctl.signal, () => reject(ctl.signal.reason));
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      unsub();
      unsubClient();
    };
    let p: Promise<T>;
    try {
      p = fn(ctl.signal);
    } catch (e) {
      done();
      reject(e);
      return;
    }
    p.then(
      (v) => {
        done();
        resolve(v);
      },
      (e) => {
        done();
        reject(ctl.signal.aborted ? ctl.signal.reason : e);
      },
    );
  });
}

/**
 * The refusal of a request with more match[] selectors than `query.max_match_selectors` allows,
 * or undefined when within the limit (0: no limit).
 */
export function tooManyMatchers(count: number, limit: number | undefined): ApiError | undefined {
  if (limit === undefined || limit <= 0 || count <= limit) return undefined;
  return new ApiError('bad_data', `too many match[] selectors: ${count} given, at most ${limit} allowed (query.max_match_selectors)`);
}
