// Identical downstream reads of different queries running at the same time share one call.
//
// Why: a dashboard sends its panels at once, and their queries select the same series over the same
// range (`sum by (job) (rate(x[5m]))`, `sum(rate(x[5m]))`, `topk(5, rate(x[5m]))` read x[5m]
// alike). Through the results cache each panel evaluates only its newest minutes, so the panels'
// reads line up exactly and a refresh would fetch and decode the same samples once per panel.
// Within one query forQuery() already shares identical calls; this extends it across the queries
// in flight, never beyond: a call that has finished is not reused, so no query sees data older
// than its own start by more than the overlap with a call already running (the same trade-off as
// coalescing identical queries in the results cache, and as Thanos's and Mimir's frontends make).
//
// Timeline: query A starts reading x[5m] over [t0, t1] at 12:00:00.000; query B asks the same at
// 12:00:00.040 and waits for A's call; both get its series and its warnings; the call's entry is
// gone when it settles, so query C at 12:00:00.300 reads afresh.
//
// Cancellation: the shared call runs on its own signal, aborted only when every query waiting for
// it has gone (its client left or its deadline passed), so one panel's timeout never fails another.
// A query that goes away stops waiting at once.

import { subscribeAbort } from '../util/abort.js';

interface Flight<T> {
  done: Promise<T>;
  controller: AbortController;
  waiting: number;
}

export class SharedCalls {
  private readonly flights = new Map<string, Flight<unknown>>();
  /** Calls that joined one already running. */
  joined = 0;

  /**
   * The result of `call` for `key`, shared with every caller asking the same key while it runs.
   * `call` gets the shared signal; `signal` is this caller's.
   */
  run<T>(key: string, signal: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.flights.get(key) as Flight<T> | undefined;
    if (flight === undefined) {
      const controller = new AbortController();
      const created: Flight<T> = { done: undefined as unknown as Promise<T>, controller, waiting: 0 };
      created.done = call(controller.signal).finally(() => {
        if (this.flights.get(key) === created) this.flights.delete(key);
      });
      // A rejection nobody waits for any more must not become an unhandled one.
      created.done.catch(() => {});
      this.flights.set(key, created);
      flight = created;
    } else {
      this.joined++;
    }
    return this.wait(key, flight, signal);
  }

  private wait<T>(key: string, flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    flight.waiting++;
    if (signal === undefined) return flight.done;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = (): void => {
        if (settled) return;
        settled = true;
        unsubscribe();
        if (--flight.waiting === 0 && this.flights.get(key) === flight) {
          // Nobody wants it any more: stop it, and let a later caller start a new one.
          this.flights.delete(key);
          flight.controller.abort(signal.reason);
        }
      };
      const unsubscribe = subscribeAbort(signal, () => {
        leave();
        reject(signal.reason);
      });
      flight.done.then(
        (v) => {
          if (settled) return;
          settled = true;
          unsubscribe();
          flight.waiting--;
          resolve(v);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          unsubscribe();
          flight.waiting--;
          reject(err);
        },
      );
    });
  }
}
