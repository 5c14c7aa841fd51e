// Fixtures for the SigV4 tests: a loopback server that records every request raw (request target,
// header lines, body bytes) and answers like a small Prometheus, the run of the independent Python
// verifier (sigv4_verify.py, botocore) over what it recorded, and a fake STS endpoint answering
// AssumeRoleWithWebIdentity with keys of a chosen lifetime.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface CapturedRequest {
  method: string;
  /** The request target exactly as received: path and query. */
  target: string;
  /** Header lines as received, in order. */
  headers: [string, string][];
  body: Buffer;
}

export interface CaptureServer {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

/** Starts the recording server; `answer` may reply (return true), else a Prometheus-like answer or 404. */
export async function startCaptureServer(answer?: (req: CapturedRequest, res: ServerResponse) => boolean): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: [string, string][] = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      const captured: CapturedRequest = { method: req.method ?? '', target: req.url ?? '', headers, body: Buffer.concat(chunks) };
      requests.push(captured);
      if (answer?.(captured, res)) return;
      promLikeAnswer(captured, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function promLikeAnswer(r: CapturedRequest, res: ServerResponse): void {
  const u = new URL(r.target, 'http://x');
  const json = (data: unknown): void => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data }));
  };
  const p = u.pathname;
  if (p.endsWith('/api/v1/query_range')) json({ resultType: 'matrix', result: [] });
  else if (p.endsWith('/api/v1/query')) json({ resultType: u.searchParams.get('query')?.endsWith('ms]') ? 'matrix' : 'vector', result: [] });
  else if (p.endsWith('/api/v1/labels') || /\/api\/v1\/label\/[^/]+\/values$/.test(p) || p.endsWith('/api/v1/series')) json([]);
  else if (p.endsWith('/api/v1/metadata')) json({});
  else if (p.endsWith('/metrics')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end('# TYPE up gauge\nup 1\n');
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
}

export interface Verdict {
  ok: boolean;
  reason: string;
  signed_headers: string[];
  received_headers: string[];
  region: string;
  service: string;
  access_key: string;
}

const VERIFIER = fileURLToPath(new URL('./sigv4_verify.py', import.meta.url));
/** Debian's interpreter, where python3-botocore is installed; any python3 with botocore otherwise. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Recomputes each request's signature with botocore, given the secret key (and session token). */
export function verifySigV4(requests: CapturedRequest[], secretKey: string, sessionToken?: string): Verdict[] {
  const input = JSON.stringify({
    secret_key: secretKey,
    session_token: sessionToken ?? null,
    requests: requests.map((r) => ({ method: r.method, target: r.target, headers: r.headers, body_b64: r.body.toString('base64') })),
  });
  const run = spawnSync(PYTHON, [VERIFIER], { input, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sigv4_verify.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Verdict[];
}

/**
 * The headers a signer may leave unsigned: Authorization itself, and those the transport adds or
 * proxies change (Go's signer skips User-Agent; Go's transport adds Accept-Encoding after signing,
 * undici adds Connection). Every other header received must be signed.
 */
export const UNSIGNED_OK = new Set(['authorization', 'user-agent', 'accept-encoding', 'connection', 'x-amzn-trace-id']);

/** The received headers neither signed nor in UNSIGNED_OK (should be none). */
export function unsignedHeaders(v: Verdict): string[] {
  return v.received_headers.filter((h) => !UNSIGNED_OK.has(h) && !v.signed_headers.includes(h));
}

export interface FakeSts {
  url: string;
  /** Web identity tokens received, one per AssumeRoleWithWebIdentity call. */
  calls: { action: string; roleArn: string; token: string }[];
  close(): Promise<void>;
}

/** A fake STS endpoint: every AssumeRoleWithWebIdentity gets new keys that expire after lifetimeSeconds. */
export async function startFakeSts(lifetimeSeconds: number): Promise<FakeSts> {
  const calls: FakeSts['calls'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const n = calls.push({ action: form.get('Action') ?? '', roleArn: form.get('RoleArn') ?? '', token: form.get('WebIdentityToken') ?? '' });
      const expiration = new Date(Date.now() + lifetimeSeconds * 1000).toISOString();
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAFAKESTS${n}</AccessKeyId>
      <SecretAccessKey>sts-secret-${n}</SecretAccessKey>
      <SessionToken>sts-token-${n}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>${form.get('RoleArn') ?? ''}/s</Arn><AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser>
    <SubjectFromWebIdentityToken>system:serviceaccount:x:y</SubjectFromWebIdentityToken>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>fake-${n}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
