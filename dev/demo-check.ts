// The checks behind `npm run demo -- --check`: after the demo has started, ask each part the
// question a user would (through the proxy's HTTP API, Prometheus's, the Pushgateways', Alertmanager's)
// until it answers as it should or the deadline passes. They run in parallel so the slowest part
// (a recorded series needs a scrape, a rate window, an evaluation and a remote write) sets the time.

export interface DemoCheckPlan {
  proxyUrl: string;
  shards: number;
  /** Series of the synthetic exporter: the query layer must count exactly these. */
  series: number;
  /** A Prometheus of shard 0 (it scrapes the Pushgateways and receives the rules' remote write). */
  promUrl?: string;
  query: boolean;
  push?: { pushgatewayUrls: string[]; metric: string; groups: number };
  stream?: { label: string; value: string };
  fleet?: { group: string; member?: string; targets: string[] };
  rules?: { record: string; alert: string; alertmanagerUrl?: string };
}

export interface DemoCheckResult {
  part: string;
  ok: boolean;
  detail: string;
}

type Attempt = { ok: boolean; detail: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function instant(base: string, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const body = await getJson(`${base}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

/** Retries `attempt` until it reports ok or the deadline passes; the last answer is the result. */
async function until(part: string, deadline: number, attempt: () => Promise<Attempt>): Promise<DemoCheckResult> {
  let last: Attempt;
  for (;;) {
    try {
      last = await attempt();
    } catch (err) {
      last = { ok: false, detail: (err as Error).message };
    }
    if (last.ok || Date.now() >= deadline) return { part, ...last };
    await sleep(1000);
  }
}

async function shardBodies(plan: DemoCheckPlan): Promise<string[]> {
  return Promise.all(
    [...Array(plan.shards).keys()].map(async (k) => {
      const res = await fetch(`${plan.proxyUrl}/metrics/shard/${k}`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`/metrics/shard/${k} answered HTTP ${res.status}`);
      return res.text();
    }),
  );
}

const sampleLines = (body: string): string[] => body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

export async function runDemoChecks(plan: DemoCheckPlan, timeoutMs: number): Promise<DemoCheckResult[]> {
  const deadline = Date.now() + timeoutMs;
  const p = plan.proxyUrl;
  const checks: Promise<DemoCheckResult>[] = [];

  checks.push(
    until('sharding', deadline, async () => {
      const counts = (await shardBodies(plan)).map((b) => sampleLines(b).filter((l) => l.includes('cluster="demo"')).length);
      const total = counts.reduce((a, b) => a + b, 0);
      return {
        ok: total === plan.series && counts.every((c) => c > 0),
        detail: `${total} of ${plan.series} exporter series over the shards (${counts.join(' + ')})`,
      };
    }),
  );

  checks.push(
    until('web UI', deadline, async () => {
      const res = await fetch(`${p}/graph`, { signal: AbortSignal.timeout(10_000) });
      const type = res.headers.get('content-type') ?? '';
      await res.arrayBuffer();
      return { ok: res.status === 200 && type.includes('text/html'), detail: `GET /graph: HTTP ${res.status} ${type}` };
    }),
  );

  if (plan.query) {
    checks.push(
      until('query layer', deadline, async () => {
        // The name filter leaves out the rules' recorded series, which carry cluster="demo" too.
        const expr = 'count({cluster="demo", __name__=~"ceph_.+"})';
        const r = await instant(p, expr);
        const n = Number(r[0]?.value[1] ?? 0);
        return { ok: n === plan.series, detail: `${expr} through the proxy = ${n} (expected ${plan.series})` };
      }),
    );
    checks.push(
      until('results cache', deadline, async () => {
        const end = Math.floor(Date.now() / 60_000) * 60;
        const url = `${p}/api/v1/query_range?${new URLSearchParams({ query: 'sum(rate(ceph_osd_op_w_total[1m]))', start: String(end - 1800), end: String(end), step: '15' })}`;
        const outcomes: string[] = [];
        for (let i = 0; i < 2; i++) {
          const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`query_range answered HTTP ${res.status}`);
          outcomes.push(res.headers.get('x-promfront-results-cache') ?? '(no header)');
        }
        return { ok: outcomes[0] !== '(no header)' && /^(hit|partial)$/.test(outcomes[1]), detail: `X-Promfront-Results-Cache: ${outcomes.join(', then ')}` };
      }),
    );
  }

  if (plan.push) {
    const { metric, groups, pushgatewayUrls } = plan.push;
    checks.push(
      until('push', deadline, async () => {
        const held = await Promise.all(pushgatewayUrls.map(async (u) => ((await getJson(`${u}/api/v1/metrics`)).data as unknown[]).length));
        const parts = [`groups per Pushgateway: ${held.join(', ')}`];
        let ok = held.reduce((a, b) => a + b, 0) === groups;
        if (plan.promUrl) {
          const n = (await instant(plan.promUrl, metric)).length;
          parts.push(`${metric} in Prometheus: ${n} of ${groups}`);
          ok &&= n === groups;
        }
        if (plan.query) {
          const n = (await instant(p, metric)).length;
          parts.push(`through the proxy: ${n}`);
          ok &&= n === groups;
        }
        return { ok, detail: parts.join('; ') };
      }),
    );
  }

  if (plan.stream) {
    const { label, value } = plan.stream;
    checks.push(
      until('stream (NATS)', deadline, async () => {
        const served = (await shardBodies(plan)).flatMap(sampleLines).filter((l) => l.includes(`${label}="${value}"`)).length;
        const parts = [`${served} series with ${label}="${value}" served on the shards`];
        let ok = served > 0;
        if (plan.query) {
          const n = Number((await instant(p, `count({${label}="${value}"})`))[0]?.value[1] ?? 0);
          parts.push(`${n} through the query layer`);
          ok &&= n > 0;
        }
        return { ok, detail: parts.join(', ') };
      }),
    );
  }

  if (plan.fleet) {
    const { group, member, targets } = plan.fleet;
    checks.push(
      until('fleet (etcd)', deadline, async () => {
        const sd = (await getJson(`${p}/sd/fleet?group=${group}`)) as { targets: string[] }[];
        const members = (await getJson(`${p}/sd/fleet/members?group=${group}`)) as { targets: string[] }[];
        const listed = sd.flatMap((t) => t.targets);
        const live = members.flatMap((t) => t.targets);
        const ok = targets.every((t) => listed.includes(t)) && (member === undefined || live.includes(member));
        return { ok, detail: `/sd/fleet?group=${group}: ${listed.join(', ') || 'none'}; members: ${live.join(', ') || 'none'}` };
      }),
    );
  }

  if (plan.rules) {
    const { record, alert, alertmanagerUrl } = plan.rules;
    checks.push(
      until('rules', deadline, async () => {
        const recorded = await instant(p, record);
        const alerts = await instant(p, `ALERTS{alertname="${alert}",alertstate="firing"}`);
        const parts = [
          `${record}: ${recorded.length ? recorded.map((r) => Number(r.value[1]).toFixed(2)).join(', ') : 'none'}`,
          `ALERTS firing: ${alerts.length}`,
        ];
        let ok = recorded.length > 0 && alerts.length > 0;
        if (alertmanagerUrl) {
          const inAm = ((await getJson(`${alertmanagerUrl}/api/v2/alerts`)) as { labels: Record<string, string> }[]).filter(
            (a) => a.labels.alertname === alert,
          );
          parts.push(`in Alertmanager: ${inAm.length}`);
          ok &&= inAm.length > 0;
        }
        return { ok, detail: parts.join('; ') };
      }),
    );
  }

  return Promise.all(checks);
}
