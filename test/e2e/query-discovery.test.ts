// Service discovery for server groups: Prometheus's file_sd format, file discovery through fs.watch
// and refresh_interval, DNS A/AAAA/SRV discovery against a local UDP DNS server, and the query
// layer following the changing target lists end to end (real Prometheus 2.42 replicas for file SD,
// small JSON-API servers for DNS SD).
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, loadIntoMemory, startBackfilledPrometheus } from '../../dev/backfill.js';
import { withoutStretches } from '../../dev/split.js';
import { freePort, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { DnsDiscovery } from '../../src/query/discovery/dns-sd.js';
import { FileDiscovery } from '../../src/query/discovery/file-sd.js';
import { globElementToRegExp } from '../../src/query/discovery/glob.js';
import { parseTargetGroupsFile, type DiscoveryLog } from '../../src/query/discovery/target.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { type Series } from '../../src/storage/interface.js';
import { labelsToRecord } from '../../src/model/labels.js';
import { createQueryLayer, type QueryLayer } from '../../src/server/query-layer.js';
import { startApiServer, type ApiServer } from '../support/api-server.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { GroupError } from '../../src/errors.js';

const MIN = 60_000;
const tmp = mkdtempSync(join(tmpdir(), 'promfront-sd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const d = join(tmp, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** Writes like SD tools do: a temporary file renamed over the target. */
function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

interface LogLine {
  level: string;
  obj: object;
  msg: string;
}
function captureLog(): DiscoveryLog & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
  };
}

const addresses = (d: { targets(): readonly { address: string }[] }): string[] => d.targets().map((t) => t.address);

describe('file_sd file format', () => {
  it('reads JSON and YAML target groups; labels go with their targets, "__" labels are left out', () => {
    const json = JSON.stringify([{ targets: ['10.0.0.1:9090', 'prom-b.example:9090'], labels: { dc: 'east', __meta_x: 'y' } }, { targets: ['[::1]:9090'] }]);
    const expected = [
      { address: '10.0.0.1:9090', labels: { dc: 'east' } },
      { address: 'prom-b.example:9090', labels: { dc: 'east' } },
      { address: '[::1]:9090', labels: {} },
    ];
    expect(parseTargetGroupsFile(json, '/sd/a.json')).toEqual(expected);
    const yaml = `- targets: [10.0.0.1:9090, "prom-b.example:9090"]\n  labels: {dc: east, __meta_x: y}\n- targets:\n    - "[::1]:9090"\n`;
    expect(parseTargetGroupsFile(yaml, '/sd/a.yml')).toEqual(expected);
    expect(parseTargetGroupsFile('', '/sd/empty.yaml')).toEqual([]);
    expect(parseTargetGroupsFile('[]', '/sd/empty.json')).toEqual([]);
  });

  it('says what is wrong with a malformed file', () => {
    const err = (text: string, file = '/sd/x.json'): string => {
      try {
        parseTargetGroupsFile(text, file);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(err('[{"targets": ["a:1"]')).toMatch(/^invalid JSON: /);
    expect(err('- targets: [a:1\n', '/sd/x.yaml')).toMatch(/^invalid YAML: /);
    expect(err('{"targets": ["a:1"]}')).toBe('must be a list of target groups ({targets: [...], labels: {...}})');
    expect(err('[{"targets": ["no-port"]}]')).toBe('target group 0: target "no-port" is not host:port');
    expect(err('[{"targets": ["a:1"]}, {"targets": ["b:1"], "labels": {"bad-name": "x"}}]')).toBe('target group 1: invalid label name "bad-name"');
    expect(err('[{"targets": ["a:1"], "labels": {"n": 1}}]')).toBe('target group 0: label n must be a string');
    expect(err('[{"targets": ["a:1"], "lables": {}}]')).toBe('target group 0: unknown field "lables"');
  });

  it("matches file names like Go's filepath.Match", () => {
    const m = (pattern: string, name: string): boolean => globElementToRegExp(pattern).test(name);
    expect(m('*.json', 'a.json')).toBe(true);
    expect(m('*.json', 'a.json.tmp')).toBe(false);
    expect(m('*.json', '.hidden.json')).toBe(true);
    expect(m('shard-?.yml', 'shard-1.yml')).toBe(true);
    expect(m('shard-?.yml', 'shard-10.yml')).toBe(false);
    expect(m('shard-[ab].yml', 'shard-b.yml')).toBe(true);
    expect(m('shard-[^ab].yml', 'shard-b.yml')).toBe(false);
    expect(m('shard-[0-9].yml', 'shard-7.yml')).toBe(true);
    expect(m('a+b(1).json', 'a+b(1).json')).toBe(true);
  });
});

describe('FileDiscovery', () => {
  const running: FileDiscovery[] = [];
  afterEach(() => {
    for (const d of running.splice(0)) d.stop();
  });
  function discover(files: string[], refreshIntervalMs = 3_600_000, log?: DiscoveryLog): { d: FileDiscovery; changes: number[] } {
    const d = new FileDiscovery({ name: 'test file_sd_configs[0]', files, refreshIntervalMs, log, settleMs: 10 });
    running.push(d);
    const changes: number[] = [];
    return { d, changes };
  }

  it('picks up added, changed and removed files through fs.watch (refresh_interval far away)', async () => {
    const dir = freshDir();
    writeAtomic(join(dir, 'a.json'), JSON.stringify([{ targets: ['10.0.0.1:9090'] }]));
    writeFileSync(join(dir, 'ignored.txt'), JSON.stringify([{ targets: ['10.9.9.9:9090'] }]));
    const { d, changes } = discover([join(dir, '*.json')]);
    await d.start(() => changes.push(d.targets().length));
    expect(addresses(d)).toEqual(['10.0.0.1:9090']);

    writeAtomic(join(dir, 'b.json'), JSON.stringify([{ targets: ['10.0.0.2:9090', '10.0.0.1:9090'] }]));
    await waitFor(async () => d.targets().length === 2, 5000, 'b.json to be picked up');
    expect(addresses(d)).toEqual(['10.0.0.1:9090', '10.0.0.2:9090']); // deduplicated, a.json first

    writeFileSync(join(dir, 'a.json'), JSON.stringify([{ targets: ['10.0.0.3:9090'] }])); // in place
    await waitFor(async () => addresses(d).includes('10.0.0.3:9090'), 5000, 'a.json change');
    expect(addresses(d)).toEqual(['10.0.0.3:9090', '10.0.0.2:9090', '10.0.0.1:9090']);

    rmSync(join(dir, 'b.json'));
    await waitFor(async () => d.targets().length === 1, 5000, 'b.json removal');
    expect(addresses(d)).toEqual(['10.0.0.3:9090']);
    expect(changes.length).toBeGreaterThanOrEqual(3);
    expect(d.errors).toBe(0);
  });

  it('keeps the last good targets of a malformed or unreadable file, logs and counts the error naming the file', async () => {
    const dir = freshDir();
    const good = join(dir, 'a-good.yml');
    const flaky = join(dir, 'b-flaky.yml');
    writeAtomic(good, '- targets: ["10.0.0.1:9090"]\n');
    writeAtomic(flaky, '- targets: ["10.0.0.2:9090"]\n  labels: {replica: b}\n');
    const log = captureLog();
    const { d } = discover([join(dir, '*.yml')], 3_600_000, log);
    await d.start(() => {});
    expect(d.targets()).toEqual([
      { address: '10.0.0.1:9090', labels: {} },
      { address: '10.0.0.2:9090', labels: { replica: 'b' } },
    ]);

    writeAtomic(flaky, '- targets: ["10.0.0.2:9090"\n'); // truncated
    await waitFor(async () => d.errors === 1, 5000, 'the malformed file to be read');
    expect(d.targets()).toEqual([
      { address: '10.0.0.1:9090', labels: {} },
      { address: '10.0.0.2:9090', labels: { replica: 'b' } },
    ]);
    const line = log.lines.find((l) => l.level === 'error');
    expect(line?.msg).toContain(flaky);
    expect(line?.msg).toMatch(/invalid YAML/);
    expect(line?.obj).toMatchObject({ file: flaky, kept_targets: 1 });
    expect(d.failures().get(flaky)).toMatch(/^invalid YAML/);

    // Other files still change meanwhile.
    writeAtomic(good, '- targets: ["10.0.0.5:9090"]\n');
    await waitFor(async () => addresses(d)[0] === '10.0.0.5:9090', 5000, 'good.yml change');
    expect(addresses(d)).toEqual(['10.0.0.5:9090', '10.0.0.2:9090']);

    // Fixed: its new content counts, and the recovery is logged.
    writeAtomic(flaky, '- targets: ["10.0.0.6:9090"]\n');
    await waitFor(async () => addresses(d).includes('10.0.0.6:9090'), 5000, 'flaky.yml fix');
    expect(addresses(d)).toEqual(['10.0.0.5:9090', '10.0.0.6:9090']);
    expect(d.failures().size).toBe(0);
    expect(log.lines.some((l) => l.level === 'info' && (l.obj as { file?: string }).file === flaky)).toBe(true);

    // A file that becomes unreadable (a directory in its place) also keeps its targets.
    rmSync(flaky);
    mkdirSync(flaky);
    await waitFor(async () => d.failures().has(flaky), 5000, 'flaky.yml to become unreadable');
    expect(d.failures().get(flaky)).toBe('cannot read file: EISDIR');
    expect(addresses(d)).toEqual(['10.0.0.5:9090', '10.0.0.6:9090']);
  });

  it('a file that was malformed from the start adds nothing, and its error is counted', async () => {
    const dir = freshDir();
    writeAtomic(join(dir, 'bad.json'), '[{"targets": ["nope"]}]');
    const log = captureLog();
    const { d } = discover([join(dir, 'bad.json')], 3_600_000, log);
    await d.start(() => {});
    expect(d.targets()).toEqual([]);
    expect(d.errors).toBe(1);
    expect(log.lines[0].msg).toBe(
      `file_sd: cannot use ${join(dir, 'bad.json')}: target group 0: target "nope" is not host:port; keeping its last good targets`,
    );
  });

  it('reads again every refresh_interval, e.g. a directory that did not exist when watches were set', async () => {
    const dir = join(freshDir(), 'later');
    const log = captureLog();
    const { d } = discover([join(dir, '*.json')], 100, log);
    await d.start(() => {});
    expect(d.targets()).toEqual([]);
    expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('cannot watch directory'))).toBe(true);
    mkdirSync(dir);
    writeAtomic(join(dir, 'x.json'), JSON.stringify([{ targets: ['10.0.0.7:9090'] }]));
    await waitFor(async () => d.targets().length === 1, 5000, 'the refresh to find x.json');
    expect(addresses(d)).toEqual(['10.0.0.7:9090']);
  });
});

describe('DnsDiscovery (local UDP DNS server)', () => {
  let dns: DnsServer;
  const running: DnsDiscovery[] = [];
  beforeAll(async () => {
    dns = await startDnsServer();
  });
  afterAll(async () => {
    await dns?.close();
  });
  afterEach(() => {
    for (const d of running.splice(0)) d.stop();
    dns.mode = 'answer';
    dns.table = { A: {}, AAAA: {}, SRV: {} };
  });
  function discover(opts: { names: string[]; type: 'SRV' | 'A' | 'AAAA'; port?: number; log?: DiscoveryLog; servers?: string[] }): DnsDiscovery {
    const d = new DnsDiscovery({ name: 'test dns_sd_configs[0]', refreshIntervalMs: 3_600_000, servers: [dns.address], timeoutMs: 2000, tries: 1, ...opts });
    running.push(d);
    return d;
  }

  it('A records: one target per address with the configured port, following the answers', async () => {
    dns.table.A['prom.test'] = ['127.0.0.3', '127.0.0.1'];
    const d = discover({ names: ['prom.test'], type: 'A', port: 9090 });
    let changes = 0;
    await d.start(() => changes++);
    expect(addresses(d)).toEqual(['127.0.0.1:9090', '127.0.0.3:9090']);
    expect(dns.questions).toContain('A prom.test');
    dns.table.A['prom.test'] = ['127.0.0.1'];
    await d.refresh();
    expect(addresses(d)).toEqual(['127.0.0.1:9090']);
    expect(changes).toBe(2);
    await d.refresh(); // same answer: no change reported
    expect(changes).toBe(2);
  });

  it('AAAA records become [address]:port', async () => {
    dns.table.AAAA['v6.test'] = ['::1', 'fd00::7'];
    const d = discover({ names: ['v6.test'], type: 'AAAA', port: 9090 });
    await d.start(() => {});
    expect(addresses(d)).toEqual(['[::1]:9090', '[fd00::7]:9090']);
  });

  it('SRV records give host and port; several names are joined in config order', async () => {
    dns.table.SRV['_prometheus._tcp.shard0.test'] = [
      { target: 'prom-b.test.', port: 9091 },
      { target: 'prom-a.test', port: 9090 },
    ];
    dns.table.SRV['_prometheus._tcp.extra.test'] = [
      { target: 'prom-a.test', port: 9090 },
      { target: 'prom-c.test', port: 9092 },
    ];
    const d = discover({ names: ['_prometheus._tcp.shard0.test', '_prometheus._tcp.extra.test'], type: 'SRV' });
    await d.start(() => {});
    expect(addresses(d)).toEqual(['prom-a.test:9090', 'prom-b.test:9091', 'prom-c.test:9092']);
  });

  it('a failed lookup (SERVFAIL, unreachable server) keeps the last good targets and is logged and counted', async () => {
    dns.table.SRV['_prom._tcp.test'] = [{ target: 'prom-a.test', port: 9090 }];
    const log = captureLog();
    const d = discover({ names: ['_prom._tcp.test'], type: 'SRV', log });
    await d.start(() => {});
    expect(addresses(d)).toEqual(['prom-a.test:9090']);

    dns.mode = 'servfail';
    await d.refresh();
    expect(addresses(d)).toEqual(['prom-a.test:9090']);
    expect(d.errors).toBe(1);
    expect(d.failures().get('_prom._tcp.test')).toBe('ESERVFAIL');
    expect(log.lines.at(-1)).toMatchObject({
      level: 'error',
      obj: { dns_name: '_prom._tcp.test', err: 'ESERVFAIL', kept_targets: 1 },
      msg: 'dns_sd: SRV lookup of _prom._tcp.test failed: ESERVFAIL; keeping its last good targets',
    });

    dns.mode = 'answer';
    dns.table.SRV['_prom._tcp.test'] = [{ target: 'prom-b.test', port: 9091 }];
    await d.refresh();
    expect(addresses(d)).toEqual(['prom-b.test:9091']);
    expect(d.failures().size).toBe(0);

    // A DNS server that is not there at all.
    const closedPort = await freePort();
    const lonely = discover({ names: ['_prom._tcp.test'], type: 'SRV', servers: [`127.0.0.1:${closedPort}`] });
    await lonely.start(() => {});
    expect(lonely.targets()).toEqual([]);
    expect(lonely.errors).toBe(1);
    expect(lonely.failures().get('_prom._tcp.test')).toMatch(/^E[A-Z]+$/);
  });

  it('NXDOMAIN and an empty answer mean no targets (as in Prometheus), not a failure', async () => {
    dns.table.A['prom.test'] = ['127.0.0.1'];
    const d = discover({ names: ['prom.test'], type: 'A', port: 9090 });
    await d.start(() => {});
    expect(addresses(d)).toEqual(['127.0.0.1:9090']);
    dns.table.A['prom.test'] = [];
    await d.refresh();
    expect(addresses(d)).toEqual([]);
    dns.table.A = {};
    await d.refresh();
    expect(addresses(d)).toEqual([]);
    expect(d.errors).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

function summary(ss: Series[]): { labels: Record<string, string>; ts: number[]; vs: number[] }[] {
  return ss.map((s) => ({ labels: labelsToRecord(s.labels), ts: Array.from(s.timestamps), vs: Array.from(s.values) }));
}

const eq = (name: string, value: string): LabelMatcher => ({ type: '=', name, value });

describe('file_sd end to end: the query layer follows the file (Prometheus 2.42 replicas)', () => {
  let promA: PrometheusProcess;
  let promB: PrometheusProcess;
  let layer: QueryLayer;
  let sdFile: string;
  const log = captureLog();
  const memory = { a: loadIntoMemory(generateBackfillData()), b: loadIntoMemory(generateBackfillData()), full: loadIntoMemory(generateBackfillData()) };
  const [START, END] = [BACKFILL_START_MS, BACKFILL_END_MS];
  const METRIC = [eq('__name__', 'http_requests_total')];

  beforeAll(async () => {
    const data = generateBackfillData();
    const a = withoutStretches(data, [{ fromMs: START + 20 * MIN, toMs: START + 40 * MIN }]);
    const b = withoutStretches(data, [{ fromMs: START + 70 * MIN, toMs: START + 90 * MIN }]);
    memory.a = loadIntoMemory(a);
    memory.b = loadIntoMemory(b);
    [promA, promB] = await Promise.all([a, b].map(startBackfilledPrometheus));
    const dir = freshDir();
    sdFile = join(dir, 'shard-0.json');
    writeAtomic(sdFile, JSON.stringify([{ targets: [`127.0.0.1:${promA.port}`] }]));
    const q = parseConfigText(`
query:
  semantics: prometheus-2
  server_groups:
    - name: shard-0
      file_sd_configs:
        - files: ["${join(dir, '*.json')}"]
          refresh_interval: 1h
`).query!;
    layer = createQueryLayer(q, { log });
    await layer.ready;
  }, 180_000);

  afterAll(async () => {
    await layer?.close();
    await Promise.all([promA, promB].filter(Boolean).map((p) => p.stop()));
  });

  const targetsNow = (): string[] => addresses(layer.groups[0].targets);
  const select = (matchers: LabelMatcher[]): Promise<Series[]> => layer.fanout.forQuery().storage.select(matchers, START, END);

  it("starts with the one replica the file lists: the other replica's data is not there", async () => {
    expect(targetsNow()).toEqual([`127.0.0.1:${promA.port}`]);
    const got = summary(await select(METRIC));
    expect(got).toEqual(summary(await memory.a.select(METRIC, START, END)));
    expect(got).not.toEqual(summary(await memory.full.select(METRIC, START, END)));
  });

  it("a replica added to the file is queried: the replicas' gaps fill each other", async () => {
    writeAtomic(sdFile, JSON.stringify([{ targets: [`127.0.0.1:${promA.port}`, `127.0.0.1:${promB.port}`] }]));
    await waitFor(async () => targetsNow().length === 2, 5000, 'the second replica');
    expect(summary(await select(METRIC))).toEqual(summary(await memory.full.select(METRIC, START, END)));
    expect(layer.groups[0].pool.openClients().sort()).toEqual([`127.0.0.1:${promA.port}`, `127.0.0.1:${promB.port}`].sort());
  });

  it('a replica removed from the file is no longer queried and its client is closed', async () => {
    writeAtomic(sdFile, JSON.stringify([{ targets: [`127.0.0.1:${promB.port}`] }]));
    await waitFor(async () => targetsNow().length === 1, 5000, 'the removal');
    expect(targetsNow()).toEqual([`127.0.0.1:${promB.port}`]);
    expect(summary(await select(METRIC))).toEqual(summary(await memory.b.select(METRIC, START, END)));
    expect(layer.groups[0].pool.openClients()).toEqual([`127.0.0.1:${promB.port}`]);
    expect(log.lines.some((l) => l.msg === 'server group "shard-0": targets changed')).toBe(true);
  });

  it('a malformed file keeps the last good target list and queries keep working', async () => {
    const discoverer = layer.groups[0].targets.discoverers[0];
    const before = discoverer.errors;
    writeAtomic(sdFile, '[{"targets": [');
    await waitFor(async () => discoverer.errors > before, 5000, 'the malformed file to be read');
    expect(targetsNow()).toEqual([`127.0.0.1:${promB.port}`]);
    expect(summary(await select(METRIC))).toEqual(summary(await memory.b.select(METRIC, START, END)));
    expect(log.lines.some((l) => l.level === 'error' && l.msg.startsWith(`file_sd: cannot use ${sdFile}: invalid JSON`))).toBe(true);
  });

  it("target group labels are added to that target's series and answer matchers locally", async () => {
    writeAtomic(sdFile, JSON.stringify([{ targets: [`127.0.0.1:${promB.port}`], labels: { dc: 'west', __meta_ignored: 'x' } }]));
    await waitFor(async () => layer.groups[0].targets.targets()[0]?.labels.dc === 'west', 5000, 'the labels');
    const expected = summary(await memory.b.select(METRIC, START, END)).map((s) => ({ ...s, labels: { ...s.labels, dc: 'west' } }));
    const got = summary(await select([...METRIC, eq('dc', 'west')]));
    expect(got).toEqual(expected);
    expect(await select([...METRIC, eq('dc', 'east')])).toEqual([]);
    const storage = layer.fanout.forQuery().storage;
    expect(await storage.labelValues('dc', [], START, END)).toEqual(['west']);
    expect(await storage.labelNames(METRIC, START, END)).toContain('dc');
    expect(await storage.labelNames(METRIC, START, END)).not.toContain('__meta_ignored');
  });

  it('when the file lists no targets the group fails saying it has no targets, and the API answers 503', async () => {
    rmSync(sdFile);
    await waitFor(async () => targetsNow().length === 0, 5000, 'the file removal');
    const err = await select(METRIC).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GroupError);
    expect((err as Error).message).toBe('server group "shard-0" failed: no targets: service discovery currently finds none');
    const res = await layer.api.request(`/query?query=up&time=${END / 1000}`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; errorType: string; error: string };
    expect(body).toMatchObject({ status: 'error', errorType: 'unavailable' });
    expect(body.error).toContain('no targets');
    expect(layer.groups[0].pool.openClients()).toEqual([]);
  });
});

describe('query layer with DNS discovery and ignore_error (JSON-API servers)', () => {
  let dns: DnsServer;
  let s1: ApiServer;
  let s2: ApiServer;
  let fixed: ApiServer;
  let layer: QueryLayer;
  let emptyDir: string;

  beforeAll(async () => {
    dns = await startDnsServer();
    // Two servers on one port of two loopback addresses: an A record lists addresses, not ports.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      try {
        s1 = await startApiServer({ name: 's1', host: '127.0.0.1', port });
        s2 = await startApiServer({ name: 's2', host: '127.0.0.2', port });
        break;
      } catch (err) {
        await s1?.close();
        if (attempt === 4) throw new Error(`cannot bind 127.0.0.1 and 127.0.0.2 on one port: ${(err as Error).message}`, { cause: err });
      }
    }
    fixed = await startApiServer({ name: 'fixed' });
    dns.table.A['shard1.test'] = ['127.0.0.1'];
    emptyDir = freshDir();
    writeAtomic(join(emptyDir, 'none.json'), '[]');
    const q = parseConfigText(`
query:
  server_groups:
    - name: dns
      dns_sd_configs: [{names: [shard1.test], type: A, port: ${s1.port}, refresh_interval: 100ms}]
    - name: static
      static_configs: [{targets: ["127.0.0.1:${fixed.port}"]}]
    - name: nobody
      file_sd_configs: [{files: ["${join(emptyDir, '*.json')}"]}]
      ignore_error: true
`).query!;
    layer = createQueryLayer(q, { dnsServers: [dns.address] });
    await layer.ready;
  }, 60_000);

  afterAll(async () => {
    await layer?.close();
    await Promise.all([s1, s2, fixed].filter(Boolean).map((s) => s.close()));
    await dns?.close();
  });

  const servers = async (): Promise<{ servers: string[]; warnings: string[] }> => {
    const { storage, warnings } = layer.fanout.forQuery();
    const ss = await storage.select([eq('__name__', 'up')], 1_000_000, 1_060_000);
    return { servers: ss.map((s) => labelsToRecord(s.labels).server), warnings };
  };

  it('queries the addresses DNS gives now; a group with no targets and ignore_error only warns', async () => {
    const r = await servers();
    expect(r.servers).toEqual(['fixed', 's1']);
    expect(r.warnings).toEqual(['server group "nobody" failed: no targets: service discovery currently finds none']);
    expect(s1.requests.length).toBeGreaterThan(0);
    expect(s2.requests).toEqual([]);
  });

  it('follows the DNS answers; a failing DNS server keeps the targets; a removed address is no longer asked', async () => {
    dns.table.A['shard1.test'] = ['127.0.0.1', '127.0.0.2'];
    await waitFor(async () => layer.groups[0].targets.targets().length === 2, 5000, 'the second address');
    expect((await servers()).servers).toEqual(['fixed', 's1', 's2']);

    dns.mode = 'servfail';
    const d = layer.groups[0].targets.discoverers[0];
    const before = d.errors;
    await waitFor(async () => d.errors > before + 1, 5000, 'failed lookups');
    expect(addresses(layer.groups[0].targets)).toEqual([`127.0.0.1:${s1.port}`, `127.0.0.2:${s1.port}`]);
    expect((await servers()).servers).toEqual(['fixed', 's1', 's2']);

    dns.mode = 'answer';
    dns.table.A['shard1.test'] = ['127.0.0.2'];
    await waitFor(async () => layer.groups[0].targets.targets().length === 1, 5000, 'the removal');
    const asked = s1.requests.length;
    expect((await servers()).servers).toEqual(['fixed', 's2']);
    expect(s1.requests.length).toBe(asked);
    expect(layer.groups[0].pool.openClients()).toEqual([`127.0.0.2:${s1.port}`]);
  });
});

describe('./proxy with file_sd and basic auth: metrics, logs, and no secret anywhere', () => {
  const SECRET = 'proxy-test-only-s3cret';
  let api: ApiServer;
  let proxy: ProxyProcess;
  let sdFile: string;

  beforeAll(async () => {
    api = await startApiServer({ name: 'p1' });
    const dir = freshDir();
    sdFile = join(dir, 'g.json');
    writeAtomic(sdFile, JSON.stringify([{ targets: [`127.0.0.1:${api.port}`], labels: { dc: 'east' } }]));
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: info
query:
  server_groups:
    - name: g
      file_sd_configs: [{files: ["${join(dir, '*.json')}"], refresh_interval: 1h}]
      http_client:
        basic_auth: {username: promfront, password: ${SECRET}}
`,
    );
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await api?.close();
  });

  const metrics = async (): Promise<string> => (await fetch(`${proxy.url}/metrics`)).text();
  const query = async (): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${proxy.url}/api/v1/query?query=up&time=1000`);
    return { status: res.status, text: await res.text() };
  };

  it('answers from the discovered target with its labels and the configured credentials', async () => {
    const r = await query();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).data.result).toEqual([{ metric: { __name__: 'up', dc: 'east', server: 'p1' }, value: [1000, '1'] }]);
    expect(api.requests.at(-1)!.authorization).toBe(`Basic ${Buffer.from(`promfront:${SECRET}`).toString('base64')}`);
    expect(await metrics()).toContain('promfront_server_group_targets{group="g"} 1\n');
  });

  it('counts and logs a malformed file naming it; the target list stays', async () => {
    writeAtomic(sdFile, '[{"targets": ["127.0.0.1:1"');
    await waitFor(async () => (await metrics()).includes('promfront_sd_failures_total{group="g",sd="file_sd_configs[0]"} 1\n'), 5000, 'the failure count');
    expect(await metrics()).toContain('promfront_server_group_targets{group="g"} 1\n');
    const line = proxy
      .logs()
      .split('\n')
      .find((l) => l.includes('file_sd: cannot use'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'error', group: 'g', sd: 'file_sd_configs[0]', file: sdFile });
    expect((await query()).status).toBe(200);
  });

  it('a downstream error echoing the credentials reaches the client without them; logs and /status carry none', async () => {
    api.override = (req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      const auth = req.headers.authorization ?? '';
      res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: `rejected ${auth} = ${Buffer.from(auth.slice(6), 'base64').toString()}` }));
      return true;
    };
    try {
      const r = await query();
      expect(r.status).toBe(503);
      const error = (JSON.parse(r.text) as { error: string }).error;
      expect(error).toMatch(/^server group "g" failed: target "http:\/\/127\.0\.0\.1:\d+": HTTP 500: internal: rejected <secret> = promfront:<secret>$/);
      const b64 = Buffer.from(`promfront:${SECRET}`).toString('base64');
      for (const text of [r.text, proxy.logs(), await (await fetch(`${proxy.url}/status`)).text(), await metrics()]) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(b64);
      }
    } finally {
      api.override = undefined;
    }
  });
});

describe('static_configs labels and group labels', () => {
  let api: ApiServer;
  let layer: QueryLayer;
  beforeAll(async () => {
    api = await startApiServer({ name: 's' });
    const q = parseConfigText(`
query:
  server_groups:
    - name: labelled
      static_configs: [{targets: ["127.0.0.1:${api.port}"], labels: {dc: target-dc, team: db}}]
      labels: {dc: group-dc}
`).query!;
    layer = createQueryLayer(q);
    await layer.ready;
  });
  afterAll(async () => {
    await layer?.close();
    await api?.close();
  });

  it('a target label is added to its series; where the group has the same label name the group value wins (promxy)', async () => {
    const storage = layer.fanout.forQuery().storage;
    const got = await storage.select([eq('__name__', 'up'), eq('team', 'db')], 1_000_000, 1_060_000);
    expect(got.map((s) => labelsToRecord(s.labels))).toEqual([{ __name__: 'up', dc: 'group-dc', server: 's', team: 'db' }]);
    expect(await storage.select([eq('__name__', 'up'), eq('dc', 'target-dc')], 1_000_000, 1_060_000)).toEqual([]);
    const asked = api.requests.length;
    expect(await storage.select([eq('__name__', 'up'), eq('team', 'web')], 1_000_000, 1_060_000)).toEqual([]);
    expect(api.requests.length).toBe(asked); // pruned: the target was not asked
    expect(await storage.labelValues('team', [], 1_000_000, 1_060_000)).toEqual(['db']);
  });
});
