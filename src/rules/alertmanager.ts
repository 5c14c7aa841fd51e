// Notifications to Alertmanager's v2 API (POST /api/v2/alerts), as Prometheus's notifier sends
// them: every alert to every configured Alertmanager, external labels added where the alert lacks
// them, endsAt set to the resolve time or to a validity that the resend delay keeps pushing out.
// Failures are counted per Alertmanager; an alert is not queued for a later retry, because the
// next resend (resend_delay) carries it again, as in Prometheus.

import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { AlertmanagerConfig } from '../config/rules.js';
import { authorizationHeader, readTlsMaterial, tlsConnectOptions } from '../client/auth-tls.js';
import { parseDuration } from '../util/duration.js';
import { VERSION } from '../version.js';

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export interface AmStats {
  sent: number;
  errors: number;
  lastError: string | undefined;
}

/** The Alertmanagers of the alerting section. */
export class Notifier {
  readonly targets: { url: string; cfg: AlertmanagerConfig; stats: AmStats; dispatcher?: Agent }[] = [];
  dropped = 0;

  constructor(
    cfgs: readonly AlertmanagerConfig[],
    private readonly externalLabels: Record<string, string>,
    private readonly log: Logger,
  ) {
    for (const cfg of cfgs) {
      const prefix = cfg.path_prefix.endsWith('/') ? cfg.path_prefix : `${cfg.path_prefix}/`;
      for (const sc of cfg.static_configs) {
        for (const t of sc.targets)
          this.targets.push({ url: `${cfg.scheme}://${t}${prefix}api/v2/alerts`, cfg, stats: { sent: 0, errors: 0, lastError: undefined } });
      }
    }
  }

  /** Sends `alerts` to every Alertmanager; resolves when all have answered or failed. */
  async send(alerts: AmAlert[]): Promise<void> {
    if (this.targets.length === 0) {
      this.dropped += alerts.length;
      return;
    }
    const body = JSON.stringify(
      alerts.map((a) => {
        const labels = { ...a.labels };
        for (const [k, v] of Object.entries(this.externalLabels)) if (!(k in labels)) labels[k] = v;
        return { ...a, labels };
      }),
    );
    await Promise.all(
      this.targets.map(async (t) => {
        try {
          const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': `promfront/${VERSION}` };
          const auth = await authorizationHeader(t.cfg, async (_f, p) => (await readFile(p, 'utf8')).trim());
          if (auth !== undefined) headers.Authorization = auth;
          if (t.cfg.tls_config !== undefined && t.dispatcher === undefined) {
            t.dispatcher = new Agent({ connect: tlsConnectOptions(t.cfg.tls_config, await readTlsMaterial(t.cfg.tls_config, (_f, p) => readFile(p, 'utf8'))) });
          }
          const res = await undiciFetch(t.url, {
            method: 'POST',
            body,
            headers,
            signal: AbortSignal.timeout(parseDuration(t.cfg.timeout)),
            ...(t.dispatcher ? { dispatcher: t.dispatcher } : {}),
          });
          const text = await res.text();
          if (res.status >= 300) throw new Error(`bad response status ${res.status}: ${text.slice(0, 256).trim()}`);
          t.stats.sent += alerts.length;
        } catch (e) {
          t.stats.errors += alerts.length;
          t.stats.lastError = (e as Error).message;
          this.log.warn({ alertmanager: t.url, err: t.stats.lastError, count: alerts.length }, 'error sending alerts to Alertmanager');
        }
      }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.targets.map((t) => (t.dispatcher ? t.dispatcher.close() : Promise.resolve())));
  }
}
