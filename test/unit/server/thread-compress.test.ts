import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressedFetch } from '../../../src/server/thread-compress.js';

const big = JSON.stringify({ status: 'success', data: { result: Array.from({ length: 200 }, (_, i) => ({ metric: { i: String(i) }, value: [1, '1'] })) } });

function answer(
  body: string | null,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
): (req: Request) => Promise<Response | undefined> {
  return async () => new Response(body, { headers });
}

describe('compressedFetch (query answers gzipped in the query thread)', () => {
  it('gzips a large JSON answer for a client that accepts gzip, and the bytes unzip to the answer', async () => {
    const f = compressedFetch(answer(big));
    const res = (await f(new Request('http://x/api/v1/query', { headers: { 'Accept-Encoding': 'gzip' } })))!;
    expect(res.headers.get('Content-Encoding')).toBe('gzip');
    expect(res.headers.get('Vary')).toMatch(/Accept-Encoding/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBeLessThan(big.length);
    expect(gunzipSync(bytes).toString()).toBe(big);
  });

  it('leaves the answer as it is for a client without gzip and a small answer', async () => {
    const plain = (await compressedFetch(answer(big))(new Request('http://x/api/v1/query')))!;
    expect(plain.headers.get('Content-Encoding')).toBeNull();
    expect(await plain.text()).toBe(big);
    const small = (await compressedFetch(answer('{}', { 'Content-Type': 'application/json', 'Content-Length': '2' }))(
      new Request('http://x/api/v1/query', { headers: { 'Accept-Encoding': 'gzip' } }),
    ))!;
    expect(small.headers.get('Content-Encoding')).toBeNull();
    expect(await small.text()).toBe('{}');
  });

  it('passes "no route" on as undefined and a failure on as a failure', async () => {
    expect(await compressedFetch(async () => undefined)(new Request('http://x/elsewhere'))).toBeUndefined();
    const failing = compressedFetch(async () => {
      throw new Error('layer broke');
    });
    await expect(failing(new Request('http://x/api/v1/query'))).rejects.toThrow('layer broke');
  });
});
