// Abort subscriptions that stay cheap however many calls share one request's signal. A query fans
// out to every target of every group, and a /series request with thousands of match[] makes
// thousands of calls on one signal: with one addEventListener each, every add and remove walks the
// signal's listener list (O(n) each, O(n²) a request) and Node warns past ten listeners. Here a
// signal gets one real listener, and subscribers live in a Set (O(1) to add and remove).

type Subscribers = Set<() => void>;

const bySignal = new WeakMap<AbortSignal, Subscribers>();

/**
 * Calls `onAbort` once when `signal` aborts (not at all if it already has: check `aborted` first).
 * Returns the unsubscribe function; call it when the work is done.
 */
export function subscribeAbort(signal: AbortSignal, onAbort: () => void): () => void {
  let subs = bySignal.get(signal);
  if (subs === undefined) {
    const created: Subscribers = new Set();
    subs = created;
    bySignal.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        bySignal.delete(signal);
        for (const f of created) f();
        created.clear();
      },
      { once: true },
    );
  }
  const mine = subs;
  mine.add(onAbort);
  return () => {
    mine.delete(onAbort);
  };
}

/** A signal ended by a timer or by the caller's signal; `end` when the work is done. */
export interface TimedSignal {
  readonly signal: AbortSignal;
  /** Whether it was the timer that ended it. */
  readonly timedOut: () => boolean;
  /** Stops the timer and drops the subscription to the caller's signal. */
  readonly end: () => void;
}

/**
 * One controller per downstream call, aborted after `timeoutMs` (with a TimeoutError carrying
 * `message`) or when `outer` aborts (with its reason, through subscribeAbort's one listener).
 * AbortSignal.timeout with AbortSignal.any would cost a signal with weak references per call and a
 * listener on the caller's signal per call. Like subscribeAbort, an `outer` already aborted is not
 * seen: check it first.
 */
export function timedSignal(outer: AbortSignal | undefined, timeoutMs: number, message: string): TimedSignal {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new DOMException(message, 'TimeoutError'));
  }, timeoutMs);
  const unsubscribe = outer === undefined ? undefined : subscribeAbort(outer, () => ctl.abort(outer.reason));
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    end: () => {
      clearTimeout(timer);
      unsubscribe?.();
    },
  };
}
