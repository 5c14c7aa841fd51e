// The JSON API client's bounds: an answer body is read as a stream up to max body size and no
// further, one abort listener per caller's signal whatever the number of calls, and a downstream's
// own 4xx refusal keeps Prometheus's status and errorType.

import http from 'node:http';
import { getEventListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownstreamApiError, DownstreamError, GroupError, downstreamRefusal, queryApiError } from '../../../src/errors.js';
import { JsonApiTarget } from '../../../src/query/downstream/json-api-client.js';

const M = [{ type: '=' as const, name: '__name__', value: 'up' }];
let server: http.Server;
let base: string;
/** Bytes the server managed to write of its endless answer. */
let written = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('query')?.includes('huge') === true || url.pathname.startsWith('/huge')) {
      // An answer that never ends: only a bounded read gets out of it.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      res.write('{"status":"success","data":{"resultType":"matrix","result":[');
      const more = (): void => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', more);
      };
      res.on('close', () => undefined);
      more();
      return;
    }
    if (url.pathname.startsWith('/slow')) return; // never answers
    if (url.pathname.startsWith('/bad')) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "match[]": bad label name "foo-bar"' }));
      return;
    }
    if (url.pathname.startsWith('/down')) {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'tsdb not ready' }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('JSON API client bounds', () => {
  it('stops reading an answer past maxResponseBytes and names the limit', async () => {
    const t = new JsonApiTarget({ url: `${base}/huge`, timeoutMs: 10_000, maxResponseBytes: 4 * 1024 * 1024 });
    const err = await failure(t.select(M, 0, 1000));
    expect(err).toBeInstanceOf(DownstreamError);
    expect((err as Error).message).toBe(`${base}/huge: response body larger than the limit of 4194304 bytes`);
    // The server could only write what the socket buffers took beyond the limit.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('reads answers within the limit', async () => {
    const t = new JsonApiTarget({ url: base, timeoutMs: 10_000, maxResponseBytes: 1024 });
    expect(await t.select(M, 0, 1000)).toEqual([]);
  });

  it('ends every call on a caller abort through one listener on its signal, however many calls share it', async () => {
    const t = new JsonApiTarget({ url: `${base}/slow`, timeoutMs: 60_000 });
    const ctl = new AbortController();
    const calls = Array.from({ length: 50 }, () => failure(t.select(M, 0, 1000, undefined, ctl.signal)));
    await new Promise((r) => setTimeout(r, 100));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    const reason = new Error('client went away');
    const t0 = performance.now();
    ctl.abort(reason);
    for (const e of await Promise.all(calls)) expect(e).toBe(reason);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('keeps a downstream 4xx refusal as Prometheus answers it, and 5xx as unavailable', async () => {
    const bad = await failure(new JsonApiTarget({ url: `${base}/bad`, timeoutMs: 10_000 }).select(M, 0, 1000));
    expect(bad).toBeInstanceOf(DownstreamApiError);
    expect((bad as DownstreamApiError).httpStatus).toBe(400);
    expect(downstreamRefusal(bad)).toEqual({ errorType: 'bad_data', message: (bad as Error).message });
    const group = new GroupError('g', `${base}/bad`, (bad as Error).message, bad);
    const api = queryApiError(group, false, false);
    expect(api.errorType).toBe('bad_data');
    expect(api.message).toBe(group.message);

    const down = await failure(new JsonApiTarget({ url: `${base}/down`, timeoutMs: 10_000 }).select(M, 0, 1000));
    expect(downstreamRefusal(down)).toBeUndefined();
    expect(queryApiError(new GroupError('g', `${base}/down`, (down as Error).message, down), false, false).errorType).toBe('unavailable');
    // An answer without a cause (connection refused, timeout) stays unavailable too.
    expect(queryApiError(new GroupError('g', undefined, 'connection refused'), false, false).errorType).toBe('unavailable');
  });
});
