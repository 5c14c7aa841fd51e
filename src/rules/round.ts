// One round of a rule group evaluated on the engine where the query layer lives (the query
// thread), as the query API would answer each rule's query at the round's time, but without the
// HTTP shape: no request per rule, no JSON, and the round's identical reads done once.
//
// Why: the rules of a group read the same selectors over and over (a dashboard's shapes per job:
// the 5xx ratio, the rate by code and the alert on it all read requests{job="x"}[1m]). Through the
// API each rule was a request of its own, and each read its selectors from every server group.
//
// Sharing rule: a call of one rule's query (select, series, label names or values, pushdown) with
// the same arguments as a call of an earlier or concurrent rule of the round gets that call's
// answer; a select's hints other than func "series" change no data (as shared-reads.ts says), so
// they do not separate calls. Only identical time ranges are shared: every rule of a round is
// evaluated at the same time, so a selector gives the same range in every rule, and the HA merge of
// a read stays over exactly the range the rule asked for (a cut of a wider merged read could differ
// where replicas have gaps). Warnings: a rule gets the warnings of every call it used, once each,
// whichever rule made it, so its health is what the query API would have given it. The round's
// reads are forgotten when the round ends.

import pLimit from 'p-limit';
import type { RuleAnswer, RuleRound } from '../capability.js';
import { queryApiError } from '../errors.js';
import { matchersKey } from '../model/matchers.js';
import type { Engine } from '../promql/engine.js';
import type { Storage } from '../storage/interface.js';
import { subscribeAbort } from '../util/abort.js';

/**
 * Rules of one round evaluated at once: they mostly wait on downstream reads (the engine itself is
 * one thread), and the fan-out bounds the requests per server group anyway (max_concurrency, 64
 * by default), so a round keeps about that many reads in flight.
 */
const ROUND_CONCURRENCY = 64;

export interface RoundDeps {
  engine: Engine;
  /** A fresh view of the fleet whose warnings collect in `warnings` (FanoutStorage.forQuery). */
  view: () => { storage: Storage; warnings: string[] };
  /** Each rule's deadline, as the query API's default timeout. */
  timeoutMs: number;
  concurrency?: number;
}

/** Evaluates the round's expressions at its time; answers in the order of `round.exprs`. */
export async function evaluateRound(round: RuleRound, deps: RoundDeps): Promise<RuleAnswer[]> {
  const reads = new RoundReads(deps.view);
  const limit = pLimit(deps.concurrency ?? ROUND_CONCURRENCY);
  try {
    return await Promise.all(round.exprs.map((expr) => limit(() => evaluateOne(expr, round.timeMs, reads, deps))));
  } finally {
    reads.close();
  }
}

async function evaluateOne(expr: string, timeMs: number, reads: RoundReads, deps: RoundDeps): Promise<RuleAnswer> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new DOMException('query timed out', 'TimeoutError'));
  }, deps.timeoutMs);
  try {
    const view = reads.forExpr(ctl.signal);
    const out = await deps.engine.execInstant(deps.engine.prepare(expr), view.storage, timeMs, ctl.signal, { timeoutMs: deps.timeoutMs });
    // The engine holds the thread while it evaluates (a timer cannot fire meanwhile): late is a timeout all the same.
    if (performance.now() - started > deps.timeoutMs) timedOut = true;
    if (timedOut) throw new DOMException('query timed out', 'TimeoutError');
    // Storage warnings first, then the engine's, as the query API lists them.
    const warnings = [...view.warnings, ...out.warnings];
    const r = out.result;
    if (r.resultType === 'scalar') return { vector: [{ labels: [], v: r.v }], warnings, seconds: seconds() };
    if (r.resultType !== 'vector') return { error: 'rule result is not a vector or scalar', seconds: seconds() };
    return { vector: r.result.map((s) => ({ labels: s.labels, v: s.v })), warnings, seconds: seconds() };
  } catch (e) {
    return { error: queryApiError(e, timedOut, ctl.signal.aborted).message, seconds: seconds() };
  } finally {
    clearTimeout(timer);
  }
}

interface Call {
  done: Promise<unknown>;
  /** The warnings of the view that made the call (complete once `done` settled). */
  warnings: string[];
}

/** The calls of one round, shared by its rules (see the sharing rule at the top). */
export class RoundReads {
  private readonly calls = new Map<string, Call>();
  /** The round's own signal: a shared call outlives the rule that started it, never the round. */
  private readonly ctl = new AbortController();
  /** Calls answered by an earlier or concurrent call of the round. */
  shared = 0;

  constructor(private readonly newView: () => { storage: Storage; warnings: string[] }) {}

  /** Stops what the round's calls still run (a rule that timed out may have left one). */
  close(): void {
    this.ctl.abort(new DOMException('rule round ended', 'AbortError'));
    this.calls.clear();
  }

  /** A storage for one rule: its calls go through the round's, their warnings collect in `warnings`. */
  forExpr(signal: AbortSignal): { storage: Storage; warnings: string[] } {
    const warnings: string[] = [];
    const used = new Set<Call>();
    const call = async <T>(key: string, run: (s: Storage, sig: AbortSignal) => Promise<T>): Promise<T> => {
      let c = this.calls.get(key);
      if (c === undefined) {
        const v = this.newView();
        c = { done: run(v.storage, this.ctl.signal), warnings: v.warnings };
        // A rejection nobody waits for any more must not become an unhandled one.
        c.done.catch(() => {});
        this.calls.set(key, c);
      } else this.shared++;
      const mine = c;
      const r = (await untilAborted(mine.done, signal)) as T;
      if (!used.has(mine)) {
        used.add(mine);
        warnings.push(...mine.warnings);
      }
      return r;
    };
    const storage: Storage = {
      // Callers may sort or filter the list they get: each gets its own copy of it.
      select: async (matchers, startMs, endMs, hints) =>
        (
          await call(`select\u0000${hints?.func === 'series' ? 's' : 'd'}\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, (s, sig) =>
            s.select(matchers, startMs, endMs, hints, sig),
          )
        ).slice(),
      labelNames: async (matchers, startMs, endMs) =>
        (await call(`names\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, (s, sig) => s.labelNames(matchers, startMs, endMs, sig))).slice(),
      labelValues: async (name, matchers, startMs, endMs) =>
        (
          await call(`values\u0000${name}\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, (s, sig) =>
            s.labelValues(name, matchers, startMs, endMs, sig),
          )
        ).slice(),
      series: async (matchers, startMs, endMs) =>
        (
          await call(`series\u0000${matchersKey(matchers)}\u0000${startMs}\u0000${endMs}`, (s, sig) =>
            s.series ? s.series(matchers, startMs, endMs, sig) : Promise.reject(new Error('the storage has no series call')),
          )
        ).slice(),
      pushdown: (req) =>
        call(
          `pushdown\u0000${req.query}\u0000${matchersKey(req.matchers)}\u0000${req.startMs}\u0000${req.endMs}\u0000${req.stepMs}\u0000${
            req.wholeQuerySelectors?.map(matchersKey).join('\u0001') ?? ''
          }\u0000${req.sizedLikeInput === true ? 1 : 0}`,
          (s, sig) => (s.pushdown ? s.pushdown(req, sig) : Promise.resolve(undefined)),
        ),
    };
    return { storage, warnings };
  }
}

/** `p`, or the signal's reason as soon as it aborts: a rule past its deadline stops waiting for a shared call. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const unsubscribe = subscribeAbort(signal, () => reject(signal.reason));
    p.then(
      (v) => {
        unsubscribe();
        resolve(v);
      },
      (err: unknown) => {
        unsubscribe();
        reject(err);
      },
    );
  });
}
