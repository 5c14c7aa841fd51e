// What the fleet e2e tests share: fleet members registered in a real etcd (each a Fleet of this
// process with a short lease), small exporters serving a fixed exposition, and stopping all of it,
// and the Prometheus servers, proxy and etcd a test started, in an order that leaves no process.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { Fleet } from '../../src/fleet/fleet.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';

export class FleetTestbed {
  readonly proms: PrometheusProcess[] = [];
  readonly fleets: Fleet[] = [];
  private readonly exporters: Server[] = [];

  /** An exporter on a free loopback port answering `body` as text 0.0.4; its host:port. */
  async exporter(body: string): Promise<string> {
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    this.exporters.push(s);
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  /** A member of `group` (under `prefix`, else the default) registering `address`, not yet started. */
  register(endpoint: string, group: string, address: string, prefix?: string): Fleet {
    const config = parseConfigText(`
fleet:
  etcd: {endpoints: ["${endpoint}"]${prefix === undefined ? '' : `, prefix: ${prefix}`}, lease_ttl: 3s}
  register: {address: ${address}, group: ${group}}
`);
    const f = new Fleet(config, { log: pino({ level: 'silent' }), configFile: undefined, listen: '127.0.0.1:1', queryApi: () => Promise.resolve(undefined) });
    this.fleets.push(f);
    return f;
  }

  /** Members, then Prometheus servers, then `others` in order (the proxy, etcd), then the exporters. */
  async stop(...others: ({ stop(): Promise<void> } | undefined)[]): Promise<void> {
    await Promise.allSettled(this.fleets.map((f) => f.stop()));
    await Promise.allSettled(this.proms.map((p) => p.stop()));
    for (const o of others) await o?.stop();
    await Promise.allSettled(this.exporters.map((s) => new Promise((r) => s.close(r))));
  }
}
