// Form bodies are read up to Go's 10 MiB maxFormSize and no further: a larger one is refused with
// 413 and a Prometheus-shaped JSON error, and a streamed body is not read past the limit.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { createQueryApi } from '../../../src/server/api/query-api.js';
import { MAX_FORM_BYTES } from '../../../src/server/api/http-api.js';

const T0 = 1_700_000_000_000;
const storage = new MemoryStorage();
storage.add({ __name__: 'up' }, T0 - 1000, 1);
const api = createQueryApi({ storage, engine: new Engine(), now: () => T0 });
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const TOO_LARGE = { status: 'error', errorType: 'bad_data', error: `http: POST too large: form body over ${MAX_FORM_BYTES} bytes (10 MiB)` };

/** A form body of exactly `size` bytes asking for `up`. */
function formOfSize(size: number): string {
  const head = `query=up&time=${T0 / 1000}&pad=`;
  return head + 'x'.repeat(size - head.length);
}

describe('form body limit', () => {
  it('reads a form body of exactly 10 MiB', async () => {
    const res = await api.request('/query', { method: 'POST', headers: FORM, body: formOfSize(MAX_FORM_BYTES) });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"__name__":"up"');
  });

  it('refuses one byte more with 413 and a JSON error', async () => {
    const res = await api.request('/query', { method: 'POST', headers: FORM, body: formOfSize(MAX_FORM_BYTES + 1) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(TOO_LARGE);
  });

  it('stops reading a streamed body without a length once it passes the limit', async () => {
    const chunk = new Uint8Array(1 << 20).fill(0x78);
    let pulled = 0;
    let cancelled = false;
    // An endless body: without a limit the request would never end.
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        pulled++;
        ctl.enqueue(pulled === 1 ? new TextEncoder().encode('query=up&pad=') : chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    const req = new Request('http://x/query', { method: 'POST', headers: FORM, body, duplex: 'half' });
    const res = await api.request(req);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(TOO_LARGE);
    expect(cancelled).toBe(true);
    // 10 MiB in 1 MiB chunks, plus the head and what the stream buffered ahead.
    expect(pulled).toBeLessThan(16);
  });

  it('refuses a declared Content-Length over the limit before reading', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        pulled++;
        ctl.enqueue(new Uint8Array(1024));
      },
    });
    const req = new Request('http://x/query_range', {
      method: 'POST',
      headers: { ...FORM, 'Content-Length': String(MAX_FORM_BYTES + 1) },
      body,
      duplex: 'half',
    });
    const res = await api.request(req);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(2);
  });
});
