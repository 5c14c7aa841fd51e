// The edge's publish jobs take targets from file_sd_configs as well as static_configs: the file's
// targets and labels become scrape targets, a change to the file adds and removes them while
// running, and a second target with an instance the job already has is left out and shown.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { Publisher } from '../../../src/stream/publisher.js';

const log = pino({ level: 'silent' });
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

interface TargetStatus {
  job: string;
  instance: string;
  labels: Record<string, string>;
}
const targets = (p: Publisher) =>
  ((p.status() as { targets: TargetStatus[] }).targets ?? []).map((t) => `${t.job} ${t.instance} ${JSON.stringify(t.labels)}`).sort();

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('publish file_sd_configs', () => {
  it('scrapes what the files list, follows changes to them, and keeps one target per instance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-publish-sd-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'targets.json');
    writeFileSync(file, JSON.stringify([{ targets: ['127.0.0.1:1', '127.0.0.1:2'], labels: { dc: 'east' } }]));
    const config = parseConfigText(`
publish:
  nats: {servers: ["nats://127.0.0.1:1"]}
  publisher: edge
  scrape_interval: 1h
  jobs:
    - job_name: node
      static_configs: [{targets: ["127.0.0.1:3"]}]
      file_sd_configs: [{files: [${JSON.stringify(join(dir, '*.json'))}], refresh_interval: 100ms}]
`);
    const p = new Publisher(config, log);
    cleanup.push(() => p.stop());
    await p.start();
    expect(targets(p)).toEqual(['node 127.0.0.1:1 {"dc":"east"}', 'node 127.0.0.1:2 {"dc":"east"}', 'node 127.0.0.1:3 {}']);

    // One target gone, one added, and one whose instance the static config already has.
    writeFileSync(file, JSON.stringify([{ targets: ['127.0.0.1:2', '127.0.0.1:4', '127.0.0.1:3'], labels: { dc: 'west' } }]));
    await until(() => targets(p).some((t) => t.includes('127.0.0.1:4')));
    expect(targets(p)).toEqual(['node 127.0.0.1:2 {"dc":"west"}', 'node 127.0.0.1:3 {}', 'node 127.0.0.1:4 {"dc":"west"}']);
    expect(p.metrics()).toMatch(/^promfront_publish_targets_skipped 1$/m);

    // A file that no longer parses keeps its last good targets and is counted.
    writeFileSync(file, '[{"targets": ');
    await until(() => /^promfront_publish_discovery_errors_total [1-9]/m.test(p.metrics()));
    expect(targets(p)).toHaveLength(3);
  });
});
