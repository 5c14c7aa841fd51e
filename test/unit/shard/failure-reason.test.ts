// The reason label of promfront_source_last_error comes from a fixed set, whatever the error text.

import { describe, expect, it } from 'vitest';
import { ExpositionError, ScrapeError } from '../../../src/errors.js';
import { SCRAPE_FAILURE_REASONS, scrapeFailureReason } from '../../../src/shard/failure-reason.js';

describe('scrapeFailureReason', () => {
  it('sorts the messages the source client writes into their reason', () => {
    const cases: [unknown, string][] = [
      [new ScrapeError('timeout after 10s (waiting for response headers)'), 'timeout'],
      [new ScrapeError('connect timeout: Connect Timeout Error'), 'timeout'],
      [new ScrapeError('connect ECONNREFUSED 127.0.0.1:9'), 'connection'],
      [new ScrapeError('getaddrinfo ENOTFOUND nowhere.invalid'), 'connection'],
      [new ScrapeError('TLS handshake failed: self-signed certificate'), 'tls'],
      [new ScrapeError('server returned HTTP status 503 Service Unavailable'), 'http_status'],
      [new ScrapeError('body exceeds max_body_size of 1MiB'), 'body_too_large'],
      [new ScrapeError('body truncated: connection closed after 10 of 20 bytes'), 'truncated'],
      [new ScrapeError('invalid gzip body: incorrect header check'), 'encoding'],
      [new ScrapeError('invalid exposition: body is not valid UTF-8'), 'invalid_exposition'],
      [new ExpositionError(3, 'expected value after metric'), 'invalid_exposition'],
      [new ScrapeError('cannot read bearer_token_file /x: ENOENT'), 'credentials'],
      [new ScrapeError('scrape aborted: client closed'), 'aborted'],
      [new Error('something nobody foresaw: 42'), 'other'],
    ];
    for (const [err, reason] of cases) expect(scrapeFailureReason(err), String(err)).toBe(reason);
  });

  it('never returns a value outside the documented set', () => {
    for (const text of ['', 'x'.repeat(500), 'timeout', '\n"\\', 'HTTP status 200']) {
      expect(SCRAPE_FAILURE_REASONS).toContain(scrapeFailureReason(new ScrapeError(text)));
    }
  });
});
