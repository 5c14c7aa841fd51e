// Per-group partial aggregation in a pool of worker threads (docs/parallel.md).
//
// The query thread's engine asks its storage to `aggregate` each aggregation it meets. When the
// aggregation decomposes (plan.ts) and its selector reaches two groups or more, each reached group
// becomes one task: a worker fetches the group's replicas, decodes, HA-merges and evaluates the
// partial aggregation over that group alone, on its own core. The query thread then checks that no
// series was held by two groups (after a reshard a series can be in both, and the raw path would
// merge its samples before aggregating) and combines the partials (combine.ts). Whenever the answer
// could differ from the raw path's, it resolves undefined and the engine reads raw data as before;
// each decision is counted by outcome.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { QueryConfig } from '../../config/schema.js';
import type { DiscoveredTarget } from '../discovery/target.js';
import type { DownstreamObservation } from '../downstream/metrics.js';
import type { AggregateRequest, AggregateResult } from '../../storage/interface.js';
import { GroupError, PromQLError, type PromQLErrorType } from '../../errors.js';
import type { LabelMatcher } from '../../model/labels.js';
import { combinePartials, distinctNotes, stepCount } from './combine.js';
import { planQuery, type NotPlanned } from './plan.js';
import type { FromWorker, PartialAnswer, PartialTask, ToWorker, WireError, WorkerInit } from './protocol.js';

/** How an aggregation offered to the pool ended: `partials`, or why the raw path answered. */
export type PartialsOutcome = 'partials' | NotPlanned | 'one_group' | 'pushdown' | 'series_in_two_groups' | 'max_samples' | 'worker_error';

export const PARTIALS_OUTCOMES: readonly PartialsOutcome[] = [
  'partials',
  'operator',
  'operand',
  'one_group',
  'pushdown',
  'series_in_two_groups',
  'max_samples',
  'worker_error',
];

export interface PartialPoolOptions {
  /** Worker threads (at least 1). */
  size: number;
  /** The query section the layer was built from, fleet groups expanded. */
  query: QueryConfig;
  /** Group names in query.server_groups order. */
  groupNames: string[];
  /** Per group: `pushdown: true`, where the operator wants per-series calls evaluated downstream. */
  pushdown: boolean[];
  /** A group's targets now, group-label names removed (as the query thread's pools get them). */
  targetsOf: (group: number) => DiscoveredTarget[];
  /** Names of the groups a selector with these matchers reaches (FanoutStorage.groupsFor). */
  groupsFor: (matchers: LabelMatcher[]) => string[];
  /** Told of each downstream request a worker made, and each replica it left out by hedging. */
  observer?: { observe(o: DownstreamObservation): void };
  onHedged?: (group: string, target: string) => void;
  /** Told when a worker fails to start or dies (the raw path answers meanwhile). */
  onWorkerError?: (err: Error) => void;
}

interface Slot {
  worker: Worker | undefined;
  inflight: number;
}

interface Pending {
  resolve: (a: PartialAnswer) => void;
  reject: (e: unknown) => void;
  slot: Slot;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * The pool size `query.partial_workers` asks for: its value, else one worker per core on a host
 * with two or more. 0 when the worker's compiled file is absent (the sources run under a test
 * runner): the pool runs from the built program only.
 */
export function partialWorkers(configured: number | undefined): number {
  if (!existsSync(fileURLToPath(WORKER_URL))) return 0;
  if (configured !== undefined) return configured;
  const cores = availableParallelism();
  return cores >= 2 ? cores : 0;
}

/** A worker's failure that is not the evaluation's own error: the raw path answers instead. */
class WorkerFailure extends Error {}

export class PartialPool {
  readonly outcomes = new Map<PartialsOutcome, number>();
  private readonly slots: Slot[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: PartialPoolOptions) {
    this.slots = Array.from({ length: Math.max(1, opts.size) }, () => ({ worker: undefined, inflight: 0 }));
  }

  /** The aggregation from per-group partials, or undefined when the raw path must answer (see the top). */
  async aggregate(req: AggregateRequest, storageWarnings: string[], signal?: AbortSignal): Promise<AggregateResult | undefined> {
    const count = (o: PartialsOutcome): undefined => {
      this.outcomes.set(o, (this.outcomes.get(o) ?? 0) + 1);
      return undefined;
    };
    if (this.closed) return undefined;
    const plan = planQuery(req.query);
    if (typeof plan === 'string') return count(plan);
    const reached = new Set(this.opts.groupsFor(plan.matchers));
    const groups = this.opts.groupNames.flatMap((name, i) => (reached.has(name) ? [i] : []));
    if (groups.length < 2) return count('one_group');
    // The operator asked for per-series calls on the servers; workers read raw samples.
    if (groups.some((i) => this.opts.pushdown[i])) return count('pushdown');
    const settled = await Promise.allSettled(
      groups.map((group) =>
        this.run(
          {
            id: 0,
            group,
            targets: this.opts.targetsOf(group),
            partials: plan.partials,
            startMs: req.startMs,
            endMs: req.endMs,
            stepMs: req.stepMs,
            timeoutMs: req.timeoutMs,
          },
          signal,
        ),
      ),
    );
    signal?.throwIfAborted();
    const answers: PartialAnswer[] = [];
    for (const s of settled) {
      if (s.status === 'fulfilled') {
        answers.push(s.value);
        continue;
      }
      // The evaluation's own error is the query's (a timeout, a failed group): the raw path would
      // meet it again, a hung group's timeout included.
      if (!(s.reason instanceof WorkerFailure)) throw s.reason;
      return count('worker_error');
    }
    const seen = new Set<number>();
    for (const a of answers) {
      for (const h of a.seriesHashes) if (seen.has(h)) return count('series_in_two_groups');
      for (const h of a.seriesHashes) seen.add(h);
    }
    // The raw path evaluates the operand over all groups at once, and refuses it above max_samples:
    // where all groups together could reach that, it decides.
    const steps = stepCount(req);
    let samples = 0;
    let series = 0;
    for (const a of answers) {
      samples += a.readSamples;
      series += a.readSeries;
    }
    if (samples + series * steps > this.opts.query.max_samples) return count('max_samples');
    const combined = combinePartials(
      plan.combine,
      answers.map((a) => a.partials),
      req,
    );
    const { warnings, infos } = distinctNotes(answers);
    for (const a of answers) storageWarnings.push(...a.storageWarnings);
    count('partials');
    return {
      series: combined,
      warnings,
      infos,
      readSeries: series,
      readSamples: samples,
      groups: groups.map((i) => this.opts.groupNames[i]),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new WorkerFailure('the partial-aggregation pool was closed'));
    this.pending.clear();
    await Promise.all(this.slots.flatMap((s) => (s.worker ? [s.worker.terminate()] : [])));
  }

  /** Runs one task on the least busy worker; rejects with the caller's abort reason when it aborts. */
  private run(task: PartialTask, signal: AbortSignal | undefined): Promise<PartialAnswer> {
    const slot = this.slots.reduce((a, b) => (b.inflight < a.inflight ? b : a));
    let worker: Worker;
    try {
      worker = this.workerOf(slot);
    } catch (err) {
      this.opts.onWorkerError?.(err as Error);
      return Promise.reject(new WorkerFailure((err as Error).message));
    }
    const id = this.nextId++;
    slot.inflight++;
    return new Promise<PartialAnswer>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.pending.delete(id)) return;
        slot.inflight--;
        post(worker, { t: 'abort', id });
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        slot,
        resolve: (a) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(a);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      post(worker, { t: 'task', ...task, id });
    });
  }

  private workerOf(slot: Slot): Worker {
    if (slot.worker !== undefined) return slot.worker;
    const init: WorkerInit = { query: this.opts.query };
    const worker = new Worker(WORKER_URL, { workerData: init });
    // The pool must not keep the process alive on its own.
    worker.unref();
    slot.worker = worker;
    worker.on('message', (m: FromWorker) => this.answer(m));
    const gone = (err: Error): void => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.inflight = 0;
      if (!this.closed) this.opts.onWorkerError?.(err);
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        p.reject(new WorkerFailure(err.message));
      }
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`partial-aggregation worker exited with code ${code}`)));
    return worker;
  }

  private answer(m: FromWorker): void {
    for (const o of m.observations) this.opts.observer?.observe(o);
    for (const [g, t] of m.hedged) this.opts.onHedged?.(g, t);
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    p.slot.inflight--;
    if (m.t === 'done') p.resolve(m.answer);
    else p.reject(rebuildError(m.error));
  }
}

function post(worker: Worker, m: ToWorker): void {
  worker.postMessage(m);
}

/** The worker's error as the query thread raises it: the evaluation's own errors keep their type. */
function rebuildError(e: WireError): Error {
  if (e.name === 'PromQLError' && e.errorType !== undefined) return new PromQLError(e.errorType as PromQLErrorType, e.message);
  if (e.name === 'GroupError' && e.group !== undefined) {
    const prefix = `server group ${JSON.stringify(e.group)} failed: `;
    return new GroupError(e.group, e.target, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
  }
  return new WorkerFailure(`${e.name}: ${e.message}`);
}
