// Fleet targets from file_sd files (targets.file_sd_configs) with a real etcd: the file's targets
// are spread over the live groups with the registry's, a rewritten file changes the assignment
// without a restart, and a broken file keeps its last good targets, counted.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { waitFor } from '../../dev/prometheus-process.js';
import { etcdPut, startEtcdCluster, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster | undefined;
const fleets: Fleet[] = [];

afterAll(async () => {
  await Promise.allSettled(fleets.map((f) => f.stop()));
  await etcd?.stop();
});

type SdGroup = { targets: string[]; labels: Record<string, string> };

describe('fleet targets from file_sd_configs', () => {
  it('assigns file targets with the registry ones, follows a rewritten file and keeps the last good one', async () => {
    etcd = await startEtcdCluster(1);
    const ep = etcd.endpoints[0];
    const dir = mkdtempSync(join(tmpdir(), 'promfront-fleet-file-sd-'));
    const file = join(dir, 'targets.json');
    const write = (body: string): void => {
      // Whole files only, as a config manager writes them (rename), so no read sees half a file.
      writeFileSync(`${file}.tmp`, body);
      renameSync(`${file}.tmp`, file);
    };
    write(
      JSON.stringify([{ targets: ['10.1.0.1:9100', '10.1.0.2:9100', '10.1.0.3:9100'], labels: { service: 'node', rack: 'r1' } }, { targets: ['10.1.0.9:80'] }]),
    );
    await etcdPut(ep, '/registry/api/10.2.0.1:8080');
    const config = (group: string) =>
      parseConfigText(`
fleet:
  etcd: {endpoints: ["${ep}"], lease_ttl: 10s}
  register: {address: 127.0.0.1:${group === 'a' ? 1 : 2}, group: ${group}}
  targets:
    etcd_prefix: /registry
    file_sd_configs: [{files: ["${dir}/*.json"], refresh_interval: 1s}]
`);
    const ctx = { log: pino({ level: 'silent' }), configFile: undefined, listen: '127.0.0.1:1', queryApi: () => Promise.resolve(undefined) };
    const [fa, fb] = [new Fleet(config('a'), ctx), new Fleet(config('b'), ctx)];
    fleets.push(fa, fb);
    await Promise.all([fa.start(), fb.start()]);

    const sd = async (f: Fleet, group: string): Promise<SdGroup[]> => {
      const r = f.fetch(new Request(`http://x/sd/fleet?group=${group}`))!;
      return r.status === 200 ? ((await r.json()) as SdGroup[]).filter((t) => t.labels.__meta_promfront_handover === 'false') : [];
    };
    const all = async (f: Fleet): Promise<SdGroup[]> => [...(await sd(f, 'a')), ...(await sd(f, 'b'))];
    await waitFor(
      async () => (await all(fa)).length === 5 && (await sd(fa, 'a')).length > 0 && (await sd(fa, 'b')).length > 0,
      15_000,
      'five targets over a and b',
    );
    const byAddress = new Map((await all(fa)).map((t) => [t.targets[0], t.labels]));
    expect([...byAddress.keys()].sort()).toEqual(['10.1.0.1:9100', '10.1.0.2:9100', '10.1.0.3:9100', '10.1.0.9:80', '10.2.0.1:8080']);
    expect(byAddress.get('10.1.0.2:9100')).toMatchObject({ service: 'node', rack: 'r1', __meta_promfront_source: 'file', __meta_promfront_service: 'node' });
    expect(byAddress.get('10.1.0.9:80')).toMatchObject({ service: 'file', __meta_promfront_source: 'file' });
    expect(byAddress.get('10.2.0.1:8080')).toMatchObject({ service: 'api', __meta_promfront_source: 'etcd' });
    // Both promfronts read the same file: the same assignment.
    await waitFor(async () => JSON.stringify(await all(fb)) === JSON.stringify(await all(fa)), 5_000, 'the same assignment on both');

    // The file loses one target and gains one: followed without a restart.
    write(JSON.stringify([{ targets: ['10.1.0.1:9100', '10.1.0.2:9100', '10.1.0.4:9100'], labels: { service: 'node' } }]));
    const addresses = async (): Promise<string> =>
      (await all(fa))
        .map((t) => t.targets[0])
        .sort()
        .join();
    await waitFor(async () => (await addresses()) === '10.1.0.1:9100,10.1.0.2:9100,10.1.0.4:9100,10.2.0.1:8080', 10_000, 'rewritten file followed');

    // A broken file: its last good targets stay, the failure is counted and shown.
    write('[{"targets": [');
    await waitFor(async () => /^promfront_fleet_file_sd_failures_total [1-9]/m.test(fa.metrics()), 10_000, 'file failure counted');
    // (waited for, not read once: on a loaded machine a lease renewal can be late and the groups
    // blink; a broken file that dropped its targets would never match.)
    await waitFor(async () => (await addresses()) === '10.1.0.1:9100,10.1.0.2:9100,10.1.0.4:9100,10.2.0.1:8080', 10_000, 'last good targets kept');
    expect(Object.keys((fa.status() as { file_sd_failures: Record<string, string> }).file_sd_failures)).toEqual([file]);
  });
});
