// The rules capability: recording and alerting rules evaluated over the whole fleet through the
// query layer, their results written to remote_write endpoints and their alerts sent to
// Alertmanager, plus /api/v1/rules and /api/v1/alerts in Prometheus's JSON shape. This is where
// the pieces of src/rules meet the process (src/capability.ts): config sections, reload keeping
// the state of unchanged rules, /metrics and /status.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Capability, CapabilityContext, CapabilityFactory, RuleRound } from '../capability.js';
import type { Config } from '../config/schema.js';
import { formatExpr } from '../promql/parser.js';
import { parseDuration } from '../util/duration.js';
import { labelsFromRecord } from '../model/labels.js';
import { expandRuleFiles, loadRuleFiles } from './rulefile.js';
import { Group, initGroupHash, type ActiveAlert, type RuleState } from './group.js';
import { WriteQueue, type WriteSample } from './remote-write.js';
import { Notifier } from './alertmanager.js';

const DEFAULT_EVALUATION_INTERVAL = '1m';
const NO_QUERY_LAYER = 'no query layer to evaluate rules with (the config has no query section)';

/** The config file the process runs with, for rule_files relative to it (section() has no context). */
let knownConfigFile: string | undefined;

function sectionOf(config: Config): unknown {
  const files = expandRuleFiles(config.rule_files ?? [], knownConfigFile).map((f) => {
    try {
      return [f, createHash('sha256').update(readFileSync(f)).digest('hex')];
    } catch {
      return [f, 'unreadable'];
    }
  });
  return {
    rule_files: config.rule_files,
    files,
    evaluation_interval: config.evaluation_interval,
    external_labels: config.external_labels,
    remote_write: config.remote_write,
    alerting: config.alerting,
  };
}

export const rulesFactory: CapabilityFactory = {
  name: 'rules',
  enabled: (c) => c.rule_files !== undefined || c.remote_write !== undefined || c.alerting !== undefined,
  section: sectionOf,
  create: (config, ctx) => {
    knownConfigFile = ctx.configFile;
    return new RulesCapability(config, ctx);
  },
  problems: (config, configFile) => loadRuleFiles(config.rule_files ?? [], configFile).problems,
};

interface Counters {
  evaluations: number;
  failures: number;
  missed: number;
  restoreFailures: number;
}

class RulesCapability implements Capability {
  readonly name = 'rules';
  private groups: Group[] = [];
  private queues: WriteQueue[] = [];
  private notifier: Notifier;
  private started = false;
  private readonly counters = new Map<string, Counters>();
  private config: Config;

  constructor(
    config: Config,
    private readonly ctx: CapabilityContext,
  ) {
    this.config = config;
    this.notifier = new Notifier([], {}, ctx.log);
  }

  async start(): Promise<void> {
    await initGroupHash();
    this.started = true;
    this.apply(this.config, true);
  }

  async reload(next: Config): Promise<void> {
    knownConfigFile = this.ctx.configFile;
    await initGroupHash();
    const { problems } = loadRuleFiles(next.rule_files ?? [], this.ctx.configFile);
    if (problems.length > 0) throw new Error(`rule files: ${problems.join('; ')}`);
    this.config = next;
    if (this.started) this.apply(next, false);
  }

  /** Builds groups, queues and notifier for `config`; groups of the same file and name keep their alert state. */
  private apply(config: Config, first: boolean): void {
    const { groups: defs, problems } = loadRuleFiles(config.rule_files ?? [], this.ctx.configFile);
    if (problems.length > 0) throw new Error(`rule files: ${problems.join('; ')}`);
    const oldGroups = this.groups;
    const oldQueues = this.queues;
    const ext = config.external_labels ?? {};
    const sameRw = !first && JSON.stringify(oldQueues.map((q) => q.cfg)) === JSON.stringify(config.remote_write ?? []);
    this.queues = sameRw ? oldQueues : (config.remote_write ?? []).map((c) => new WriteQueue(c, this.ctx.log));
    if (!sameRw) for (const q of oldQueues) void q.stop();
    void this.notifier.stop();
    this.notifier = new Notifier(config.alerting?.alertmanagers ?? [], ext, this.ctx.log);
    const intervalMs = parseDuration(config.evaluation_interval ?? DEFAULT_EVALUATION_INTERVAL);
    const resendDelayMs = parseDuration(config.alerting?.resend_delay ?? '1m');
    const externalURL = `http://${this.ctx.listen}`;
    const evaluateRules = this.ctx.evaluateRules?.bind(this.ctx);
    const env = {
      query: (expr: string, timeMs: number) => this.query(expr, timeMs),
      evaluateRound: evaluateRules && (async (round: RuleRound) => (await evaluateRules(round)) ?? Promise.reject(new Error(NO_QUERY_LAYER))),
      externalLabels: ext,
      externalURL,
      write: (samples: WriteSample[]) => this.write(samples, ext),
      notify: (alerts: ActiveAlert[], rule: RuleState['def']) => {
        void this.notifier.send(
          alerts.map((a) => ({
            labels: a.labels,
            annotations: a.annotations,
            startsAt: new Date(a.firedAtMs).toISOString(),
            endsAt: new Date(a.resolvedAtMs !== 0 ? a.resolvedAtMs : a.validUntilMs).toISOString(),
            generatorURL: `${externalURL}/graph?g0.expr=${encodeURIComponent(formatExpr(rule.expr))}&g0.tab=1`,
          })),
        );
      },
      resendDelayMs,
      forGracePeriodMs: parseDuration(config.alerting?.for_grace_period ?? '10m'),
      outageToleranceMs: parseDuration(config.alerting?.for_outage_tolerance ?? '1h'),
      onMissed: () => undefined,
      onEvaluated: () => undefined,
    };
    const next: Group[] = [];
    for (const def of defs) {
      const old = oldGroups.find((g) => g.def.file === def.file && g.def.name === def.name);
      const key = `${def.file};${def.name}`;
      const c = this.counters.get(key) ?? { evaluations: 0, failures: 0, missed: 0, restoreFailures: 0 };
      this.counters.set(key, c);
      const g = new Group(
        def,
        intervalMs,
        {
          ...env,
          onMissed: (n) => (c.missed += n),
          onEvaluated: (_g, _d, failed) => ((c.evaluations += def.rules.length), (c.failures += failed)),
          onRestoreError: (rule, message) => {
            c.restoreFailures++;
            this.ctx.log.warn({ group: def.name, rule, err: message }, 'rules: could not restore the for state of alerts; their for period starts again');
          },
        },
        old,
        // Prometheus restores only the groups loaded at start (and a group reloaded before its restore).
        first || (old?.restorePending ?? false),
      );
      next.push(g);
    }
    for (const g of oldGroups) void g.stop();
    this.groups = next;
    for (const g of next) g.start();
  }

  private write(samples: WriteSample[], ext: Record<string, string>): void {
    if (samples.length === 0 || this.queues.length === 0) return;
    const extEntries = Object.entries(ext);
    const out =
      extEntries.length === 0
        ? samples
        : samples.map((s) => {
            const names = new Set(s.labels.map((l) => l.name));
            const add = extEntries.filter(([k]) => !names.has(k));
            return add.length === 0
              ? s
              : { ...s, labels: labelsFromRecord({ ...Object.fromEntries(s.labels.map((l) => [l.name, l.value])), ...Object.fromEntries(add) }) };
          });
    for (const q of this.queues) q.append(out);
  }

  private async query(expr: string, timeMs: number): Promise<{ resultType: string; result: unknown; warnings: string[] }> {
    const url = `http://promfront/api/v1/query?query=${encodeURIComponent(expr)}&time=${(timeMs / 1000).toFixed(3)}`;
    const res = await this.ctx.queryApi(new Request(url));
    if (res === undefined) throw new Error(NO_QUERY_LAYER);
    const body = (await res.json()) as {
      status: string;
      data?: { resultType: string; result: unknown };
      warnings?: string[];
      error?: string;
      errorType?: string;
    };
    if (body.status !== 'success' || body.data === undefined) throw new Error(body.error ?? `query failed with HTTP status ${res.status}`);
    return { resultType: body.data.resultType, result: body.data.result, warnings: body.warnings ?? [] };
  }

  async stop(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.stop()));
    await Promise.all(this.queues.map((q) => q.flush(2000)));
    await Promise.all(this.queues.map((q) => q.stop()));
    await this.notifier.stop();
  }

  /** Waits until every queue is empty (tests, benches). */
  async flush(timeoutMs?: number): Promise<void> {
    await Promise.all(this.queues.map((q) => q.flush(timeoutMs)));
  }

  async fetch(req: Request): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname !== '/api/v1/rules' && url.pathname !== '/api/v1/alerts') return undefined;
    if (req.method !== 'GET' && req.method !== 'POST') return undefined;
    const params = new URLSearchParams(url.search);
    if (req.method === 'POST' && (req.headers.get('content-type') ?? '').includes('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(await req.clone().text())) params.append(k, v);
    }
    const downstream = await this.downstream(req);
    if (url.pathname === '/api/v1/alerts') {
      const alerts = this.groups.flatMap((g) => g.rules.flatMap((r) => [...r.active.values()].filter((a) => a.state !== 'inactive').map(alertJson)));
      const theirs = (downstream?.alerts as unknown[] | undefined) ?? [];
      return json({ status: 'success', data: { alerts: [...alerts, ...theirs] } });
    }
    const type = params.get('type');
    if (type !== null && type !== '' && type !== 'alert' && type !== 'record') {
      return json({ status: 'error', errorType: 'bad_data', error: `invalid query parameter type='${type}'` }, 400);
    }
    const groups = this.groups.map((g) => ({
      name: g.def.name,
      file: g.def.file,
      rules: g.rules.filter((r) => type === null || type === '' || (type === 'alert') === (r.def.kind === 'alert')).map(ruleJson),
      interval: g.intervalMs / 1000,
      limit: g.def.limit,
      evaluationTime: g.evaluationTimeS,
      lastEvaluation: timeJson(g.lastEvaluationMs),
    }));
    const theirs = (downstream?.groups as unknown[] | undefined) ?? [];
    return json({ status: 'success', data: { groups: [...groups, ...theirs] } });
  }

  /** The same request answered by the query layer (the downstreams' own rules), when it answers it. */
  private async downstream(req: Request): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await this.ctx.queryApi(req.clone());
      if (res === undefined || res.status !== 200) return undefined;
      const body = (await res.json()) as { status?: string; data?: Record<string, unknown> };
      return body.status === 'success' ? body.data : undefined;
    } catch {
      return undefined;
    }
  }

  metrics(): string {
    const out: string[] = [];
    const fam = (name: string, type: string, help: string, rows: [string, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [l, v] of rows) out.push(`${name}${l} ${formatNum(v)}`);
    };
    const gl = (g: Group) => `{rule_group=${JSON.stringify(g.key)}}`;
    fam(
      'promfront_rule_group_interval_seconds',
      'gauge',
      'The interval of a rule group.',
      this.groups.map((g) => [gl(g), g.intervalMs / 1000]),
    );
    fam(
      'promfront_rule_group_iterations_total',
      'counter',
      'The number of scheduled evaluations of a rule group.',
      this.groups.map((g) => [gl(g), g.iterations + g.missed]),
    );
    fam(
      'promfront_rule_group_iterations_missed_total',
      'counter',
      'The number of rule group evaluations missed due to slow rule group evaluation.',
      this.groups.map((g) => [gl(g), this.counters.get(g.key)?.missed ?? 0]),
    );
    fam(
      'promfront_rule_group_last_duration_seconds',
      'gauge',
      'The duration of the last rule group evaluation.',
      this.groups.map((g) => [gl(g), g.evaluationTimeS]),
    );
    fam(
      'promfront_rule_group_last_evaluation_timestamp_seconds',
      'gauge',
      'The timestamp of the last rule group evaluation in seconds.',
      this.groups.map((g) => [gl(g), g.lastEvaluationMs / 1000]),
    );
    fam(
      'promfront_rule_group_rules',
      'gauge',
      'The number of rules.',
      this.groups.map((g) => [gl(g), g.rules.length]),
    );
    fam(
      'promfront_rule_evaluations_total',
      'counter',
      'The total number of rule evaluations.',
      this.groups.map((g) => [gl(g), this.counters.get(g.key)?.evaluations ?? 0]),
    );
    fam(
      'promfront_rule_evaluation_failures_total',
      'counter',
      'The total number of rule evaluation failures.',
      this.groups.map((g) => [gl(g), this.counters.get(g.key)?.failures ?? 0]),
    );
    fam(
      'promfront_rule_group_restore_failures_total',
      'counter',
      'Alerting rules whose for state could not be read back from ALERTS_FOR_STATE after a start (their for period starts again).',
      this.groups.map((g) => [gl(g), this.counters.get(g.key)?.restoreFailures ?? 0]),
    );
    const ql = (q: WriteQueue) => `{remote_name=${JSON.stringify(q.name)},url=${JSON.stringify(q.cfg.url.replace(/\/\/[^@/]*@/, '//'))}}`;
    fam(
      'promfront_remote_storage_samples_in_total',
      'counter',
      'Samples handed to remote storage.',
      this.queues.map((q) => [ql(q), q.stats.samplesIn]),
    );
    fam(
      'promfront_remote_storage_samples_total',
      'counter',
      'Total number of samples sent to remote storage.',
      this.queues.map((q) => [ql(q), q.stats.samplesSent]),
    );
    fam(
      'promfront_remote_storage_samples_failed_total',
      'counter',
      'Total number of samples which failed on send to remote storage, non-recoverable errors.',
      this.queues.map((q) => [ql(q), q.stats.samplesFailed]),
    );
    fam(
      'promfront_remote_storage_samples_retried_total',
      'counter',
      'Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.',
      this.queues.map((q) => [ql(q), q.stats.samplesRetried]),
    );
    fam(
      'promfront_remote_storage_samples_dropped_total',
      'counter',
      'Samples dropped because the queue was full (the oldest first).',
      this.queues.map((q) => [ql(q), q.stats.samplesDropped]),
    );
    fam(
      'promfront_remote_storage_samples_pending',
      'gauge',
      'The number of samples pending in the queue.',
      this.queues.map((q) => [ql(q), q.pending]),
    );
    fam(
      'promfront_remote_storage_queue_highest_sent_timestamp_seconds',
      'gauge',
      'Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.',
      this.queues.map((q) => [ql(q), q.stats.highestSentTimestampMs / 1000]),
    );
    fam(
      'promfront_remote_storage_shards',
      'gauge',
      'The number of shards used for parallel sending to the remote storage.',
      this.queues.map((q) => [ql(q), q.shardCount]),
    );
    const al = (u: string) => `{alertmanager=${JSON.stringify(u)}}`;
    fam(
      'promfront_notifications_sent_total',
      'counter',
      'Total number of alerts sent.',
      this.notifier.targets.map((t) => [al(t.url), t.stats.sent]),
    );
    fam(
      'promfront_notifications_errors_total',
      'counter',
      'Total number of errors sending alert notifications.',
      this.notifier.targets.map((t) => [al(t.url), t.stats.errors]),
    );
    fam('promfront_notifications_dropped_total', 'counter', 'Total number of alerts dropped due to errors when sending to Alertmanager.', [
      ['', this.notifier.dropped],
    ]);
    return out.join('\n') + '\n';
  }

  status(): unknown {
    return {
      groups: this.groups.map((g) => ({
        name: g.def.name,
        file: g.def.file,
        interval: g.intervalMs / 1000,
        rules: g.rules.length,
        iterations: g.iterations,
        missed: g.missed,
        lastEvaluation: timeJson(g.lastEvaluationMs),
        unhealthy: g.rules.filter((r) => r.health === 'err').map((r) => ({ name: r.def.name, lastError: r.lastError })),
      })),
      remote_write: this.queues.map((q) => ({ name: q.name, ...q.stats, samplesPending: q.pending })),
      alertmanagers: this.notifier.targets.map((t) => ({ url: t.url, ...t.stats })),
    };
  }
}

function formatNum(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function timeJson(ms: number): string {
  return ms === 0 ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString();
}

/** Go's strconv.FormatFloat(v, 'e', -1, 64), as Prometheus prints alert values. */
function valueE(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return v.toExponential().replace(/e([-+])(\d)$/, 'e$10$2');
}

function alertJson(a: ActiveAlert): Record<string, unknown> {
  const out: Record<string, unknown> = {
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: timeJson(a.activeAtMs),
    value: valueE(a.value),
  };
  if (a.keepFiringSinceMs !== 0) out.keepFiringSince = timeJson(a.keepFiringSinceMs);
  return out;
}

function ruleJson(r: RuleState): Record<string, unknown> {
  const base = { name: r.def.name, query: formatExpr(r.def.expr) };
  const tail: Record<string, unknown> = { health: r.health };
  if (r.lastError !== '') tail.lastError = r.lastError;
  tail.evaluationTime = r.evaluationTimeS;
  tail.lastEvaluation = timeJson(r.lastEvaluationMs);
  if (r.def.kind === 'record') return { ...base, labels: r.def.labels, ...tail, type: 'recording' };
  const alerts = [...r.active.values()].filter((a) => a.state !== 'inactive');
  const state = alerts.some((a) => a.state === 'firing') ? 'firing' : alerts.length > 0 ? 'pending' : 'inactive';
  return {
    state,
    ...base,
    duration: r.def.forMs / 1000,
    keepFiringFor: r.def.keepFiringForMs / 1000,
    labels: r.def.labels,
    annotations: r.def.annotations,
    alerts: alerts.map(alertJson),
    ...tail,
    type: 'alerting',
  };
}
