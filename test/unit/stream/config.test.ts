// The stream capability's config: the `publish:` section and the `nats` entry of shard.sources,
// and that a URL source's errors read as they did before the sources became a union.

import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';

function issues(input: unknown): string[] {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('stream config', () => {
  it('keeps the URL source errors as they were', () => {
    expect(issues({ shard: { num_shards: 1, sources: [{ url: 'ftp://x' }] } })).toEqual(['shard.sources.0.url: must be an absolute http:// or https:// URL']);
  });
  it('parses a nats source with defaults', () => {
    const r = configSchema.parse({ shard: { num_shards: 2, sources: [{ nats: { servers: ['nats://127.0.0.1:4222'], durable: 'central' }, max_age: '1m' }] } });
    expect(r.shard!.sources[0]).toMatchObject({ nats: { stream: 'PROMFRONT', subjects: ['promfront.scrapes.>'], durable: 'central' }, max_age: 60_000 });
  });
  it('names a bad nats source field', () => {
    expect(issues({ shard: { num_shards: 1, sources: [{ nats: { servers: ['nats://x'], durable: 'a.b' } }] } })).toEqual([
      'shard.sources.0.nats.durable: must be a name without blanks, ".", "*", ">", "/" or "\\"',
    ]);
  });
  it('refuses two nats sources on one durable', () => {
    const src = { nats: { servers: ['nats://x'], durable: 'c' } };
    expect(issues({ shard: { num_shards: 1, sources: [src, src] } })).toEqual(['shard.sources.1.nats: same stream and durable as sources.0']);
  });
  it('parses a publish section', () => {
    const r = configSchema.parse({
      publish: {
        nats: { servers: ['nats://127.0.0.1:4222'] },
        scrape_interval: '5s',
        jobs: [{ job_name: 'node', static_configs: [{ targets: ['127.0.0.1:9100'], labels: { dc: 'edge-1' } }] }],
      },
    });
    expect(r.publish).toMatchObject({ scrape_interval: 5000, nats: { subject_prefix: 'promfront.scrapes', stream: 'PROMFRONT' }, backlog_max_messages: 10000 });
  });
  it('refuses publish mistakes with their paths', () => {
    expect(
      issues({ publish: { nats: { servers: ['nats://x'], token: 't', user: 'u' }, jobs: [{ job_name: 'a', static_configs: [{ targets: ['nohost'] }] }] } }),
    ).toEqual([
      'publish.nats: at most one of user, token, creds_file and nkey_seed_file may be set',
      'publish.jobs.0.static_configs.0.targets.0: must be host:port',
    ]);
  });
});
