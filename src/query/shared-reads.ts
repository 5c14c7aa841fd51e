// Reads of one downstream target by queries running at the same time share one request when one
// read's time range contains another's.
//
// Why: a dashboard sends its panels at once, and their queries select the same series over the same
// or nested ranges (`sum by (job) (rate(x[5m]))`, `count(x)` and `max(rate(x[1m]))` all read x over
// the last minutes). Through the results cache each panel evaluates only its newest minutes, so the
// panels' reads line up and a refresh would fetch and decode the same samples once per panel.
//
// The rule: a read of target T with downstream matchers M over [start, end] joins a read of T with
// the same M (in any order) still running over [s, e] with s <= start and end <= e, and answers
// that read's series cut to [start, end] (series left without samples dropped), which is what its
// own request would have returned. Hints are sent downstream but change no data except
// func "series" (labels only, no samples), so that alone separates reads. The sharing is per
// target, before the HA merge: every query merges its replicas over its own range, so an answer
// does not depend on which other queries ran. A read that has finished is never reused: no query
// sees data older than its own start, except by its overlap with a read already running (the
// trade-off of coalescing identical queries in the results cache and in Thanos's and Mimir's
// frontends).
//
// Timeline: query A reads x over [11:45, 12:00] at 12:00:00.000; query B asks x over [11:49,
// 12:00] at 12:00:00.040 and waits for A's read; both get their ranges from it; the read is
// forgotten when it settles, so query C at 12:00:00.300 reads afresh.
//
// Cancellation: the shared request runs on its own signal, aborted only when every query waiting
// for it has gone (client left, deadline passed, hedged out), so one panel's timeout never fails
// another; a query that goes away stops waiting at once. Warnings the downstream carried (a lower
// promfront's) reach every query that used the read.

import { subscribeAbort } from '../util/abort.js';
import { lowerBound, upperBound } from '../util/sorted.js';
import type { LabelMatcher } from '../model/labels.js';
import { matchersKey } from '../model/matchers.js';
import type { SelectHints, Series, Storage } from '../storage/interface.js';
import { collectDownstreamWarnings, reportDownstreamWarnings } from './downstream/warnings.js';

interface Flight {
  startMs: number;
  endMs: number;
  done: Promise<{ series: Series[]; warnings: string[] }>;
  controller: AbortController;
  waiting: number;
}

export class SharedReads {
  private readonly byTarget = new WeakMap<Storage, Map<string, Flight[]>>();
  /** Reads answered by another read already running. */
  joined = 0;

  select(target: Storage, matchers: LabelMatcher[], startMs: number, endMs: number, hints: SelectHints | undefined, signal: AbortSignal): Promise<Series[]> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let perKey = this.byTarget.get(target);
    if (perKey === undefined) this.byTarget.set(target, (perKey = new Map<string, Flight[]>()));
    const key = `${hints?.func === 'series' ? 's' : 'd'}\u0000${matchersKey(matchers)}`;
    const running = perKey.get(key)?.find((f) => f.startMs <= startMs && endMs <= f.endMs);
    if (running !== undefined) {
      this.joined++;
      return this.wait(perKey, key, running, startMs, endMs, signal);
    }
    const controller = new AbortController();
    const flight: Flight = { startMs, endMs, done: undefined as unknown as Flight['done'], controller, waiting: 0 };
    const own: string[] = [];
    flight.done = collectDownstreamWarnings(own, () => target.select(matchers, startMs, endMs, hints, controller.signal))
      .then((series) => ({ series, warnings: own }))
      .finally(() => forget(perKey, key, flight));
    // A rejection nobody waits for any more must not become an unhandled one.
    flight.done.catch(() => {});
    perKey.set(key, [...(perKey.get(key) ?? []), flight]);
    return this.wait(perKey, key, flight, startMs, endMs, signal);
  }

  private wait(perKey: Map<string, Flight[]>, key: string, flight: Flight, startMs: number, endMs: number, signal: AbortSignal): Promise<Series[]> {
    flight.waiting++;
    return new Promise<Series[]>((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        unsubscribe();
        flight.waiting--;
        return true;
      };
      const unsubscribe = subscribeAbort(signal, () => {
        if (!finish()) return;
        reject(signal.reason);
        if (flight.waiting === 0) {
          // Nobody wants it any more: stop it, and let a later read start afresh.
          forget(perKey, key, flight);
          flight.controller.abort(signal.reason);
        }
      });
      flight.done.then(
        (r) => {
          if (!finish()) return;
          reportDownstreamWarnings(r.warnings);
          resolve(startMs === flight.startMs && endMs === flight.endMs ? r.series : cut(r.series, startMs, endMs));
        },
        (err: unknown) => {
          if (finish()) reject(err);
        },
      );
    });
  }
}

function forget(perKey: Map<string, Flight[]>, key: string, flight: Flight): void {
  const list = perKey.get(key);
  if (list === undefined) return;
  const rest = list.filter((f) => f !== flight);
  if (rest.length === 0) perKey.delete(key);
  else perKey.set(key, rest);
}

/** The series' samples within [startMs, endMs] (views, not copies); series left empty dropped. */
function cut(series: Series[], startMs: number, endMs: number): Series[] {
  const out: Series[] = [];
  for (const s of series) {
    const ts = s.timestamps;
    const lo = lowerBound(ts, startMs);
    const hi = upperBound(ts, endMs);
    if (lo >= hi) continue;
    if (lo === 0 && hi === ts.length) {
      out.push(s);
      continue;
    }
    const c: Series = { labels: s.labels, timestamps: ts.subarray(lo, hi), values: s.values.subarray(lo, hi) };
    if (s.stale !== undefined) {
      const st = s.stale.subarray(lo, hi);
      if (st.indexOf(1) >= 0) c.stale = st;
    }
    out.push(c);
  }
  return out;
}
