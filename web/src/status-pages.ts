// The status pages: server groups and their targets, shard sources and shards, the running config
// (redacted by the server), flags, build and runtime info, and places for the Pushgateways, fleet
// members, rules and alerts that later capabilities put under /status's push, fleet and rules keys.
// Each page reads /status or /api/v1/status/* when it opens.

import { api, status } from './api.js';
import { ago, alertBox, bytes, h, renderValue, table } from './dom.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as Obj[]) : [];
}
function text(v: unknown): string {
  if (v === null || v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** up, down or unknown from what the query layer saw of a target: its last success and error. */
export function targetState(t: Obj): 'up' | 'down' | 'unknown' {
  const ok = t.last_success_ago_secs;
  const bad = t.last_error_ago_secs;
  if (typeof bad === 'number' && (typeof ok !== 'number' || bad < ok)) return 'down';
  if (typeof ok === 'number') return 'up';
  return 'unknown';
}

function badge(state: string): HTMLElement {
  return h('span', { class: `badge badge-${state}` }, state.toUpperCase());
}

function labelsText(labels: unknown): string {
  const o = obj(labels) ?? {};
  const parts = Object.entries(o).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length === 0 ? '{}' : `{${parts.join(', ')}}`;
}

async function loading(root: HTMLElement, title: string, fill: (box: HTMLElement) => Promise<void>): Promise<void> {
  const box = h('div', { class: 'page-body' }, h('p', { class: 'loading' }, 'Loading…'));
  root.append(h('h1', {}, title), box);
  try {
    const inner = h('div', {});
    await fill(inner);
    box.replaceChildren(...inner.childNodes);
  } catch (err) {
    box.replaceChildren(alertBox('error', 'Error', (err as Error).message));
  }
}

export function targetsPage(root: HTMLElement): Promise<void> {
  return loading(root, 'Server groups and targets', async (box) => {
    const query = obj((await status()).query);
    if (!query) {
      box.append(h('p', { class: 'empty' }, 'No query section in the config: this proxy asks no server groups.'));
      return;
    }
    for (const g of arr(query.groups)) {
      const targets = arr(g.targets);
      const up = targets.filter((t) => targetState(t) === 'up').length;
      box.append(
        h(
          'section',
          { class: 'group', 'data-group': text(g.name) },
          h('h2', {}, text(g.name), ' ', h('span', { class: 'count' }, `(${up}/${targets.length} up)`)),
          h('p', { class: 'meta' }, 'Labels: ', h('code', {}, labelsText(g.labels)), g.ignore_error === true ? ' · errors ignored (ignore_error)' : ''),
          targets.length === 0
            ? h('p', { class: 'empty' }, 'No targets (service discovery found none yet).')
            : table(
                ['Target', 'State', 'Transport', 'Requests', 'Errors', 'Last success', 'Latency', 'Last error'],
                targets.map((t) => [
                  h('code', {}, text(t.url)),
                  badge(targetState(t)),
                  transportText(t.transport),
                  text(t.requests),
                  text(t.errors),
                  ago(t.last_success_ago_secs),
                  typeof t.last_duration_ms === 'number' ? `${t.last_duration_ms} ms` : '—',
                  t.last_error == null ? '' : h('span', { class: 'error-text' }, `${text(t.last_error)} (${ago(t.last_error_ago_secs)})`),
                ]),
                'targets',
              ),
        ),
      );
    }
  });
}

/** /status says per target what the config asks for and what its last read used (remote read or JSON). */
function transportText(v: unknown): string {
  const t = obj(v);
  if (!t) return '—';
  const used = t.in_use == null ? 'not yet read' : text(t.in_use);
  return `${used} (configured: ${text(t.configured)})`;
}

export function shardsPage(root: HTMLElement): Promise<void> {
  return loading(root, 'Shard sources and shards', async (box) => {
    const s = await status();
    if (!Array.isArray(s.sources)) {
      box.append(h('p', { class: 'empty' }, 'No shard section in the config: this proxy scrapes no sources.'));
      return;
    }
    box.append(
      h(
        'p',
        { class: 'meta' },
        `${text(s.num_shards)} shards · ready: ${text(s.ready)} · cycles: ${text(s.cycles)} · last cycle ${ago(s.last_cycle_ago_secs)}, took ${text(s.last_cycle_duration_ms)} ms`,
      ),
      h('h2', {}, 'Sources'),
      table(
        ['Source', 'State', 'Series', 'Families', 'Size', 'On the wire', 'Last scrape', 'Duration', 'Failures', 'Dropped', 'Last error'],
        arr(s.sources).map((src) => [
          h('code', {}, text(src.url)),
          badge(src.up === true ? 'up' : 'down'),
          text(src.series),
          text(src.families),
          bytes(src.bytes),
          bytes(src.wire_bytes),
          ago(src.age_secs),
          `${text(src.duration_ms)} ms`,
          text(src.failures),
          `stale ${text(src.stale_series_dropped)}, duplicates ${text(src.duplicates_dropped)}`,
          src.error == null ? '' : h('span', { class: 'error-text' }, text(src.error)),
        ]),
        'sources',
      ),
      h('h2', {}, 'Shards'),
      table(
        ['Shard', 'Series', 'Families', 'Text', 'Text gzip', 'OpenMetrics', 'OpenMetrics gzip'],
        arr(s.shards).map((sh) => [
          h('a', { href: `metrics/shard/${text(sh.id)}`, 'data-external': true }, text(sh.id)),
          text(sh.series),
          text(sh.families),
          bytes(sh.size_bytes),
          bytes(sh.gzip_bytes),
          bytes(sh.openmetrics_size_bytes),
          bytes(sh.openmetrics_gzip_bytes),
        ]),
        'shards',
      ),
    );
  });
}

export function configPage(root: HTMLElement): Promise<void> {
  return loading(root, 'Configuration', async (box) => {
    const res = await api<{ yaml: string }>('/api/v1/status/config');
    if (res.answer.status !== 'success' || !res.answer.data) {
      box.append(alertBox('error', res.answer.errorType ?? 'Error', res.answer.error ?? `HTTP ${res.httpStatus}`));
      return;
    }
    box.append(
      h('p', { class: 'meta' }, 'The running config; secrets are shown as <secret>.'),
      h('pre', { class: 'config', id: 'config-yaml' }, res.answer.data.yaml),
    );
  });
}

export function flagsPage(root: HTMLElement): Promise<void> {
  return loading(root, 'Command-line flags', async (box) => {
    const res = await api<Record<string, string>>('/api/v1/status/flags');
    if (res.answer.status !== 'success' || !res.answer.data) {
      box.append(alertBox('error', res.answer.errorType ?? 'Error', res.answer.error ?? `HTTP ${res.httpStatus}`));
      return;
    }
    box.append(
      table(
        ['Flag', 'Value'],
        Object.entries(res.answer.data).map(([k, v]) => [h('code', {}, k), v]),
        'flags',
      ),
    );
  });
}

export function buildInfoPage(root: HTMLElement): Promise<void> {
  return loading(root, 'Build and runtime information', async (box) => {
    const [res, s] = await Promise.all([api<Record<string, string>>('/api/v1/status/buildinfo'), status()]);
    box.append(h('h2', {}, 'Build information'));
    if (res.answer.status === 'success' && res.answer.data) {
      box.append(
        table(
          ['Field', 'Value'],
          Object.entries(res.answer.data).map(([k, v]) => [k, v]),
          'buildinfo',
        ),
      );
    } else {
      box.append(alertBox('error', res.answer.errorType ?? 'Error', res.answer.error ?? `HTTP ${res.httpStatus}`));
    }
    // Whatever /status says about the process itself (version, uptime, config file, …), without the
    // per-capability sections that have pages of their own.
    const skip = new Set(['query', 'sources', 'shards', 'shard', 'push', 'fleet', 'rules', 'stream']);
    const runtime = Object.fromEntries(Object.entries(s).filter(([k]) => !skip.has(k)));
    box.append(h('h2', {}, 'Runtime'), renderValue(runtime));
  });
}

/** A page for a later capability's part of /status: shown as it is when present. */
export function capabilityPage(title: string, key: string, what: string, pick?: (v: Obj) => unknown) {
  return (root: HTMLElement): Promise<void> =>
    loading(root, title, async (box) => {
      const s = await status();
      const part = s[key];
      if (part === undefined || part === null) {
        box.append(h('p', { class: 'empty' }, `No ${key} section in the config: ${what} appear here when it has one.`));
        return;
      }
      const v = pick && obj(part) ? pick(obj(part)!) : part;
      box.append(h('div', { class: 'capability', 'data-capability': key }, renderValue(v)));
    });
}
