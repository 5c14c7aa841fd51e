// The C forwarders bench/push.ts measures beside promfront: haproxy (http mode) and nginx
// (proxy_pass to an upstream with keepalive), each in front of one Pushgateway on loopback. They
// answer what a second hop costs on this machine when the forwarder spends next to nothing itself,
// which is the floor any forwarder, promfront included, is compared with. Both run in the
// foreground with one thread / worker (promfront's forwarding runs on one thread too), from a
// config in a temporary directory, on a free port; no system service is touched.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { answers200, freePort, terminate, trackChild, waitFor } from '../dev/prometheus-process.js';

export interface Peer {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const HAPROXY = '/usr/sbin/haproxy';
const NGINX = '/usr/sbin/nginx';

async function started(what: string, bin: string, args: string[], dir: string, port: number): Promise<Peer> {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing (apt-get install ${path.basename(bin)} or nginx-light)`);
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  trackChild(child, [dir]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(() => answers200(`${base}/-/ready`), 20_000, what);
  return {
    base,
    child,
    stop: async () => {
      await terminate(child, 5000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** haproxy in http mode: keep-alive on both sides, idle server connections reused by any client (`http-reuse always`). */
export async function startHaproxy(upstream: string): Promise<Peer> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-haproxy-'));
  const port = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  timeout http-keep-alive 60s',
      'frontend push',
      `  bind 127.0.0.1:${port}`,
      '  default_backend pushgateway',
      'backend pushgateway',
      '  http-reuse always',
      `  server pgw ${upstream}`,
      '',
    ].join('\n'),
  );
  // -db: foreground, no daemon; -p: its pid file in the temporary directory.
  return started('haproxy', HAPROXY, ['-db', '-f', cfg, '-p', path.join(dir, 'haproxy.pid')], dir, port);
}

/** nginx with one worker, no master: proxy_pass over HTTP/1.1 to an upstream keeping 64 idle connections. */
export async function startNginx(upstream: string): Promise<Peer> {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-nginx-'));
  const port = await freePort();
  const cfg = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    cfg,
    [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      `  upstream pushgateway { server ${upstream}; keepalive 64; }`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    keepalive_requests 1000000;',
      '    client_max_body_size 16m;',
      // Bodies up to this size stay in memory (the default 16k would spill a 1,000-series push to a temp file).
      '    client_body_buffer_size 1m;',
      '    location / {',
      '      proxy_pass http://pushgateway;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  // -e: the error log before the config is read (else the packaged default path under /var/log).
  return started('nginx', NGINX, ['-e', path.join(dir, 'error.log'), '-p', dir, '-c', cfg], dir, port);
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
