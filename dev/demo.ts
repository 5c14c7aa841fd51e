// The one-command local demo (`npm run demo`): every capability of promfront on loopback, from one
// generated config file. A synthetic Ceph-like exporter split into shards, real Prometheus servers
// scraping each shard (HA replicas), the same proxy answering PromQL over all of them, and, for each
// peer that is installed, the capability it serves: Pushgateways behind `push:`, NATS JetStream fed
// by an edge promfront (`publish:`) into a `nats` source, etcd behind `fleet:`, rules remote-written
// to shard 0's Prometheus with alerts sent to Alertmanager. A missing peer skips its part with a
// printed line naming the Debian package; only `prometheus` is needed for the core.
//
//   node dist-tools/dev/demo.js [--series=30000] [--shards=3] [--replicas=2] [--check]
//
// --check (or PROMFRONT_DEMO_CHECK=1) starts everything, asks each part whether it works (see
// demo-check.ts), prints the answers and exits 0 only if every started part passed.
// PROMFRONT_PROXY=/path/to/launcher overrides the proxy command (default: <repo>/proxy).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import YAML from 'yaml';
import { runDemoChecks, type DemoCheckPlan } from './demo-check.js';
import { centralConfig, DEMO, DEMO_RULES, edgeConfig } from './demo-config.js';
import { startAlertmanager, startNodeExporter, type SimplePeer } from './demo-peers.js';
import { etcdPut, startEtcdCluster, type EtcdCluster } from './etcd.js';
import { startNats, type NatsServer } from './nats.js';
import {
  answers200,
  findPrometheus,
  freePort,
  isPortFree,
  startPrometheus,
  terminate,
  trackChild,
  waitFor,
  type PrometheusProcess,
} from './prometheus-process.js';
import { startPushgateway, type PushgatewayProcess } from './pushgateway.js';
import { FIXED_SERIES, startSyntheticExporter, SYNTHETIC_COUNTER, SYNTHETIC_HISTOGRAM, type SyntheticExporter } from './synthetic.js';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const STEP_MS = 5000;
const PUSHGATEWAYS = 3;
const PUSH_GROUPS = ['backup-db1', 'backup-db2', 'etl-orders', 'etl-invoices', 'report-daily', 'report-weekly'];

const USAGE = `Usage: npm run demo -- [--series=N] [--shards=N] [--replicas=N] [--check]

Starts a synthetic Ceph-like exporter (N series, default 30000), the promfront proxy sharding it
(default 3 shards), Prometheus servers scraping each shard (default 2 HA replicas per shard), the
proxy's query layer over all of them, and each capability whose peer is installed: Pushgateways
(push), nats-server with an edge promfront (stream), etcd (fleet), rules with Alertmanager.
Ctrl-C stops everything.

  --check   start everything, check that each part answers, print the results and exit
            (non-zero if a part failed); defaults to --series=3000 --shards=2. Also
            PROMFRONT_DEMO_CHECK=1.
`;

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'promfront') return dir;
      } catch {
        // keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the promfront repository root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function positiveInt(value: string | undefined, name: string, def: number, min = 1): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`error: --${name} must be an integer of at least ${min}, got "${value}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

function logTail(file: string, lines = 20): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text === '' ? '(empty)' : text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

function graphLink(promUrl: string, expr: string, tab: 0 | 1): string {
  return `${promUrl}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=${tab}&g0.range_input=15m`;
}

/** The scrape_configs of every YAML document `./proxy scrape-config` printed. */
function scrapeConfigsOf(out: string): Record<string, unknown>[] {
  return YAML.parseAllDocuments(out)
    .map((d) => d.toJS() as { scrape_configs?: Record<string, unknown>[] } | null)
    .flatMap((d) => d?.scrape_configs ?? []);
}

async function main(): Promise<void> {
  let values: { series?: string; shards?: string; replicas?: string; check?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        series: { type: 'string' },
        shards: { type: 'string' },
        replicas: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const check = values.check === true || process.env.PROMFRONT_DEMO_CHECK === '1';
  const series = positiveInt(values.series, 'series', check ? 3000 : 30_000, FIXED_SERIES);
  const shards = positiveInt(values.shards, 'shards', check ? 2 : 3);
  const replicas = positiveInt(values.replicas, 'replicas', 2);
  const root = repoRoot();
  const proxyCmd = process.env.PROMFRONT_PROXY || path.join(root, 'proxy');
  const say = (s: string): void => void process.stdout.write(s + '\n');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promfront-demo-'));
  const removeTmp = (): void => fs.rmSync(tmp, { recursive: true, force: true });
  process.on('exit', removeTmp);
  // Outside check mode, the well-known ports when free: URLs a user may already have bookmarked.
  const port = async (preferred: number): Promise<number> => (!check && (await isPortFree(preferred, HOST)) ? preferred : freePort(HOST));

  let exporter: SyntheticExporter | undefined;
  const proxies: ChildProcess[] = [];
  const proms: PrometheusProcess[] = [];
  const pgws: PushgatewayProcess[] = [];
  let nats: NatsServer | undefined;
  let etcd: EtcdCluster | undefined;
  let am: SimplePeer | undefined;
  let nodeExporter: SimplePeer | undefined;
  let stopping: Promise<void> | undefined;

  const stopAll = (code: number): Promise<void> => {
    stopping ??= (async () => {
      say('\nstopping...');
      // The proxies first: the centre revokes its etcd lease and the edge flushes to NATS while those still run.
      await Promise.allSettled(proxies.map((p) => terminate(p, 10_000)));
      await Promise.allSettled([
        ...proms.map((p) => p.stop()),
        ...pgws.map((p) => p.stop()),
        nats?.close(),
        etcd?.stop(),
        am?.stop(),
        nodeExporter?.stop(),
        exporter?.close(),
      ]);
      removeTmp();
      process.exit(code);
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) {
      say('\nforced exit');
      process.exit(130); // the exit handlers SIGKILL the children and remove the temp dirs
    }
    void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const fatal = async (msg: string): Promise<never> => {
    process.stderr.write(`\nerror: ${msg}\n`);
    await stopAll(1);
    throw new Error('unreachable');
  };

  /** Parts that were not started, with why; parts whose peer failed to start. */
  const skipped: string[] = [];
  const failed: string[] = [];
  /** Starts an optional peer; a missing binary skips its part, a failed start fails it. */
  async function optional<T>(part: string, start: () => Promise<T>): Promise<T | undefined> {
    try {
      return await start();
    } catch (err) {
      const msg = (err as Error).message;
      if (/not found: install it/.test(msg)) {
        skipped.push(`${part}: ${msg}`);
      } else {
        failed.push(`${part}: its peer did not start: ${msg}`);
      }
      return undefined;
    }
  }

  async function startProxy(name: string, configFile: string, args: string[] = []): Promise<string> {
    const logFile = path.join(tmp, `${name}.log`);
    const listen = YAML.parse(fs.readFileSync(configFile, 'utf8')).listen as string;
    const url = `http://${listen}`;
    if (!fs.existsSync(proxyCmd)) await fatal(`the proxy launcher ${proxyCmd} does not exist`);
    const logFd = fs.openSync(logFile, 'a');
    const child = spawn(proxyCmd, [`--config=${configFile}`, ...args], { cwd: root, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    child.once('error', (err) => void fatal(`cannot start ${proxyCmd}: ${err.message}`));
    trackChild(child);
    proxies.push(child);
    let ready = false;
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      void fatal(`the ${name} promfront ${ready ? 'stopped' : 'exited before it was ready'} (${how}); last lines of ${logFile}:\n${logTail(logFile)}`);
    });
    say(`${name}: ${proxyCmd} --config=${configFile} (pid ${child.pid}), waiting for ${url}/-/ready ...`);
    try {
      await waitFor(() => answers200(`${url}/-/ready`), 60_000, `the ${name} promfront at ${url}/-/ready`, 200);
    } catch (err) {
      await fatal(`${(err as Error).message}; last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    ready = true;
    return url;
  }

  // 1. The synthetic exporter, and every optional peer at once.
  exporter = await startSyntheticExporter({ host: HOST, port: await port(9100), series, stepMs: STEP_MS, withTimestamps: false });
  say(`synthetic exporter: ${exporter.url} (${series} series)`);
  let promBin: string | undefined;
  try {
    promBin = findPrometheus();
  } catch {
    skipped.push(
      'Prometheus: prometheus not found, install it with `sudo apt-get install -y prometheus` (Debian/Ubuntu); ' +
        'continuing without the Prometheus servers, the query layer and rules: the shards are still served.',
    );
  }
  say('starting the installed peers (Pushgateways, nats-server, etcd, Alertmanager, node exporter) ...');
  const [pgwList, natsServer, etcdCluster, alertmanager, nodeExp] = await Promise.all([
    optional('push', async () => {
      const started = await Promise.allSettled([...Array(PUSHGATEWAYS).keys()].map(() => startPushgateway()));
      pgws.push(...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
      const bad = started.find((s) => s.status === 'rejected');
      if (bad) throw bad.reason;
      return pgws;
    }),
    optional('stream', async () => (nats = await startNats())),
    optional('fleet', async () => (etcd = await startEtcdCluster(1))),
    promBin ? optional('alerts to Alertmanager', async () => (am = await startAlertmanager(path.join(tmp, 'alertmanager')))) : undefined,
    optional('node exporter (the edge scrapes its own /metrics instead)', async () => (nodeExporter = await startNodeExporter())),
  ]);

  // 2. Addresses, then the configs, all decided before anything reads them.
  const proxyListen = `${HOST}:${await port(9099)}`;
  const promPorts: number[][] = [];
  if (promBin) {
    for (let k = 0; k < shards; k++) {
      const row: number[] = [];
      for (let r = 0; r < replicas; r++) row.push(await port(9090 + k * replicas + r));
      promPorts.push(row);
    }
  }
  const servers = promPorts.map((row) => row.map((p) => `${HOST}:${p}`));
  const configFile = path.join(tmp, 'promfront.yml');
  const rulesFile = path.join(tmp, 'rules.yml');
  fs.writeFileSync(rulesFile, DEMO_RULES);
  fs.writeFileSync(
    configFile,
    centralConfig({
      listen: proxyListen,
      shards,
      scrapeIntervalS: STEP_MS / 1000,
      exporterUrl: exporter.url,
      natsUrl: natsServer?.url,
      pushgateways: pgwList?.map((p) => p.address),
      etcdEndpoint: etcdCluster?.endpoints[0],
      fleetMember: servers[0]?.[0],
      servers: promBin ? servers : undefined,
      rules: promBin
        ? { file: 'rules.yml', remoteWrite: servers[0].map((s) => `http://${s}/api/v1/write`), alertmanagers: alertmanager ? [alertmanager.address] : [] }
        : undefined,
    }),
  );

  // 3. The edge promfront publishes to NATS before the centre subscribes, so the stream exists.
  let edgeUrl: string | undefined;
  let edgeTarget: string | undefined;
  if (natsServer) {
    const edgeListen = `${HOST}:${await freePort(HOST)}`;
    edgeTarget = nodeExp?.address ?? edgeListen;
    const edgeFile = path.join(tmp, 'edge.yml');
    fs.writeFileSync(edgeFile, edgeConfig(edgeListen, natsServer.url, [edgeTarget], STEP_MS / 1000));
    edgeUrl = await startProxy('edge', edgeFile);
  }

  // 4. The central proxy: one config file, every section.
  const proxyUrl = await startProxy('proxy', configFile, ['--web.enable-lifecycle']);
  if (etcdCluster) {
    // A target registered the way a service registry would (promster's layout): etcd's own /metrics.
    const etcdAddress = new URL(etcdCluster.endpoints[0]).host;
    await etcdPut(etcdCluster.endpoints[0], `${DEMO.registryPrefix}/etcd/${etcdAddress}`, '');
  }

  // 5. Prometheus servers: `replicas` per shard, all scraping that shard; shard 0's also scrape the
  // Pushgateways and the fleet's targets (the jobs `./proxy scrape-config` prints for them) and
  // receive the rules' remote write.
  const promLogs: string[] = [];
  if (promBin) {
    const cli = async (args: string[]): Promise<string> => {
      try {
        return (await execFileAsync(proxyCmd, [...args, `--config=${configFile}`], { cwd: root })).stdout;
      } catch (err) {
        const e = err as Error & { stderr?: string };
        return fatal(`${proxyCmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
      }
    };
    const extraJobs: Record<string, unknown>[] = [];
    if (pgwList) extraJobs.push(...scrapeConfigsOf(await cli(['scrape-config'])).filter((j) => j.job_name === 'pushgateway'));
    if (etcdCluster) extraJobs.push(...scrapeConfigsOf(await cli(['scrape-config', '--fleet'])));
    const starts: Promise<void>[] = [];
    for (let k = 0; k < shards; k++) {
      const jobs = [...scrapeConfigsOf(await cli(['scrape-config', `--shard=${k}`])), ...(k === 0 ? extraJobs : [])];
      const configYaml = YAML.stringify({ global: { scrape_interval: `${STEP_MS / 1000}s`, evaluation_interval: `${STEP_MS / 1000}s` }, scrape_configs: jobs });
      for (let r = 0; r < replicas; r++) {
        const logFile = path.join(tmp, `prometheus-${k}-${r}.log`);
        promLogs.push(logFile);
        const extraArgs = k === 0 ? ['--web.enable-remote-write-receiver'] : [];
        starts.push(
          startPrometheus({ configYaml, port: promPorts[k][r], logFile, extraArgs }).then(
            (p) => {
              proms[k * replicas + r] = p;
            },
            (err: Error) => fatal(`Prometheus ${r} for shard ${k} did not start: ${err.message}`),
          ),
        );
      }
    }
    await Promise.all(starts);
  }

  // 6. A few pushes through the proxy, as a batch job would (curl -X PUT --data-binary @- URL).
  const pushUrl = (group: string): string => `${proxyUrl}/metrics/job/demo_batch/instance/${group}`;
  if (pgwList) {
    for (const [i, group] of PUSH_GROUPS.entries()) {
      const body = [
        `# TYPE ${DEMO.pushMetric} gauge`,
        `${DEMO.pushMetric} ${1000 * (i + 1)}`,
        '# TYPE demo_batch_last_success_timestamp_seconds gauge',
        `demo_batch_last_success_timestamp_seconds ${Math.floor(Date.now() / 1000)}`,
        '',
      ].join('\n');
      // The proxy puts the Pushgateways in its ring after their first health check: retry until then.
      let last = '';
      try {
        await waitFor(
          async () => {
            const res = await fetch(pushUrl(group), { method: 'PUT', body, headers: { 'Content-Type': 'text/plain; version=0.0.4' } });
            last = `HTTP ${res.status} ${(await res.text()).trim()}`;
            return res.ok;
          },
          20_000,
          `a push of ${group} through the proxy`,
          500,
        );
      } catch {
        failed.push(`push: PUT ${pushUrl(group)} failed: ${last}`);
        break;
      }
    }
  }

  // 7. What to open.
  const q = (expr: string): string => `${proxyUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const countExpr = 'count({__name__=~".+"})';
  const p90Expr = `histogram_quantile(0.9, sum by (le) (rate(${SYNTHETIC_HISTOGRAM}_bucket[1m])))`;
  const lines: string[] = [
    '',
    `promfront demo: ${series} synthetic series split over ${shards} shards`,
    '',
    `  config        ${configFile}   (one file, every section; the edge's: ${edgeUrl ? path.join(tmp, 'edge.yml') : 'not started'})`,
    `  exporter      ${exporter.url}`,
    `  proxy status  ${proxyUrl}/status`,
    `  web UI        ${proxyUrl}/graph   (query editor, targets, shards, config)`,
  ];
  for (let k = 0; k < shards; k++) {
    lines.push('', `  shard ${k}       ${proxyUrl}/metrics/shard/${k}`);
    for (const p of proms.slice(k * replicas, (k + 1) * replicas)) {
      lines.push(
        `    Prometheus  ${p.url}   (pid ${p.pid})`,
        `      series    ${graphLink(p.url, countExpr, 1)}`,
        `      p90       ${graphLink(p.url, p90Expr, 0)}`,
      );
    }
  }
  if (proms.length > 0) {
    // Fixed ends around the demo's start, so the same URL can be re-run for the next hour.
    const rangeEnd = Math.floor(Date.now() / 60_000) * 60 + 3600;
    const rangeUrl = `${proxyUrl}/api/v1/query_range?query=${encodeURIComponent(`sum(rate(${SYNTHETIC_COUNTER}[1m]))`)}&start=${rangeEnd - 7200}&end=${rangeEnd}&step=15`;
    lines.push(
      '',
      `  query layer: all shards as one Prometheus (point Grafana or promtool at ${proxyUrl})`,
      `    series      ${q('count({cluster="demo", __name__=~"ceph_.+"})')}`,
      `    p90         ${q(p90Expr)}`,
      `    promtool    promtool query instant ${proxyUrl} '${countExpr}'`,
      '    kill one replica of a shard: the answers stay the same, with a warning naming it',
      '    (rates need two scrapes: give it ~15 s)',
      '',
      '  results cache: run this twice; the header says miss, then partial (only the last 10 minutes are evaluated again)',
      `    curl -s -o /dev/null -D - '${rangeUrl}' | grep -i x-promfront-results-cache`,
      '',
      `  rules (${rulesFile}), evaluated every ${STEP_MS / 1000}s over every shard, remote-written to shard 0`,
      `    recorded    ${q(DEMO.record)}`,
      `    alerts      ${q(`ALERTS{alertname="${DEMO.alert}"}`)}`,
      `    rules API   ${proxyUrl}/api/v1/rules   and   ${proxyUrl}/api/v1/alerts`,
      am ? `    Alertmanager ${am.url}/#/alerts   (pid ${am.pid})` : '    Alertmanager: not running (see skipped parts below)',
    );
  }
  if (pgws.length > 0) {
    lines.push(
      '',
      `  push: ${pgws.length} Pushgateways behind the proxy (each group goes to the one that owns it)`,
      ...pgws.map((p) => `    Pushgateway ${p.url}`),
      `    push        echo 'my_job_duration_seconds 42' | curl --data-binary @- ${proxyUrl}/metrics/job/my_job`,
      `    pushed      ${PUSH_GROUPS.length} groups of job demo_batch: ${proms.length > 0 ? q(DEMO.pushMetric) : `${pgws[0].url}/#`}`,
      `    discovery   ${proxyUrl}/sd/pushgateways   (shard 0's Prometheus scrapes them through it)`,
    );
  }
  if (nats && edgeUrl) {
    const { name, value } = DEMO.edgeLabel;
    lines.push(
      '',
      `  stream: nats-server -js ${nats.url}; the edge promfront ${edgeUrl} publishes its scrapes of ${edgeTarget}${nodeExporter ? ' (node exporter)' : ' (its own /metrics)'}`,
      `    edge status ${edgeUrl}/status`,
      `    on shards   ${proxyUrl}/metrics/shard/0 … (series with ${name}="${value}")`,
      proms.length > 0 ? `    queried     ${q(`count by (job, instance) ({${name}="${value}"})`)}` : '',
    );
  }
  if (etcd) {
    lines.push(
      '',
      `  fleet: etcd ${etcd.endpoints[0]}${servers[0] ? `, ${servers[0][0]} registered in group ${DEMO.fleetGroup}` : ''}`,
      `    targets     ${proxyUrl}/sd/fleet?group=${DEMO.fleetGroup}   (HTTP SD; shard 0's Prometheus scrapes it)`,
      `    members     ${proxyUrl}/sd/fleet/members`,
      `    register    etcdctl --endpoints=${etcd.endpoints[0]} put ${DEMO.registryPrefix}/node/127.0.0.1:9100 ''   (a new target appears)`,
    );
  }
  if (skipped.length > 0 || failed.length > 0) lines.push('', '  skipped (peer not installed) or failed', ...[...skipped, ...failed].map((s) => `    ${s}`));
  lines.push(
    '',
    '  logs',
    ...fs
      .readdirSync(tmp)
      .filter((f) => f.endsWith('.log'))
      .map((f) => `    ${path.join(tmp, f)}`),
  );
  say(lines.join('\n'));

  if (!check) {
    say('\nCtrl-C to stop.');
    return;
  }

  // 8. --check: ask every part, print the answers, stop everything.
  const plan: DemoCheckPlan = {
    proxyUrl,
    shards,
    series,
    promUrl: proms[0]?.url,
    query: proms.length > 0,
    push: pgws.length > 0 ? { pushgatewayUrls: pgws.map((p) => p.url), metric: DEMO.pushMetric, groups: PUSH_GROUPS.length } : undefined,
    stream: edgeUrl ? { label: DEMO.edgeLabel.name, value: DEMO.edgeLabel.value } : undefined,
    fleet: etcd ? { group: DEMO.fleetGroup, member: servers[0]?.[0], targets: [proxyListen, new URL(etcd.endpoints[0]).host] } : undefined,
    rules: proms.length > 0 ? { record: DEMO.record, alert: DEMO.alert, alertmanagerUrl: am?.url } : undefined,
  };
  say('\nchecking every part ...');
  const results = await runDemoChecks(plan, Number(process.env.PROMFRONT_DEMO_CHECK_TIMEOUT_MS) || 75_000);
  for (const r of results) say(`  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.part.padEnd(15)} ${r.detail}`);
  for (const s of skipped) say(`  skip  ${s}`);
  for (const f of failed) say(`  FAIL  ${f}`);
  const ok = results.every((r) => r.ok) && failed.length === 0;
  say(ok ? '\ndemo check passed' : '\ndemo check FAILED');
  await stopAll(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
