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
