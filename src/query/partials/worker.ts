// A worker of the partial-aggregation pool: reads one server group (its replicas, HA-merged, group
// labels added, exactly as the query thread's fan-out would), evaluates the partial aggregations of
// a task over that group's data with the same engine settings, and answers the per-step partials,
// the hashes of the series it read, and what its downstream requests did (for /metrics).
//
// Runs only as a worker thread started by pool.ts. It reads raw samples (no pushdown): the overlap
// check between groups needs the series each group holds.

import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../../promql/engine.js';
import { FanoutStorage } from '../fanout.js';
import { TargetPool } from '../discovery/target-pool.js';
import { sameTargets, type DiscoveredTarget } from '../discovery/target.js';
import { groupClient, groupTargets, groupTimeoutMs } from '../downstream/group-targets.js';
import type { DownstreamObservation } from '../downstream/metrics.js';
import type { Storage } from '../../storage/interface.js';
import { METRIC_NAME, type Labels } from '../../model/labels.js';
import { DownstreamApiError, GroupError, PromQLError } from '../../errors.js';
import type { FromWorker, PartialAnswer, PartialTask, ToWorker, WireError, WireSeries } from './protocol.js';
import type { WorkerInit } from './protocol.js';
import { raiseThreadNice } from '../../util/thread-nice.js';

const port = parentPort;
if (!port) throw new Error('partials/worker.js runs only as a worker thread (see pool.ts)');
const q = (workerData as WorkerInit).query;
// Below the main thread, as the query thread (query.thread_nice); a failure there is logged by the
// query thread, which tried first on the same host.
raiseThreadNice(q.thread_nice);
const engine = new Engine({ semantics: q.semantics, lookbackDeltaMs: q.lookback_delta, maxSamples: q.max_samples, timeoutMs: q.timeout });

/** What the current tasks' downstream requests did, sent back with the next answer. */
let observations: DownstreamObservation[] = [];
let hedged: [string, string][] = [];
const observer = { observe: (o: DownstreamObservation) => void observations.push(o) };

interface GroupReader {
  pool: TargetPool;
  fanout: FanoutStorage;
  targets: DiscoveredTarget[];
}
const readers = new Map<number, GroupReader>();

function readerOf(index: number, targets: DiscoveredTarget[]): GroupReader {
  let r = readers.get(index);
  if (r === undefined) {
    const g = q.server_groups[index];
    const name = g.name ?? `group-${index}`;
    const build = groupTargets(q, g, name, groupClient(g, q), observer);
    const pool = new TargetPool(build.create, build.nameOf);
    const fanout = new FanoutStorage(
      [
        {
          name,
          currentTargets: () => pool.current(),
          antiAffinityMs: g.anti_affinity,
          replicaLabels: g.replica_labels ?? q.replica_labels,
          ignoreError: g.ignore_error,
          timeoutMs: groupTimeoutMs(g, q),
          labels: g.labels,
          pushdown: false,
          hedge: g.hedge ? { minWaitMs: g.hedge_min_wait, latencyFactor: g.hedge_latency_factor } : undefined,
        },
      ],
      { maxConcurrency: q.max_concurrency, onHedged: (group, target) => void hedged.push([group, target]) },
    );
    r = { pool, fanout, targets: [] };
    readers.set(index, r);
  }
  if (!sameTargets(r.targets, targets)) {
    r.pool.update(targets);
    r.targets = targets;
  }
  return r;
}

const running = new Map<number, AbortController>();

async function run(task: PartialTask): Promise<void> {
  const ctl = new AbortController();
  running.set(task.id, ctl);
  try {
    const answer = await evaluate(task, ctl.signal);
    const transfer = [answer.seriesHashes.buffer as ArrayBuffer];
    for (const p of answer.partials) for (const s of p) transfer.push(s.timestamps.buffer as ArrayBuffer, s.values.buffer as ArrayBuffer);
    post({ t: 'done', id: task.id, answer, observations: takeObservations(), hedged: takeHedged() }, transfer);
  } catch (err) {
    post({ t: 'failed', id: task.id, error: wireError(err), observations: takeObservations(), hedged: takeHedged() });
  } finally {
    running.delete(task.id);
  }
}

async function evaluate(task: PartialTask, signal: AbortSignal): Promise<PartialAnswer> {
  const view = readerOf(task.group, task.targets).fanout.forQuery();
  const hashes = new Set<number>();
  let readSeries = 0;
  let readSamples = 0;
  // Raw reads only, and each series read remembered (see the top of this file).
  const storage: Storage = {
    select: async (matchers, startMs, endMs, hints, sig) => {
      const found = await view.storage.select(matchers, startMs, endMs, hints, sig);
      for (const s of found) {
        hashes.add(labelsHash(s.labels));
        readSamples += s.timestamps.length;
      }
      readSeries += found.length;
      return found;
    },
    labelNames: (...a) => view.storage.labelNames(...a),
    labelValues: (...a) => view.storage.labelValues(...a),
  };
  const partials: WireSeries[][] = [];
  const warnings = new Set<string>();
  const infos = new Set<string>();
  for (const text of task.partials) {
    const prepared = engine.prepare(text);
    const out =
      task.stepMs > 0
        ? await engine.execRange(prepared, storage, task.startMs, task.endMs, task.stepMs, signal, { timeoutMs: task.timeoutMs })
        : await engine.execInstant(prepared, storage, task.startMs, signal, { timeoutMs: task.timeoutMs });
    for (const w of out.warnings) warnings.add(w);
    for (const i of out.infos) infos.add(i);
    const r = out.result;
    if (r.resultType === 'matrix') {
      partials.push(r.result.map((s) => ({ labels: s.labels, timestamps: Float64Array.from(s.timestamps), values: Float64Array.from(s.values) })));
    } else if (r.resultType === 'vector') {
      partials.push(r.result.map((s) => ({ labels: s.labels, timestamps: Float64Array.of(s.t), values: Float64Array.of(s.v) })));
    } else throw new Error(`a partial aggregation answered a ${r.resultType}`);
  }
  return {
    partials,
    seriesHashes: Float64Array.from(hashes),
    readSeries,
    readSamples,
    storageWarnings: [...new Set(view.warnings)],
    warnings: [...warnings],
    infos: [...infos],
  };
}

/**
 * A 53-bit hash of a label set without its metric name (two 32-bit FNV-1a lanes with different
 * offsets): two groups holding series equal but for the name are also caught, since a function
 * dropping the name would make them collide. A collision only costs a needless fallback.
 */
function labelsHash(labels: Labels): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (code: number): void => {
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193 ^ 0x2c1b3c6d);
  };
  for (const l of labels) {
    if (l.name === METRIC_NAME) continue;
    for (let i = 0; i < l.name.length; i++) mix(l.name.charCodeAt(i));
    mix(0xffff);
    for (let i = 0; i < l.value.length; i++) mix(l.value.charCodeAt(i));
    mix(0xfffe);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

function wireError(err: unknown): WireError {
  if (err instanceof PromQLError) return { name: err.name, message: err.message, errorType: err.errorType };
  if (err instanceof GroupError && !(err.targetError instanceof DownstreamApiError)) {
    return { name: err.name, message: err.message, group: err.group, target: err.target };
  }
  return { name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
}

function takeObservations(): DownstreamObservation[] {
  const o = observations;
  observations = [];
  return o;
}

function takeHedged(): [string, string][] {
  const h = hedged;
  hedged = [];
  return h;
}

function post(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(m, transfer ?? []);
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'task') void run(m);
  else running.get(m.id)?.abort();
});
