// One rule group: its schedule (Prometheus's hash offset within the interval, missed iterations
// counted), the evaluation of its rules in order, the state of its alerts, and the samples it hands
// to remote write (recorded series, ALERTS, ALERTS_FOR_STATE, and staleness markers for series
// that went away). Rules are evaluated on the query layer, so a rule sees the whole fleet: a round
// goes where the layer lives as one message (round.ts, ctx.evaluateRules), or one query per rule
// through ctx.queryApi where that is all there is. A rule reading only series recorded earlier in
// the same group is evaluated here, by our engine over the group's own recent results, because
// promfront has no TSDB to read them back from (docs/rules.md).

import pLimit from 'p-limit';
import type { Expr } from '../promql/ast.js';
import { walkExpr } from '../promql/ast.js';
import { Engine } from '../promql/engine.js';
import { MemoryStorage } from '../storage/memory.js';
import { labelsFromRecord, labelsKey, labelsToRecord, type Labels } from '../model/labels.js';
import type { RuleAnswer, RuleRound } from '../capability.js';
import type { GroupDef, RuleDef } from './rulefile.js';
import { expand } from './template.js';
import { goQuote } from '../util/go-quote.js';
import type { WriteSample } from './remote-write.js';

export type AlertState = 'inactive' | 'pending' | 'firing';

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertState;
  activeAtMs: number;
  firedAtMs: number;
  resolvedAtMs: number;
  lastSentAtMs: number;
  validUntilMs: number;
  keepFiringSinceMs: number;
  value: number;
}

export interface RuleState {
  def: RuleDef;
  health: 'ok' | 'err' | 'unknown';
  lastError: string;
  lastEvaluationMs: number;
  evaluationTimeS: number;
  /** Alerting rules only, by label-set key. */
  active: Map<string, ActiveAlert>;
  /** Recording rules evaluated in-process (they read only series recorded earlier in the group). */
  local: boolean;
  /**
   * Prometheus's AlertingRule.restored: until the `for` state has been restored after a start, the
   * rule writes no ALERTS/ALERTS_FOR_STATE, so a fresh activeAt never overwrites the stored one.
   */
  restored: boolean;
}

export interface GroupEnv {
  /** Runs an instant query through the query layer; resolves to the JSON API's data or throws its error text. */
  query(expr: string, timeMs: number): Promise<{ resultType: string; result: unknown; warnings: string[] }>;
  /**
   * Evaluates the round's queries in one go where the query layer lives (round.ts), answers in
   * order; without it each rule is one `query`.
   */
  evaluateRound?(round: RuleRound): Promise<RuleAnswer[]>;
  externalLabels: Record<string, string>;
  externalURL: string;
  /** Hands samples to remote write. */
  write(samples: WriteSample[]): void;
  /** Sends firing/resolved alerts to Alertmanager. */
  notify(alerts: ActiveAlert[], rule: RuleDef, group: Group): void;
  resendDelayMs: number;
  onMissed(n: number): void;
  onEvaluated(g: Group, durationS: number, failed: number): void;
  /** Prometheus's --rules.alert.for-grace-period (default 10m). */
  forGracePeriodMs?: number;
  /** Prometheus's --rules.alert.for-outage-tolerance (default 1h). */
  outageToleranceMs?: number;
  /** Told when restoring the `for` state failed (the rules start their `for` again). */
  onRestoreError?(rule: string, message: string): void;
}

/** A rule's query answer: its vector, the warnings that make its health `err`, its own evaluation time when known. */
interface RuleResult {
  vector: { labels: Record<string, string>; v: number }[];
  warnings: string[];
  took?: number;
  /** The query failed with this text (a round answers every rule, failed or not). */
  error?: string;
}

const RESOLVED_RETENTION_MS = 15 * 60_000;
/** Queries of one group in flight at once (the query layer admits 20 by default). */
const QUERY_CONCURRENCY = 8;
const LOCAL_HISTORY_MS = 60 * 60_000;

let hashFn: ((b: Uint8Array) => bigint) | undefined;

/** Loads the xxhash module the schedule's offset needs (Prometheus hashes name and file with xxhash64). */
export async function initGroupHash(): Promise<void> {
  if (hashFn) return;
  const { default: xxhash } = await import('xxhash-wasm');
  const h = await xxhash();
  hashFn = (b) => h.h64Raw(b);
}

/** Prometheus's Group.hash(): labels {file, name} hashed as labels.Hash does (name 0xff value 0xff ...). */
export function groupHash(name: string, file: string): bigint {
  if (!hashFn) throw new Error('initGroupHash() must be awaited first');
  const parts: number[] = [];
  const enc = new TextEncoder();
  for (const [k, v] of [
    ['file', file],
    ['name', name],
  ]) {
    parts.push(...enc.encode(k), 0xff, ...enc.encode(v), 0xff);
  }
  return hashFn(Uint8Array.from(parts));
}

/** Prometheus's EvalTimestamp: the last time at or before `nowMs` in this group's slot of the interval. */
export function evalTimestamp(nowMs: number, intervalMs: number, hash: bigint): number {
  const interval = BigInt(intervalMs) * 1_000_000n;
  const offset = hash % interval;
  const start = BigInt(nowMs) * 1_000_000n - offset;
  const base = start - (((start % interval) + interval) % interval);
  return Number((base + offset) / 1_000_000n);
}

export class Group {
  readonly rules: RuleState[];
  readonly intervalMs: number;
  readonly hash: bigint;
  lastEvaluationMs = 0;
  evaluationTimeS = 0;
  iterations = 0;
  missed = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Series each rule wrote at its last evaluation, by key, for staleness markers. */
  private previous: Map<string, Labels>[];
  /** Recent samples of the group's recorded series (NaN + stale for markers), for the rules evaluated in-process. */
  private history = new Map<string, { labels: Labels; t: number[]; v: number[]; stale: boolean[] }>();
  private readonly engine = new Engine({ semantics: 'prometheus-2' });

  constructor(
    readonly def: GroupDef,
    defaultIntervalMs: number,
    private readonly env: GroupEnv,
    previous?: Group,
    /** Restore alerts' `for` state from ALERTS_FOR_STATE after the second round (groups loaded at start). */
    public restorePending = false,
  ) {
    this.intervalMs = def.intervalMs ?? defaultIntervalMs;
    this.hash = groupHash(def.name, def.file);
    const recordedBefore = new Set<string>();
    this.rules = def.rules.map((r) => {
      const old = previous?.rules.find((o) => sameRule(o.def, r));
      const st: RuleState = {
        def: r,
        health: old?.health ?? 'unknown',
        lastError: old?.lastError ?? '',
        lastEvaluationMs: old?.lastEvaluationMs ?? 0,
        evaluationTimeS: old?.evaluationTimeS ?? 0,
        active: old?.active ?? new Map<string, ActiveAlert>(),
        local: r.kind === 'record' && readsOnly(r.expr, recordedBefore),
        restored: old?.restored ?? !(restorePending && r.kind === 'alert'),
      };
      if (r.kind === 'record') recordedBefore.add(r.name);
      return st;
    });
    this.previous = this.rules.map(() => new Map<string, Labels>());
    if (previous) {
      // Series of a rule that kept its place and definition carry over; others go stale next round.
      this.rules.forEach((r, i) => {
        const j = previous.rules.findIndex((o) => sameRule(o.def, r.def));
        if (j >= 0) this.previous[i] = previous.previous[j];
      });
      this.history = previous.history;
      this.lastEvaluationMs = previous.lastEvaluationMs;
    }
  }

  get key(): string {
    return `${this.def.file};${this.def.name}`;
  }

  start(): void {
    const now = Date.now();
    let next = evalTimestamp(now, this.intervalMs, this.hash) + this.intervalMs;
    let rounds = 0;
    const tick = () => {
      if (this.stopped) return;
      const ts = next;
      // As Prometheus's Group.run: restore after the second round, when recording rules and
      // scrapes have had a round to catch up, at the wall-clock time of the restore.
      const round = async () => {
        await this.evaluate(ts);
        if (++rounds === 2 && this.restorePending && !this.stopped) await this.restoreForState(Date.now());
      };
      this.running = round().finally(() => {
        this.running = undefined;
        // Prometheus's ticker: a round that ran past later slots skips them (counted as missed)
        // and runs at once at the latest slot it reached.
        const behind = Math.floor((Date.now() - ts) / this.intervalMs);
        if (behind > 1) {
          this.missed += behind - 1;
          this.env.onMissed(behind - 1);
        }
        next = ts + Math.max(1, behind) * this.intervalMs;
        if (!this.stopped) this.timer = setTimeout(tick, Math.max(0, next - Date.now()));
      });
    };
    this.timer = setTimeout(tick, Math.max(0, next - now));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One evaluation of every rule at `ts` (ms), in order. */
  async evaluate(ts: number): Promise<void> {
    const started = performance.now();
    const samples: WriteSample[] = [];
    let failed = 0;
    const qts = ts - this.def.queryOffsetMs;
    // Rules that go to the query layer cannot see this round's records anyway (they are not in
    // any downstream yet), so their queries start together, a few at a time; results are still
    // applied in rule order. Rules reading the group's own records run in their place.
    const remote = this.remoteQueries(qts);
    for (const [i, rule] of this.rules.entries()) {
      const t0 = performance.now();
      let seconds: number | undefined;
      const seen = new Map<string, Labels>();
      try {
        const { vector, warnings, took, error } = await (remote[i] ?? this.query(rule, qts));
        seconds = took;
        if (error !== undefined) throw new Error(error);
        if (rule.def.kind === 'record') this.record(rule, vector, qts, samples, seen);
        else this.alert(rule, vector, qts, samples, seen);
        rule.health = warnings.length > 0 ? 'err' : 'ok';
        rule.lastError = warnings.length > 0 ? `partial result: ${warnings.join('; ')}` : '';
      } catch (e) {
        failed++;
        rule.health = 'err';
        rule.lastError = (e as Error).message;
        // Prometheus keeps the series of a failing rule from going stale: carry them over.
        for (const [k, l] of this.previous[i]) seen.set(k, l);
      }
      // As Prometheus, right after the rule: its series of the last round that it did not return now.
      for (const [k, l] of this.previous[i]) {
        if (seen.has(k)) continue;
        samples.push({ labels: l, t: qts, v: NaN, stale: true });
        const h = this.history.get(k);
        if (h) {
          h.t.push(qts);
          h.v.push(NaN);
          h.stale.push(true);
        }
      }
      this.previous[i] = seen;
      rule.lastEvaluationMs = ts;
      rule.evaluationTimeS = seconds ?? (performance.now() - t0) / 1000;
      if (rule.def.kind === 'alert') this.sendAlerts(rule, ts);
    }
    this.env.write(samples);
    this.iterations++;
    this.lastEvaluationMs = ts;
    this.evaluationTimeS = (performance.now() - started) / 1000;
    this.env.onEvaluated(this, this.evaluationTimeS, failed);
  }

  /**
   * Prometheus's Group.RestoreForState: for each alerting rule with `for` ≥ for_grace_period, the
   * last ALERTS_FOR_STATE sample of each active alert within for_outage_tolerance before `nowMs`
   * (read through the query layer: promfront has no TSDB) gives the activeAt it had before the
   * restart; the time promfront was down is not counted as pending, and an alert that would fire
   * within the grace period is given the grace period.
   */
  async restoreForState(nowMs: number): Promise<void> {
    this.restorePending = false;
    const grace = this.env.forGracePeriodMs ?? 10 * 60_000;
    const tolerance = this.env.outageToleranceMs ?? 60 * 60_000;
    for (const rule of this.rules) {
      if (rule.restored) continue;
      const def = rule.def;
      if (def.forMs < grace || rule.active.size === 0) {
        rule.restored = true;
        continue;
      }
      let series: { metric: Record<string, string>; values: [number, string][] }[];
      try {
        const data = await this.env.query(`ALERTS_FOR_STATE{alertname=${goQuote(def.name)}}[${Math.max(1, Math.floor(tolerance / 1000))}s]`, nowMs);
        if (data.resultType !== 'matrix') throw new Error(`ALERTS_FOR_STATE came back as ${data.resultType}, not a matrix`);
        series = data.result as typeof series;
      } catch (e) {
        rule.restored = true;
        this.env.onRestoreError?.(def.name, (e as Error).message);
        continue;
      }
      for (const a of rule.active.values()) {
        if (a.state === 'inactive') continue;
        const want: Record<string, string> = { ...this.env.externalLabels, ...a.labels, __name__: 'ALERTS_FOR_STATE' };
        const s = series.find((x) => sameSet(x.metric, want) || sameSet(x.metric, { ...a.labels, __name__: 'ALERTS_FOR_STATE' }));
        const last = s?.values.at(-1);
        if (last === undefined) continue;
        // Go's time.Unix(t/1000, 0) and time.Unix(int64(v), 0): both whole seconds.
        const downAtMs = Math.floor(last[0]) * 1000;
        let activeAtMs = Math.trunc(parseFloat(last[1])) * 1000;
        if (!Number.isFinite(activeAtMs)) continue;
        const remaining = def.forMs - (downAtMs - activeAtMs);
        if (remaining <= 0) {
          // It was firing when promfront went down: it fires again at the next round if still active.
        } else if (remaining < grace) {
          activeAtMs = nowMs + grace - def.forMs;
        } else {
          activeAtMs += nowMs - downAtMs;
        }
        a.activeAtMs = activeAtMs;
      }
      rule.restored = true;
    }
  }

  /**
   * The answers of the rules that go to the query layer, by rule index (undefined for the rules
   * evaluated here): one round sent where the layer lives when the env can, else one query per
   * rule, a few at a time.
   */
  private remoteQueries(qts: number): (Promise<RuleResult> | undefined)[] {
    const remote = this.rules.map((r, i) => (r.local ? -1 : i)).filter((i) => i >= 0);
    const out: (Promise<RuleResult> | undefined)[] = this.rules.map(() => undefined);
    if (remote.length === 0) return out;
    if (this.env.evaluateRound) {
      const round = this.env.evaluateRound({ timeMs: qts, exprs: remote.map((i) => this.rules[i].def.exprText) });
      remote.forEach((ruleIndex, k) => {
        const p = round.then((answers) => {
          const a = answers[k];
          if ('error' in a) return { vector: [], warnings: [], took: a.seconds, error: a.error };
          return { vector: a.vector.map((s) => ({ labels: labelsToRecord(s.labels), v: s.v })), warnings: a.warnings, took: a.seconds };
        });
        p.catch(() => undefined);
        out[ruleIndex] = p;
      });
      return out;
    }
    const limit = pLimit(QUERY_CONCURRENCY);
    for (const i of remote) {
      const p = limit(() => this.query(this.rules[i], qts));
      p.catch(() => undefined);
      out[i] = p;
    }
    return out;
  }

  private async query(rule: RuleState, ts: number): Promise<RuleResult> {
    if (rule.local) return { vector: await this.queryLocal(rule.def.exprText, ts), warnings: [] };
    const data = await this.env.query(rule.def.exprText, ts);
    if (data.resultType === 'scalar') {
      const [, v] = data.result as [number, string];
      return { vector: [{ labels: {}, v: parseFloat(v) }], warnings: data.warnings };
    }
    if (data.resultType !== 'vector') throw new Error(`rule result is not a vector or scalar`);
    const result = data.result as { metric: Record<string, string>; value: [number, string] }[];
    return { vector: result.map((r) => ({ labels: r.metric, v: parseFloat(r.value[1]) })), warnings: data.warnings };
  }

  private async queryLocal(expr: string, ts: number): Promise<{ labels: Record<string, string>; v: number }[]> {
    const st = new MemoryStorage();
    for (const h of this.history.values()) for (let i = 0; i < h.t.length; i++) st.add(h.labels, h.t[i], h.v[i], { stale: h.stale[i] });
    const out = await this.engine.instantQuery(st, expr, ts);
    const r = out.result;
    if (r.resultType === 'scalar') return [{ labels: {}, v: r.v }];
    if (r.resultType !== 'vector') throw new Error(`rule result is not a vector or scalar`);
    return r.result.map((s) => ({ labels: labelsToRecord(s.labels), v: s.v }));
  }

  private record(rule: RuleState, vector: { labels: Record<string, string>; v: number }[], ts: number, out: WriteSample[], seen: Map<string, Labels>): void {
    const keys = new Set<string>();
    const produced: { key: string; labels: Labels; v: number }[] = [];
    for (const s of vector) {
      const l: Record<string, string> = { ...s.labels, ...rule.def.labels, __name__: rule.def.name };
      for (const [k, v] of Object.entries(l)) if (v === '') delete l[k];
      const labels = labelsFromRecord(l);
      const key = labelsKey(labels);
      if (keys.has(key)) throw new Error('vector contains metrics with the same labelset after applying rule labels');
      keys.add(key);
      produced.push({ key, labels, v: s.v });
    }
    if (this.def.limit > 0 && produced.length > this.def.limit) throw new Error(`exceeded limit of ${this.def.limit} with ${produced.length} series`);
    for (const p of produced) {
      out.push({ labels: p.labels, t: ts, v: p.v });
      seen.set(p.key, p.labels);
      let h = this.history.get(p.key);
      if (!h) this.history.set(p.key, (h = { labels: p.labels, t: [], v: [], stale: [] }));
      h.t.push(ts);
      h.v.push(p.v);
      h.stale.push(false);
    }
    // Keep only what in-process rules can still read; a series gone for an hour is forgotten.
    for (const [k, h] of this.history) {
      let drop = 0;
      while (drop < h.t.length && h.t[drop] < ts - LOCAL_HISTORY_MS) drop++;
      if (drop > 0) {
        h.t.splice(0, drop);
        h.v.splice(0, drop);
        h.stale.splice(0, drop);
      }
      if (h.t.length === 0) this.history.delete(k);
    }
  }

  private alert(rule: RuleState, vector: { labels: Record<string, string>; v: number }[], ts: number, out: WriteSample[], seen: Map<string, Labels>): void {
    const def = rule.def;
    const current = new Map<string, ActiveAlert>();
    for (const s of vector) {
      const base = { ...s.labels };
      delete base.__name__;
      const data = { labels: base, externalLabels: this.env.externalLabels, externalURL: this.env.externalURL, value: s.v };
      const labels: Record<string, string> = { ...base };
      for (const [k, v] of Object.entries(def.labels)) labels[k] = expand(`__alert_${def.name}`, v, data);
      labels.alertname = def.name;
      for (const [k, v] of Object.entries(labels)) if (v === '') delete labels[k];
      const annotations: Record<string, string> = {};
      for (const [k, v] of Object.entries(def.annotations)) annotations[k] = expand(`__alert_${def.name}`, v, data);
      const key = labelsKey(labelsFromRecord(labels));
      if (current.has(key)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      current.set(key, {
        labels,
        annotations,
        state: 'pending',
        activeAtMs: ts,
        firedAtMs: 0,
        resolvedAtMs: 0,
        lastSentAtMs: 0,
        validUntilMs: 0,
        keepFiringSinceMs: 0,
        value: s.v,
      });
    }
    for (const [key, a] of current) {
      const old = rule.active.get(key);
      if (old && old.state !== 'inactive') {
        old.value = a.value;
        old.annotations = a.annotations;
        continue;
      }
      rule.active.set(key, a);
    }
    let activeCount = 0;
    for (const [key, a] of rule.active) {
      if (!current.has(key)) {
        let keepFiring = false;
        if (a.state === 'firing' && def.keepFiringForMs > 0) {
          if (a.keepFiringSinceMs === 0) a.keepFiringSinceMs = ts;
          if (ts - a.keepFiringSinceMs < def.keepFiringForMs) keepFiring = true;
        }
        if (a.state === 'pending' || (a.resolvedAtMs !== 0 && ts - a.resolvedAtMs > RESOLVED_RETENTION_MS)) rule.active.delete(key);
        if (a.state !== 'inactive' && !keepFiring) {
          a.state = 'inactive';
          a.resolvedAtMs = ts;
        }
        if (!keepFiring) continue;
      } else {
        a.keepFiringSinceMs = 0;
      }
      activeCount++;
      if (a.state === 'pending' && ts - a.activeAtMs >= def.forMs) {
        a.state = 'firing';
        a.firedAtMs = ts;
      }
    }
    if (this.def.limit > 0 && activeCount > this.def.limit) {
      rule.active.clear();
      throw new Error(`exceeded limit of ${this.def.limit} with ${activeCount} alerts`);
    }
    if (!rule.restored) return;
    for (const a of rule.active.values()) {
      if (a.state === 'inactive') continue;
      const alerts = labelsFromRecord({ ...a.labels, __name__: 'ALERTS', alertstate: a.state });
      const forState = labelsFromRecord({ ...a.labels, __name__: 'ALERTS_FOR_STATE' });
      out.push({ labels: alerts, t: ts, v: 1 }, { labels: forState, t: ts, v: Math.floor(a.activeAtMs / 1000) });
      seen.set(labelsKey(alerts), alerts);
      seen.set(labelsKey(forState), forState);
    }
  }

  private sendAlerts(rule: RuleState, ts: number): void {
    const send: ActiveAlert[] = [];
    for (const a of rule.active.values()) {
      if (a.state === 'pending') continue;
      // Never sent (Prometheus's zero time) counts as long ago.
      const needs = a.lastSentAtMs === 0 || a.resolvedAtMs > a.lastSentAtMs || a.lastSentAtMs + this.env.resendDelayMs < ts;
      if (!needs) continue;
      a.lastSentAtMs = ts;
      const delta = Math.max(this.env.resendDelayMs, this.intervalMs);
      a.validUntilMs = ts + 4 * delta;
      send.push({ ...a });
    }
    if (send.length > 0) this.env.notify(send, rule.def, this);
  }
}

function sameSet(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function sameRule(a: RuleDef, b: RuleDef): boolean {
  return (
    a.kind === b.kind &&
    a.name === b.name &&
    a.exprText === b.exprText &&
    a.forMs === b.forMs &&
    a.keepFiringForMs === b.keepFiringForMs &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.annotations) === JSON.stringify(b.annotations)
  );
}

/** Whether every selector of `e` names one of `names` (so the rule reads only the group's own results). */
function readsOnly(e: Expr, names: ReadonlySet<string>): boolean {
  if (names.size === 0) return false;
  let any = false;
  let ok = true;
  walkExpr(e, (n) => {
    if (n.type !== 'VectorSelector') return;
    any = true;
    const m = n.matchers.find((x) => x.name === '__name__' && x.type === '=');
    if (!m || !names.has(m.value)) ok = false;
  });
  return any && ok;
}
