// Sorts a failed scrape into one of a few fixed reasons for the `reason` label of
// promfront_source_last_error. The full message (host names, byte counts, exporter text) stays on
// /status and in the log: as a label value it would make a new series for every distinct text.

import { ExpositionError, ScrapeError } from '../errors.js';

/** Every value the reason label can take. */
export const SCRAPE_FAILURE_REASONS = [
  'timeout',
  'connection',
  'tls',
  'http_status',
  'body_too_large',
  'truncated',
  'encoding',
  'invalid_exposition',
  'credentials',
  'aborted',
  'other',
] as const;

export type ScrapeFailureReason = (typeof SCRAPE_FAILURE_REASONS)[number];

// Matched against the start of the message source-client.ts writes; first match wins.
const BY_MESSAGE: [RegExp, ScrapeFailureReason][] = [
  [/^(timeout|connect timeout)\b/, 'timeout'],
  [/^TLS handshake failed/, 'tls'],
  [/^server returned HTTP status/, 'http_status'],
  [/^body exceeds/, 'body_too_large'],
  [/^(body truncated|body longer than Content-Length|error reading body|connection closed by server)/, 'truncated'],
  [/^(unsupported Content-Encoding|invalid gzip body|body is not valid UTF-8)/, 'encoding'],
  [/^invalid exposition/, 'invalid_exposition'],
  [/^(cannot read \S+ |\S+ \S+ is empty|cannot get AWS credentials|no AWS credentials|region not configured|cannot sign)/, 'credentials'],
  [/(aborted|client closed)/, 'aborted'],
  [/(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|getaddrinfo|connect |socket|other side closed)/i, 'connection'],
];

export function scrapeFailureReason(err: unknown): ScrapeFailureReason {
  if (err instanceof ExpositionError) return 'invalid_exposition';
  const msg = err instanceof ScrapeError || err instanceof Error ? err.message : String(err);
  for (const [re, reason] of BY_MESSAGE) if (re.test(msg)) return reason;
  return 'other';
}
