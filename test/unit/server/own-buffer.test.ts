import { describe, expect, it } from 'vitest';
import { ownBuffer } from '../../../src/server/own-buffer.js';

/** Moves `buf` through a MessageChannel as the query thread posts chunks, and gives what arrived. */
async function transfer(buf: ArrayBuffer): Promise<Uint8Array> {
  const { port1, port2 } = new MessageChannel();
  const got = new Promise<Uint8Array>((resolve) => port2.once('message', (m: ArrayBuffer) => resolve(new Uint8Array(m))));
  port1.postMessage(buf, [buf]);
  const out = await got;
  port1.close();
  port2.close();
  return out;
}

describe('ownBuffer', () => {
  it('moves a chunk that owns its whole buffer without a copy', async () => {
    const chunk = new Uint8Array([1, 2, 3]);
    expect(ownBuffer(chunk)).toBe(chunk.buffer);
    expect(await transfer(ownBuffer(chunk))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('copies a view of a larger body, whose other bytes stay readable after the transfer (a Buffer view too)', async () => {
    const body = Buffer.alloc(3 << 20, 7);
    body.write('head', 0);
    for (const view of [body.subarray(1 << 20, 2 << 20), new Uint8Array(body.buffer, body.byteOffset + 10, 5)]) {
      const moved = await transfer(ownBuffer(view));
      expect(moved.byteLength).toBe(view.byteLength);
      expect(Buffer.from(moved).equals(view)).toBe(true);
    }
    expect(body.byteLength).toBe(3 << 20);
    expect(body.subarray(0, 4).toString()).toBe('head');
  });

  it('copies a pooled small Buffer', async () => {
    const small = Buffer.from('{"status":"success"');
    const moved = await transfer(ownBuffer(small));
    expect(Buffer.from(moved).toString()).toBe('{"status":"success"');
    expect(small.toString()).toBe('{"status":"success"');
  });
});
