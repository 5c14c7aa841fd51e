// The wire form of one published scrape: subject, NATS headers and compressed body. Shared by the
// edge (publisher.ts) that writes it and the centre (nats-source.ts) that reads it, so the two
// cannot drift; whatever the centre cannot read back is rejected with a reason, never guessed at.

import { gunzipSync, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/** Header names. Nats-Msg-Id is JetStream's own: a retried publish with the same id is stored once. */
export const HEADER = {
  msgId: 'Nats-Msg-Id',
  job: 'Promfront-Job',
  instance: 'Promfront-Instance',
  /** The target's labels (static_configs labels) as a JSON object. */
  labels: 'Promfront-Target-Labels',
  /** When the edge started the scrape: Unix milliseconds on the edge's clock. */
  scrapeTime: 'Promfront-Scrape-Time',
  publisher: 'Promfront-Publisher',
  /** The exporter's Content-Type, which decides text 0.0.4 or OpenMetrics. */
  contentType: 'Content-Type',
  contentEncoding: 'Content-Encoding',
  /** Seconds the scrape took, as the edge measured it. */
  duration: 'Promfront-Scrape-Duration',
  /** "success" or "failure". */
  result: 'Promfront-Scrape-Result',
  /** Why a failed scrape failed. */
  error: 'Promfront-Scrape-Error',
} as const;

/**
 * A subject token for any string: bytes other than letters, digits, "_" and "-" are written %XX, so
 * a "." in an instance or a "*" in a job never splits or widens the subject.
 */
export function subjectToken(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out === '' ? '%' : out;
}

export function scrapeSubject(prefix: string, publisher: string, job: string, instance: string): string {
  return `${prefix}.${subjectToken(publisher)}.${subjectToken(job)}.${subjectToken(instance)}`;
}

/** Header values are single lines. */
export function headerValue(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

export function compress(body: Buffer, level: number): Promise<Buffer> {
  return gzipAsync(body, { level });
}

/**
 * Decompresses at most `maxBytes`; anything larger throws (RangeError from zlib). Synchronous on
 * purpose: a scrape is a few kilobytes compressed and takes well under a millisecond, while the
 * thread pool an async gunzip waits for is busy gzipping whole shard bodies; the consumer handles
 * one message at a time, so every such wait was a wait for the whole stream.
 */
export function decompress(data: Uint8Array, maxBytes: number): Buffer {
  return gunzipSync(data, { maxOutputLength: maxBytes, chunkSize: outputChunk(data, maxBytes) });
}

/**
 * zlib's output chunk for a gzip body: the size its trailer states (ISIZE, the length mod 2^32 of
 * the last member), so a body comes out in one piece. With the default 16 KiB a 58 KB scrape came
 * out in four pieces and was concatenated, 70-110 µs against 55 µs in one. The trailer is only a
 * hint: a wrong one costs a concat or some unused room, never bytes (maxOutputLength still caps).
 */
function outputChunk(data: Uint8Array, maxBytes: number): number {
  const n = data.length;
  if (n < 18) return 16384;
  const isize = (data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)) >>> 0;
  return Math.max(64, Math.min(isize + 1, maxBytes + 1, 4 << 20));
}

/** One scrape as the centre reads it back from the headers. */
export interface ScrapeHeaders {
  publisher: string;
  job: string;
  instance: string;
  labels: Record<string, string>;
  /** The labels header as it came: the same text is the same labels. */
  labelsText: string;
  scrapeTimeMs: number;
  durationSecs: number;
  success: boolean;
  error: string | undefined;
  contentType: string | undefined;
}

/** Reads the headers; throws an Error saying which one is missing or wrong. */
export function readHeaders(get: (name: string) => string): ScrapeHeaders {
  const need = (name: string): string => {
    const v = get(name);
    if (v === '') throw new Error(`missing header ${name}`);
    return v;
  };
  const publisher = need(HEADER.publisher);
  const job = need(HEADER.job);
  const instance = need(HEADER.instance);
  const scrapeTimeMs = Number(need(HEADER.scrapeTime));
  if (!Number.isSafeInteger(scrapeTimeMs) || scrapeTimeMs <= 0) throw new Error(`header ${HEADER.scrapeTime} is not Unix milliseconds`);
  const durationSecs = Number(get(HEADER.duration) || '0');
  if (!Number.isFinite(durationSecs) || durationSecs < 0) throw new Error(`header ${HEADER.duration} is not a number of seconds`);
  const result = need(HEADER.result);
  if (result !== 'success' && result !== 'failure') throw new Error(`header ${HEADER.result} is neither success nor failure`);
  let labels: Record<string, string> = {};
  const rawLabels = get(HEADER.labels);
  if (rawLabels !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawLabels);
    } catch {
      throw new Error(`header ${HEADER.labels} is not JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new Error(`header ${HEADER.labels} is not an object of strings`);
    }
    labels = parsed as Record<string, string>;
  }
  const encoding = get(HEADER.contentEncoding);
  if (encoding !== '' && encoding !== 'gzip') throw new Error(`unsupported ${HEADER.contentEncoding} "${encoding}"`);
  return {
    publisher,
    job,
    instance,
    labels,
    labelsText: rawLabels,
    scrapeTimeMs,
    durationSecs,
    success: result === 'success',
    error: get(HEADER.error) || undefined,
    contentType: get(HEADER.contentType) || undefined,
  };
}
