// One secret of every kind the config can hold, and servers that echo back everything they are sent
// (request line, every header, the body) in their errors, warnings and failure pages. Every output
// of the proxy is then searched for each secret in every form it could travel in: as written,
// percent- and form-encoded, and inside a Basic credential. The suite fails on the first output
// that carries one.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../dev/prometheus-process.js';
import { parseExposition } from '../../src/shard/textparse/parse.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

/** Distinct values, so a leak names the kind of secret that leaked. */
const SECRETS = {
  downstreamBasicPassword: 'S3cret-DS-basic-pw',
  downstreamPasswordFile: 'S3cret-DS-pwfile',
  downstreamAuthorization: 'S3cret-DS-authz-credentials',
  downstreamBearer: 'S3cret-DS-bearer',
  downstreamBearerFile: 'S3cret-DS-bearer-file',
  downstreamQueryParam: 'S3cret DS/qp+token', // a space, a slash and a plus: its encoded forms differ
  downstreamHeader: 'S3cret-DS-x-api-key',
  sourceBasicPassword: 'S3cret-SRC-basic-pw',
  sourceBearer: 'S3cret-SRC-bearer',
  sourceHeader: 'S3cret-SRC-x-auth-token',
  sourceUserinfo: 'S3cret-SRC-userinfo',
};
const USERS = { downstream: 'ds-user', downstreamFile: 'ds-file-user', source: 'src-user', userinfo: 'ui-user' };

/** Every form in which a secret could come back through an echo. */
function forms(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [kind, secret] of Object.entries(SECRETS)) {
    // The first name wins: most secrets read the same in all three forms.
    const add = (form: string, name: string) => void (out.has(form) || out.set(form, name));
    add(secret, kind);
    add(encodeURIComponent(secret), `${kind} (percent-encoded)`);
    add(new URLSearchParams({ x: secret }).toString().slice(2), `${kind} (form-encoded)`);
  }
  const basic = (user: string, pw: string) => Buffer.from(`${user}:${pw}`).toString('base64');
  out.set(basic(USERS.downstream, SECRETS.downstreamBasicPassword), 'downstream basic credential');
  out.set(basic(USERS.downstreamFile, SECRETS.downstreamPasswordFile), 'downstream password_file credential');
  out.set(basic(USERS.source, SECRETS.sourceBasicPassword), 'source basic credential');
  out.set(basic(USERS.userinfo, SECRETS.sourceUserinfo), 'source userinfo credential');
  return out;
}

function leaks(where: string, text: string): string[] {
  const found: string[] = [];
  for (const [form, kind] of forms()) if (text.includes(form)) found.push(`${where}: ${kind}`);
  return found;
}

/** The request as the echo servers repeat it: request line, every header, the body. */
async function echoOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  // Credential-bearing headers first: an error that is cut short still carries them.
  const first = (k: string) => (k === 'authorization' || k.startsWith('x-') ? 0 : 1);
  const headers = Object.entries(req.headers)
    .sort(([a], [b]) => first(a) - first(b))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
    .join('; ');
  return `${req.method} ${req.url} HTTP/1.1; ${headers}; body: ${Buffer.concat(chunks).toString('latin1')}`;
}

/**
 * A Prometheus-like downstream that answers every JSON call successfully but with the echoed request as
 * a warning, except label values and remote read, which fail with the echo as the error (JSON for the
 * API, plain text for remote read, as Prometheus does).
 */
async function startEchoDownstream(): Promise<{ server: Server; host: string; requests: number; echoes: string[] }> {
  const state = { server: undefined as unknown as Server, host: '', requests: 0, echoes: [] as string[] };
  state.server = createServer((req, res) => {
    state.requests++;
    void echoOf(req).then((echo) => {
      state.echoes.push(echo);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.endsWith('/api/v1/read')) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`remote read refused: ${echo}\n`);
      } else if (/\/api\/v1\/label\/[^/]+\/values$/.test(path)) {
        res.writeHead(422, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'execution', error: `cannot answer ${echo}` }));
      } else {
        const data = path.endsWith('/query') || path.endsWith('/query_range') ? { resultType: 'matrix', result: [] } : [];
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data, warnings: [`you sent ${echo}`] }));
      }
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.host = `127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

/** An exporter that always fails with the echoed request as its error page. */
async function startEchoUpstream(): Promise<{ server: Server; url: string; requests: number }> {
  const state = { server: undefined as unknown as Server, url: '', requests: 0 };
  state.server = createServer((req, res) => {
    state.requests++;
    void echoOf(req).then((echo) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`exporter broken while serving ${echo}\n`);
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/metrics`;
  return state;
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
}

describe('configured secrets never leave the proxy', () => {
  let proxy: ProxyProcess;
  let downstream: Awaited<ReturnType<typeof startEchoDownstream>>;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let dir: string;

  beforeAll(async () => {
    downstream = await startEchoDownstream();
    upstream = await startEchoUpstream();
    dir = mkdtempSync(join(tmpdir(), 'promfront-redaction-'));
    const pwFile = join(dir, 'password');
    const tokenFile = join(dir, 'token');
    writeFileSync(pwFile, `${SECRETS.downstreamPasswordFile}\n`);
    writeFileSync(tokenFile, `${SECRETS.downstreamBearerFile}\n`);
    const userinfoUrl = upstream.url.replace('http://', `http://${USERS.userinfo}:${SECRETS.sourceUserinfo}@`);
    // ignore_error everywhere: a failing group becomes a warning carrying its error, which is what is searched.
    const target = `static_configs: [{targets: ["${downstream.host}"]}]\n      ignore_error: true`;
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: debug
shard:
  num_shards: 1
  scrape_interval: 1s
  sources:
    - url: ${upstream.url}
      basic_auth: {username: ${USERS.source}, password: ${SECRETS.sourceBasicPassword}}
    - url: ${upstream.url}?second
      bearer_token: ${SECRETS.sourceBearer}
    - url: ${upstream.url}?third
      headers: {X-Auth-Token: ${SECRETS.sourceHeader}}
    - url: ${userinfoUrl}
query:
  server_groups:
    - name: basic
      ${target}
      remote_read: false
      http_client: {basic_auth: {username: ${USERS.downstream}, password: ${SECRETS.downstreamBasicPassword}}}
    - name: basic-file
      ${target}
      remote_read: true
      http_client: {basic_auth: {username: ${USERS.downstreamFile}, password_file: ${pwFile}}}
    - name: authorization
      ${target}
      remote_read: false
      http_client: {authorization: {type: Token, credentials: ${SECRETS.downstreamAuthorization}}}
    - name: bearer
      ${target}
      remote_read: true
      http_client: {bearer_token: ${SECRETS.downstreamBearer}}
    - name: bearer-file
      ${target}
      remote_read: false
      http_client: {bearer_token_file: ${tokenFile}}
    - name: params-and-headers
      ${target}
      remote_read: false
      query_params: {api_key: "${SECRETS.downstreamQueryParam}"}
      http_headers: {X-Api-Key: ${SECRETS.downstreamHeader}}
`,
    );
    // Every source has been tried at least twice, so failures are logged and in /status.
    await waitFor(async () => upstream.requests >= 8, 20_000, 'scrapes of the failing exporter');
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    downstream?.server.closeAllConnections();
    upstream?.server.closeAllConnections();
    await new Promise((r) => downstream?.server.close(r));
    await new Promise((r) => upstream?.server.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the secrets do reach the servers that echo them (so the search below can fail)', async () => {
    downstream.echoes.length = 0;
    expect((await get(`${proxy.url}/api/v1/label/job/values`)).status).toBe(200);
    expect((await get(`${proxy.url}/api/v1/query?query=up`)).status).toBe(200);
    const seen = new Set(leaks('echo', downstream.echoes.join('\n')).map((l) => l.replace(/^echo: /, '')));
    for (const kind of ['downstream basic credential', 'downstream password_file credential', 'downstreamAuthorization', 'downstreamBearer']) {
      expect(seen, `${kind} in ${[...seen].join(', ')}`).toContain(kind);
    }
    for (const kind of ['downstreamBearerFile', 'downstreamQueryParam (form-encoded)', 'downstreamHeader']) expect(seen, kind).toContain(kind);
  });

  it('no output of the proxy carries a secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const outputs: [string, string][] = [];
    const paths = [
      '/api/v1/query?query=up',
      `/api/v1/query_range?query=${encodeURIComponent('rate(up[5m])')}&start=${now - 600}&end=${now}&step=60`,
      '/api/v1/series?match[]=up',
      '/api/v1/labels',
      '/api/v1/label/job/values',
      '/api/v1/label/__name__/values',
      '/api/v1/metadata',
      '/api/v1/status/config',
      '/api/v1/status/buildinfo',
      '/federate?match[]=up',
      '/status',
      '/metrics',
      '/metrics/shard/0',
    ];
    for (const p of paths) {
      const r = await get(`${proxy.url}${p}`);
      outputs.push([`GET ${p} (${r.status})`, r.text]);
    }
    const post = await get(`${proxy.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: 'sum(up)' }).toString(),
    });
    outputs.push([`POST /api/v1/query (${post.status})`, post.text]);
    // Failures and warnings must have happened, or the search proves nothing.
    const all = outputs.map(([, t]) => t).join('\n');
    expect(all).toContain('cannot answer GET'); // JSON API errors, echo included
    expect(all).toContain('remote read refused: POST'); // remote read errors, echo included
    expect(all).toContain('server returned HTTP status 500'); // the failing sources in /status
    const logs = proxy.logs();
    expect(logs).toContain('HTTP status 500');
    outputs.push(['logs (stdout and stderr)', logs]);
    // /metrics, with every part of the process counting into it, is one valid exposition.
    const metrics = outputs.find(([where]) => where.startsWith('GET /metrics ('))![1];
    expect(() => parseExposition(metrics, 'text', { family: () => {}, sample: () => {} })).not.toThrow();
    const found = outputs.flatMap(([where, text]) => leaks(where, text));
    expect(found).toEqual([]);
  });
});
