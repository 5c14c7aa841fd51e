// Tiny DOM helpers: the UI is plain TypeScript without a framework, which keeps the bundle to the
// editor and the chart.

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

export function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Grafana-like alert boxes: kind error (red), warning (yellow) or info (blue). */
export function alertBox(kind: 'error' | 'warning' | 'info', title: string, text: string): HTMLElement {
  return h('div', { class: `alert alert-${kind}`, role: 'alert' }, h('strong', {}, title), ' ', h('span', { class: 'alert-text' }, text));
}

/** A table from a header row and rows of cells. */
export function table(head: string[], rows: (Child | Child[])[][], cls = ''): HTMLTableElement {
  return h(
    'table',
    { class: `tbl ${cls}`.trim() },
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
  );
}

/** Seconds ago as "12.3s ago", "5m ago"; null as "never". */
export function ago(secs: unknown): string {
  if (typeof secs !== 'number') return 'never';
  if (secs < 60) return `${secs.toFixed(1)}s ago`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ${Math.round(secs % 60)}s ago`;
  return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m ago`;
}

export function bytes(n: unknown): string {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Any JSON value as HTML: arrays of objects as tables, objects as key/value lists. Used for the
 * parts of /status that later capabilities (push, fleet, rules) fill, whose shape this UI does not
 * fix in advance.
 */
export function renderValue(v: unknown): Node {
  if (v === null || v === undefined) return document.createTextNode('—');
  if (Array.isArray(v)) {
    if (v.length === 0) return h('em', {}, 'none');
    if (v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) {
      const keys = [...new Set(v.flatMap((x) => Object.keys(x as object)))];
      return table(
        keys,
        v.map((x) => keys.map((k) => renderValue((x as Record<string, unknown>)[k]))),
      );
    }
    return h('ul', {}, ...v.map((x) => h('li', {}, renderValue(x))));
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return h('em', {}, 'empty');
    return h('dl', { class: 'kv' }, ...entries.flatMap(([k, x]) => [h('dt', {}, k), h('dd', {}, renderValue(x))]));
  }
  return document.createTextNode(typeof v === 'string' ? v : JSON.stringify(v));
}
