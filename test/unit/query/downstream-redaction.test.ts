// Secrets a downstream echoes back in its errors are cut out before they reach warnings, errors and
// /status: here a query_params token, which travels in the URL and comes back percent-encoded.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownstreamError } from '../../../src/errors.js';
import { RemoteReadTarget } from '../../../src/query/downstream/remote-read-client.js';
import { JsonApiTarget } from '../../../src/query/downstream/json-api-client.js';
import { configToYaml } from '../../../src/server/config-yaml.js';
import { parseConfigText } from '../../../src/config/load.js';

// Characters that percent-encoding and form-encoding spell differently.
const TOKEN = 'tok en/+=s3cr3t';
let server: http.Server;
let base: string;

beforeAll(async () => {
  // Answers every request with an error that quotes the request line, as some gateways do.
  server = http.createServer((req, res) => {
    const echo = `bad request ${req.method} ${req.url}`;
    if (req.url?.includes('/api/v1/read')) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(echo);
      return;
    }
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: echo }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DownstreamError);
    return (e as Error).message;
  }
  throw new Error('expected the request to fail');
}

const forms = [TOKEN, encodeURIComponent(TOKEN), new URLSearchParams({ x: TOKEN }).toString().slice(2)];

describe('a query_params secret echoed by a downstream', () => {
  it('is cut from JSON-API errors in every encoding, other parameters stay readable', async () => {
    const t = new JsonApiTarget({ url: `${base}/?access_token=${encodeURIComponent(TOKEN)}`, timeoutMs: 2_000, queryParams: { tenant: 'acme', token: TOKEN } });
    const msg = await failure(t.labelNames([], 0, 1000));
    expect(msg).toContain('bad request GET /api/v1/labels?');
    expect(msg).toContain('tenant=acme');
    expect(msg).toContain('<secret>');
    for (const f of forms) expect(msg).not.toContain(f);
  });

  it('is cut from remote-read errors', async () => {
    const t = new RemoteReadTarget({ url: base, timeoutMs: 2_000, queryParams: { token: TOKEN } });
    const msg = await failure(t.select([{ type: '=', name: '__name__', value: 'up' }], 0, 1000));
    expect(msg).toContain('bad request POST /api/v1/read?');
    for (const f of forms) expect(msg).not.toContain(f);
  });

  it('is hidden in /api/v1/status/config under the same name rule', () => {
    const config = parseConfigText(
      ['query:', '  server_groups:', '    - static_configs: [{targets: ["127.0.0.1:9090"]}]', `      query_params: {token: "${TOKEN}", tenant: acme}`, ''].join(
        '\n',
      ),
    );
    const yaml = configToYaml(config);
    expect(yaml).toContain('token: <secret>');
    expect(yaml).toContain('tenant: acme');
    expect(yaml).not.toContain('s3cr3t');
  });
});
