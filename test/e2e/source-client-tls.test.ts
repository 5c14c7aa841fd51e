// The source client over TLS against loopback HTTPS servers with certificates made by openssl: trust,
// server name, client certificates, insecure_skip_verify, rotated CA files.

import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCert } from '../support/certs.js';
import { BODY, client, expectNoSecrets, listen, scrapeError, source } from '../support/source-client.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'promfront-source-tls-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('createSourceClient: TLS', () => {
  let local: { cert: string; key: string };
  let named: { cert: string; key: string };
  let other: { cert: string; key: string };

  beforeAll(() => {
    local = makeCert(tmp, 'local', 'DNS:localhost,IP:127.0.0.1');
    named = makeCert(tmp, 'exporter', 'DNS:exporter.example.internal');
    other = makeCert(tmp, 'other', 'DNS:localhost,IP:127.0.0.1');
  });

  async function httpsServer(pair: { cert: string; key: string }, opts: https.ServerOptions = {}): Promise<number> {
    const server = https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), ...opts }, (req, res) => {
      const sock = req.socket as TLSSocket;
      const peer = sock.getPeerCertificate();
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Client-CN': peer?.subject?.CN ?? '' });
      res.end(BODY);
    });
    return listen(server);
  }

  it('verifies the server with ca_file', async () => {
    const port = await httpsServer(local);
    const r = await client(source(`https://127.0.0.1:${port}/metrics`, { tls_config: { ca_file: local.cert } })).scrape();
    expect(r.body.toString()).toBe(BODY);
  });

  it('fails verification without the CA', async () => {
    const port = await httpsServer(local);
    const err = await scrapeError(client(source(`https://127.0.0.1:${port}/metrics`, { bearer_token: 'tls-token' })));
    expect(err.message).toMatch(/^TLS handshake failed: .*(self.signed|verify)/i);
    expectNoSecrets(err, 'tls-token');
  });

  it('skips verification with insecure_skip_verify', async () => {
    const port = await httpsServer(local);
    const r = await client(source(`https://127.0.0.1:${port}/metrics`, { tls_config: { insecure_skip_verify: true } })).scrape();
    expect(r.body.toString()).toBe(BODY);
  });

  it('verifies against server_name instead of the URL host', async () => {
    const port = await httpsServer(named);
    const url = `https://127.0.0.1:${port}/metrics`;
    const ok = await client(
      source(url, {
        tls_config: { ca_file: named.cert, server_name: 'exporter.example.internal' },
      }),
    ).scrape();
    expect(ok.body.toString()).toBe(BODY);
    const err = await scrapeError(client(source(url, { tls_config: { ca_file: named.cert } })));
    expect(err.message).toMatch(/^TLS handshake failed: .*(altname|does not match|not in the cert)/i);
  });

  it('presents the client certificate from cert_file/key_file', async () => {
    const port = await httpsServer(local, { requestCert: true, rejectUnauthorized: true, ca: readFileSync(other.cert) });
    const url = `https://127.0.0.1:${port}/metrics`;
    const ok = await client(
      source(url, {
        tls_config: { ca_file: local.cert, cert_file: other.cert, key_file: other.key },
      }),
    ).scrape();
    expect(ok.body.toString()).toBe(BODY);
    // Without a client certificate the server refuses the handshake.
    await scrapeError(client(source(url, { tls_config: { ca_file: local.cert } })));
  });

  it('picks up a replaced ca_file without recreating the client', async () => {
    const port = await httpsServer(local);
    const caFile = join(tmp, 'rotating-ca.crt');
    writeFileSync(caFile, readFileSync(other.cert));
    const c = client(source(`https://127.0.0.1:${port}/metrics`, { tls_config: { ca_file: caFile } }));
    expect((await scrapeError(c)).message).toMatch(/^TLS handshake failed/);
    writeFileSync(caFile, readFileSync(local.cert));
    expect((await c.scrape()).body.toString()).toBe(BODY);
  });

  it('names a missing ca_file', async () => {
    const port = await httpsServer(local);
    const missing = join(tmp, 'missing-ca.crt');
    const err = await scrapeError(client(source(`https://127.0.0.1:${port}/metrics`, { tls_config: { ca_file: missing } })));
    expect(err.message).toBe(`cannot read tls_config.ca_file ${missing}: ENOENT`);
  });
});
