// The config of NATS JetStream federation (issue 12): the edge's `publish:` section and the centre's
// `nats` entry of `shard.sources`. Its own file so the stream capability's fields stay out of the
// shared schema; the field types it shares with other sections come from fields.ts.

import { z } from 'zod';
import { parseByteSize, parseDuration } from '../util/duration.js';
import { basicAuthSchema, byteSize, duration, fileSdConfigSchema, labelSet, tlsConfigSchema } from './fields.js';

/** A NATS subject token or a dotted prefix of them: no blanks, no wildcards. */
const subjectPrefix = z.string().regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, 'must be dot-separated tokens without blanks, "*" or ">"');
const streamName = z.string().regex(/^[^\s.*>/\\]+$/, 'must be a name without blanks, ".", "*", ">", "/" or "\\"');

/** How to reach NATS: what the official client supports, secrets by value or by file. */
const natsConnectionFields = {
  servers: z.array(z.string().min(1)).min(1, 'at least one server is needed'),
  stream: streamName.default('PROMFRONT'),
  user: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  /** A NATS credentials file (JWT and nkey seed), as `nats --creds` takes. */
  creds_file: z.string().optional(),
  /** A file holding an nkey seed (SU...). */
  nkey_seed_file: z.string().optional(),
  tls_config: z
    .strictObject({
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
    })
    .optional(),
};

function checkConnection(
  c: { user?: string; password?: string; token?: string; creds_file?: string; nkey_seed_file?: string; tls_config?: { cert_file?: string; key_file?: string } },
  ctx: z.RefinementCtx,
): void {
  const ways = [c.user !== undefined, c.token !== undefined, c.creds_file !== undefined, c.nkey_seed_file !== undefined].filter(Boolean).length;
  if (ways > 1) ctx.addIssue({ code: 'custom', message: 'at most one of user, token, creds_file and nkey_seed_file may be set' });
  if (c.password !== undefined && c.user === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'password needs user' });
  const t = c.tls_config;
  if (t && (t.cert_file === undefined) !== (t.key_file === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['tls_config'], message: 'cert_file and key_file must be given together' });
  }
}

export const natsConnectionSchema = z.strictObject(natsConnectionFields).superRefine(checkConnection);

const targetAddress = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;

const publishJobSchema = z.strictObject({
  job_name: z.string().min(1),
  metrics_path: z.string().startsWith('/').default('/metrics'),
  scheme: z.enum(['http', 'https']).default('http'),
  scrape_timeout: duration.optional(),
  static_configs: z
    .array(
      z.strictObject({
        targets: z.array(z.string().regex(targetAddress, 'must be host:port')),
        labels: labelSet.default({}),
      }),
    )
    .default([]),
  /** Prometheus's file_sd_config: targets (and their labels) from JSON/YAML files, re-read when they change. */
  file_sd_configs: z.array(fileSdConfigSchema).default([]),
  headers: z.record(z.string(), z.string()).default({}),
  basic_auth: basicAuthSchema.optional(),
  bearer_token: z.string().min(1).optional(),
  bearer_token_file: z.string().optional(),
  tls_config: tlsConfigSchema.optional(),
  max_body_size: byteSize.default(parseByteSize('64MiB')),
});

/** The edge: scrape local targets, publish each scrape to JetStream. */
export const publishSchema = z
  .strictObject({
    nats: z.strictObject({ ...natsConnectionFields, subject_prefix: subjectPrefix.default('promfront.scrapes') }).superRefine(checkConnection),
    /** This edge's name in headers, subjects and the centre's per-publisher figures; the host name by default. */
    publisher: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"')
      .optional(),
    scrape_interval: duration.default(parseDuration('15s')),
    /** The stream's limits when this edge creates it (checked, not changed, when it exists). */
    stream_max_age: duration.default(parseDuration('1h')),
    stream_max_bytes: byteSize.default(parseByteSize('1GiB')),
    /** How long the stream remembers a Nats-Msg-Id, so a retried publish is stored once. */
    duplicate_window: duration.default(parseDuration('2m')),
    /** Scrapes kept while NATS cannot take them; the oldest is dropped first when either limit is reached. */
    backlog_max_messages: z.number().int().min(1).default(10_000),
    backlog_max_bytes: byteSize.default(parseByteSize('256MiB')),
    gzip_level: z.number().int().min(1).max(9).default(7),
    jobs: z.array(publishJobSchema).min(1, 'at least one job is needed'),
  })
  .superRefine((p, ctx) => {
    if (p.scrape_interval <= 0) ctx.addIssue({ code: 'custom', path: ['scrape_interval'], message: 'must be greater than 0' });
    const names = new Map<string, number>();
    p.jobs.forEach((j, i) => {
      if (names.has(j.job_name)) ctx.addIssue({ code: 'custom', path: ['jobs', i, 'job_name'], message: `duplicate job_name "${j.job_name}"` });
      names.set(j.job_name, i);
      if (j.scrape_timeout !== undefined && j.scrape_timeout > p.scrape_interval) {
        ctx.addIssue({ code: 'custom', path: ['jobs', i, 'scrape_timeout'], message: 'must not be longer than scrape_interval' });
      }
      const auth = [j.basic_auth, j.bearer_token, j.bearer_token_file].filter((x) => x !== undefined).length;
      if (auth > 1) ctx.addIssue({ code: 'custom', path: ['jobs', i], message: 'at most one of basic_auth, bearer_token and bearer_token_file may be set' });
    });
  });

/** The centre: a `shard.sources` entry whose series arrive over JetStream instead of by HTTP scrape. */
export const natsSourceSchema = z.strictObject({
  nats: z
    .strictObject({
      ...natsConnectionFields,
      subjects: z.array(z.string().min(1)).min(1).default(['promfront.scrapes.>']),
      durable: streamName,
    })
    .superRefine(checkConnection),
  /** Scrapes older than this (edge scrape time against this process's clock) are skipped; targets silent this long disappear. */
  max_age: duration.default(parseDuration('1m')),
  /** Messages larger than this (compressed, or once decompressed) are rejected. */
  max_message_size: byteSize.default(parseByteSize('64MiB')),
  /** Labels added to every series of this source, as a URL source's `labels`. */
  labels: labelSet.default({}),
});

export type PublishConfig = z.infer<typeof publishSchema>;
export type PublishJobConfig = z.infer<typeof publishJobSchema>;
export type NatsConnectionConfig = z.infer<typeof natsConnectionSchema>;
export type NatsSourceConfig = z.infer<typeof natsSourceSchema>;
