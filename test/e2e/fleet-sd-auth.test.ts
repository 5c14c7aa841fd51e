// Auth and TLS on http_sd_configs (and so on fleet_sd_configs, which share the schema and client):
// an HTTPS SD endpoint behind basic auth, reached with the CA and server name of tls_config and the
// password from a file; a wrong password or an untrusted certificate keeps the last good targets,
// and no error text carries the secret. Certificates are made with openssl (Debian package openssl).
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { HttpDiscovery } from '../../src/query/discovery/http-sd.js';
import { makeCert } from '../support/certs.js';

let server: Server | undefined;
const discoveries: HttpDiscovery[] = [];
afterAll(async () => {
  for (const d of discoveries) d.stop();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe('http_sd_configs with auth and TLS', () => {
  it('reads targets over HTTPS with basic auth from a file; a wrong password or CA keeps the last targets, secret never shown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-sd-auth-'));
    const { cert, key } = makeCert(dir, 'sd', 'DNS:sd.test');
    const password = 'pa55-w0rd-sd';
    server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from(`promfront:${password}`).toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('unauthorized');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ targets: ['10.0.0.1:9090'], labels: { __meta_promfront_group: 'g' } }]));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/sd/fleet/members`;
    const passFile = join(dir, 'pass');
    writeFileSync(passFile, `${password}\n`);
    const sdConfig = (extra: string) =>
      parseConfigText(`
query:
  server_groups:
    - http_sd_configs:
        - url: "${url}"
          refresh_interval: 1h
          ${extra}
`).query!.server_groups[0].http_sd_configs[0];
    const discover = async (extra: string): Promise<HttpDiscovery> => {
      const c = sdConfig(extra);
      const d = new HttpDiscovery({ name: 'http_sd_configs[0]', url: c.url, refreshIntervalMs: c.refresh_interval, auth: c });
      discoveries.push(d);
      await d.start(() => {});
      return d;
    };

    const good = await discover(
      `basic_auth: {username: promfront, password_file: "${passFile}"}\n          tls_config: {ca_file: "${cert}", server_name: sd.test}`,
    );
    expect(good.targets()).toEqual([{ address: '10.0.0.1:9090', labels: {} }]);
    expect(good.errors).toBe(0);

    // The password rotates on disk; the endpoint still expects the old one: 401, last targets kept.
    writeFileSync(passFile, 'other-secret\n');
    await good.refresh();
    expect(good.targets()).toEqual([{ address: '10.0.0.1:9090', labels: {} }]);
    expect(good.errors).toBe(1);
    expect([...good.failures().values()].join()).toMatch(/HTTP status 401/);
    expect([...good.failures().values()].join()).not.toContain('other-secret');
    writeFileSync(passFile, `${password}\n`);

    // Without the CA the certificate is not trusted: a TLS error, nothing found, no secret in it.
    const untrusted = await discover(`basic_auth: {username: promfront, password: "${password}"}\n          tls_config: {server_name: sd.test}`);
    expect(untrusted.targets()).toEqual([]);
    expect(untrusted.errors).toBe(1);
    const why = [...untrusted.failures().values()].join();
    expect(why).toMatch(/certificate/i);
    expect(why).not.toContain(password);

    // A missing password file is named, with the field.
    const missing = await discover(
      `basic_auth: {username: promfront, password_file: "${dir}/nope"}\n          tls_config: {ca_file: "${cert}", server_name: sd.test}`,
    );
    expect([...missing.failures().values()].join()).toMatch(/basic_auth\.password_file: cannot read .*nope: ENOENT/);

    // Two auth methods at once are refused by the config check.
    expect(() => sdConfig('bearer_token: x\n          basic_auth: {username: a, password: b}')).toThrow(
      /at most one of basic_auth, authorization, bearer_token and bearer_token_file/,
    );
  });
});
