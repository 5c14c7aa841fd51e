// Push routing to Pushgateways behind exporter-toolkit's --web.config.file (TLS and basic auth):
// two real Debian prometheus-pushgateway 1.5.1 processes serving HTTPS with a throwaway certificate
// and one bcrypt user, the proxy configured with push.scheme https, tls_config.ca_file and
// basic_auth.password_file. Proves that pushes, health checks, deletes and rebalance all carry the
// TLS trust and the credentials, that a wrong secret keeps the Pushgateways out of the ring with a
// clear reason and is picked up when the file is rewritten, and that the secret never shows.

import bcrypt from 'bcryptjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../dev/prometheus-process.js';
import { makeCert } from '../support/certs.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startPushgateway, type PgwGroup, type PushgatewayProcess } from '../support/pushgateway.js';

const PASSWORD = 'pgw-Secret-pw-7f3a';
const WRONG = 'not-the-password-91c2';
const USER = 'pusher';

let dir: string;
let ca: string;
let tlsAgent: Agent;
const pgws: PushgatewayProcess[] = [];
const proxies: ProxyProcess[] = [];
const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** Whether a TLS + auth Pushgateway answers 200 on `path` with the right credentials. */
async function answersWithAuth(url: string, path: string): Promise<boolean> {
  try {
    const r = await request(`${url}${path}`, { dispatcher: tlsAgent, headers: { authorization: auth } });
    await r.body.dump();
    return r.statusCode === 200;
  } catch {
    return false;
  }
}

async function groupsOf(p: PushgatewayProcess): Promise<PgwGroup[]> {
  const r = await request(`${p.url}/api/v1/metrics`, { dispatcher: tlsAgent, headers: { authorization: auth } });
  expect(r.statusCode).toBe(200);
  return ((await r.body.json()) as { data: PgwGroup[] }).data;
}

async function pushStatus(proxy: ProxyProcess): Promise<any> {
  return ((await (await fetch(`${proxy.url}/status`)).json()) as { push: any }).push;
}

async function sd(proxy: ProxyProcess): Promise<{ targets: string[] }[]> {
  return (await (await fetch(`${proxy.url}/sd/pushgateways`)).json()) as { targets: string[] }[];
}

/** /status's push part once every Pushgateway has been checked (members appear unchecked first). */
async function checkedOnce(proxy: ProxyProcess): Promise<any> {
  let status: any;
  await waitFor(
    async () => {
      status = await pushStatus(proxy);
      return status.pushgateways.length === 2 && status.pushgateways.every((m: any) => m.last_check !== null);
    },
    20_000,
    'first health checks',
  );
  return status;
}

function proxyConfig(passwordFile: string, interval = '1s'): (listen: string) => string {
  return (listen) =>
    [
      `listen: ${listen}`,
      'push:',
      '  pushgateways:',
      `    static_configs: [{targets: [${pgws.map((p) => `"${p.address}"`).join(', ')}]}]`,
      `  health_check_interval: ${interval}`,
      '  scheme: https',
      `  tls_config: {ca_file: "${ca}"}`,
      `  basic_auth: {username: ${USER}, password_file: "${passwordFile}"}`,
      '',
    ].join('\n');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promfront-push-tls-'));
  const cert = makeCert(dir, 'pgw', 'IP:127.0.0.1');
  ca = cert.cert;
  tlsAgent = new Agent({ connect: { ca: readFileSync(ca, 'utf8') } });
  const web = join(dir, 'web.yml');
  writeFileSync(
    web,
    `tls_server_config:\n  cert_file: ${cert.cert}\n  key_file: ${cert.key}\nbasic_auth_users:\n  ${USER}: '${bcrypt.hashSync(PASSWORD, 4)}'\n`,
  );
  for (let i = 0; i < 2; i++) pgws.push(await startPushgateway({ webConfigFile: web, scheme: 'https', ready: (u) => answersWithAuth(u, '/-/ready') }));
}, 60_000);

afterAll(async () => {
  for (const p of proxies) await p.stop();
  for (const p of pgws) await p.stop();
  await tlsAgent?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('push: Pushgateways behind TLS and basic auth (--web.config.file)', () => {
  it('the Pushgateways really refuse a client without the CA or the credentials', async () => {
    // Without this the tests below could pass against Pushgateways that check nothing.
    const anon = await request(`${pgws[0].url}/-/healthy`, { dispatcher: tlsAgent });
    await anon.body.dump();
    expect(anon.statusCode).toBe(401);
    await expect(fetch(`${pgws[0].url}/-/healthy`)).rejects.toThrow();
  });

  it('forwards pushes and deletes with the configured trust and credentials; health checks pass; the secret never shows', async () => {
    const pwFile = join(dir, 'password-good');
    writeFileSync(pwFile, `${PASSWORD}\n`);
    const proxy = await startProxy(proxyConfig(pwFile));
    proxies.push(proxy);
    await waitFor(async () => (await sd(proxy)).length === 2, 20_000, 'both TLS Pushgateways in the ring');

    // The client pushes plain HTTP without credentials: the proxy adds them.
    const paths = Array.from({ length: 20 }, (_, i) => `/metrics/job/tls/instance/i${i}`);
    for (const [i, p] of paths.entries()) {
      const res = await fetch(`${proxy.url}${p}`, { method: 'PUT', body: `# TYPE tls_value gauge\ntls_value ${i}\n` });
      expect([res.status, await res.text()]).toEqual([200, '']);
    }
    const held = new Map<string, string>();
    for (const p of pgws) for (const g of await groupsOf(p)) if (g.labels.job === 'tls') held.set(g.labels.instance, p.address);
    expect(held.size).toBe(20);
    // Each on the Pushgateway the owner endpoint names, and both members used.
    for (const [i, p] of paths.entries()) {
      const owner = ((await (await fetch(`${proxy.url}/api/v1/push/owner?path=${encodeURIComponent(p)}`)).json()) as any).data.pushgateway;
      expect(held.get(`i${i}`)).toBe(owner);
    }
    expect(new Set(held.values()).size).toBe(2);

    const del = await fetch(`${proxy.url}${paths[0]}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    for (const p of pgws) expect((await groupsOf(p)).some((g) => g.labels.instance === 'i0')).toBe(false);

    const status = await pushStatus(proxy);
    expect(status.pushgateways.map((m: any) => [m.healthy, m.last_error])).toEqual([
      [true, null],
      [true, null],
    ]);
    expect(status.connection).toEqual({ scheme: 'https', tls_ca: ca, auth: 'basic_auth (pusher)' });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toMatch(/promfront_push_requests_total\{method="PUT",code="200",pushgateway="127\.0\.0\.1:\d+"\} \d+/);
    for (const text of [JSON.stringify(status), metrics, proxy.logs(), await (await fetch(`${proxy.url}/status`)).text()]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
    }
  });

  it('a wrong password keeps the Pushgateways out of the ring with the reason (401), pushes get 503; a rewritten password file is used without a reload', async () => {
    const pwFile = join(dir, 'password-rotated');
    writeFileSync(pwFile, `${WRONG}\n`);
    const proxy = await startProxy(proxyConfig(pwFile));
    proxies.push(proxy);
    const status = await checkedOnce(proxy);
    expect(status.pushgateways.map((m: any) => [m.healthy, m.last_error])).toEqual([
      [false, '/-/healthy answered 401'],
      [false, '/-/healthy answered 401'],
    ]);
    expect(await sd(proxy)).toEqual([]);
    const refused = await fetch(`${proxy.url}/metrics/job/rotated`, { method: 'PUT', body: 'x 1\n' });
    expect(refused.status).toBe(503);

    writeFileSync(pwFile, `${PASSWORD}\n`);
    await waitFor(async () => (await sd(proxy)).length === 2, 20_000, 'both Pushgateways back in the ring with the rotated password');
    const ok = await fetch(`${proxy.url}/metrics/job/rotated`, { method: 'PUT', body: 'rotated_value 1\n' });
    expect(ok.status).toBe(200);
    for (const text of [proxy.logs(), JSON.stringify(await pushStatus(proxy))]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(WRONG);
    }
  });

  it('without the CA the certificate is not trusted: the health check says so and nothing is forwarded', async () => {
    const pwFile = join(dir, 'password-noca');
    writeFileSync(pwFile, `${PASSWORD}\n`);
    const proxy = await startProxy((listen) => proxyConfig(pwFile)(listen).replace(/ {2}tls_config: .*\n/, ''));
    proxies.push(proxy);
    const status = await checkedOnce(proxy);
    for (const m of status.pushgateways) {
      expect(m.healthy).toBe(false);
      expect(m.last_error).toMatch(/certificate/i);
    }
    expect((await fetch(`${proxy.url}/metrics/job/noca`, { method: 'PUT', body: 'x 1\n' })).status).toBe(503);
  });
});
