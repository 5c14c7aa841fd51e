// The web UI's entry: the navigation bar and a client-side router over the pages. The server answers
// every page path with index.html, so a reload or a shared link opens the same page.

import { pagePath } from './api.js';
import { h } from './dom.js';
import { queryPage } from './query-page.js';
import { buildInfoPage, capabilityPage, configPage, flagsPage, shardsPage, targetsPage } from './status-pages.js';
import './style.css';

type Page = (root: HTMLElement) => void | (() => void) | Promise<void>;

interface Route {
  path: string;
  title: string;
  page: Page;
}

const ROUTES: Route[] = [
  { path: '/graph', title: 'Query', page: queryPage },
  { path: '/targets', title: 'Targets', page: targetsPage },
  { path: '/shards', title: 'Shards', page: shardsPage },
  { path: '/config', title: 'Config', page: configPage },
  { path: '/flags', title: 'Flags', page: flagsPage },
  { path: '/buildinfo', title: 'Build info', page: buildInfoPage },
  { path: '/pushgateways', title: 'Pushgateways', page: capabilityPage('Pushgateways', 'push', 'the Pushgateways promfront routes to') },
  { path: '/fleet', title: 'Fleet', page: capabilityPage('Fleet members', 'fleet', 'the fleet members and their target assignments') },
  { path: '/rules', title: 'Rules', page: capabilityPage('Rules', 'rules', 'rule groups and their evaluations') },
  {
    path: '/alerts',
    title: 'Alerts',
    page: capabilityPage('Alerts', 'rules', 'alerts', (r) => r.alerts ?? r),
  },
];

/** Paths that show the query page as well (Prometheus's old and new names). */
const ALIASES: Record<string, string> = { '/': '/graph', '/classic/graph': '/graph', '/query': '/graph' };

const nav = document.getElementById('nav')!;
const page = document.getElementById('page')!;
let cleanup: (() => void) | undefined;

for (const r of ROUTES) nav.append(h('a', { href: r.path.slice(1), 'data-nav': true, 'data-path': r.path }, r.title));

function render(): void {
  cleanup?.();
  cleanup = undefined;
  const path = ALIASES[pagePath()] ?? pagePath();
  const route = ROUTES.find((r) => r.path === path);
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.path === path);
  page.replaceChildren();
  page.dataset.page = route?.path.slice(1) ?? 'not-found';
  if (!route) {
    page.append(h('h1', {}, 'Page not found'), h('p', {}, `promfront has no page ${path}.`));
    return;
  }
  document.title = `${route.title} · promfront`;
  const out = route.page(page);
  if (typeof out === 'function') cleanup = out;
}

// Links inside the app change the page without a reload; links marked data-external (shard bodies)
// and modified clicks behave as usual.
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest('a');
  if (!a || a.dataset.external !== undefined || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const href = a.getAttribute('href');
  if (!href || /^[a-z]+:/i.test(href)) return;
  e.preventDefault();
  const target = new URL(href, document.baseURI);
  if (target.pathname !== location.pathname) history.pushState(null, '', target.pathname);
  render();
});
window.addEventListener('popstate', render);

render();
