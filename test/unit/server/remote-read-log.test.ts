// The request log line of a remote read says how many series and samples it served and carries
// the storage's warnings (remote read's answer has no place for them).

import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { encodeReadRequest } from '../../../src/remote/prompb.js';
import { snappyCompress } from '../../../src/remote/snappy.js';
import { instrumentRequests } from '../../../src/server/api/request-log.js';
import { createRemoteReadApi } from '../../../src/server/api/remote-read-api.js';
import { MemoryStorage } from '../../../src/storage/memory.js';

describe('remote read request log', () => {
  it.each([
    ['SAMPLES', 0],
    ['STREAMED_XOR_CHUNKS', 1],
  ])('reports the series and samples a %s answer served', async (_name, type) => {
    const m = new MemoryStorage();
    for (let i = 0; i < 7; i++) m.add({ __name__: 'up', job: 'a' }, i * 1000, 1);
    for (let i = 0; i < 5; i++) m.add({ __name__: 'up', job: 'b' }, i * 1000, 1);
    m.add({ __name__: 'other' }, 0, 1);
    const lines: Record<string, unknown>[] = [];
    const log = { info: (o: object) => void lines.push(o as Record<string, unknown>), warn() {}, error() {} };
    const app = new Hono();
    app.use('*', instrumentRequests({ log }));
    app.route('/api/v1/read', createRemoteReadApi({ storage: () => ({ storage: m, warnings: ['server group "b" failed: down'] }) }));
    const body = snappyCompress(
      encodeReadRequest({
        queries: [{ startTimestampMs: 0, endTimestampMs: 1e12, matchers: [{ type: 0, name: '__name__', value: 'up' }] }],
        acceptedResponseTypes: [type],
      }),
    );
    const res = await app.request('/api/v1/read', { method: 'POST', body });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      endpoint: '/api/v1/read',
      type: 'read',
      status: 200,
      series: 2,
      samples: 12,
      warnings: ['server group "b" failed: down'],
    });
  });
});
