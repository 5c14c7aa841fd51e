// The query page (/ and /graph): a PromQL editor (CodeMirror with Prometheus's PromQL language:
// highlighting, inline parse errors, metric and label completion from this proxy's own /api/v1
// metadata endpoints), instant or range evaluation, the answer as a table and a uPlot graph, the
// API's warnings and errors in Grafana-like boxes, and the query's stats.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap, completionStatus } from '@codemirror/autocomplete';
import { defaultKeymap, history as undoHistory, historyKeymap, insertNewlineAndIndent } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { lintKeymap } from '@codemirror/lint';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, PREFIX, type ApiResult } from './api.js';
import { alertBox, h, table } from './dom.js';
import { autoStep, formatDuration, parseDuration, parseTime } from './time.js';

type Metric = Record<string, string>;
type Sample = [number, string];
type QueryData =
  | { resultType: 'vector'; result: { metric: Metric; value: Sample }[] }
  | { resultType: 'matrix'; result: { metric: Metric; values: Sample[] }[] }
  | { resultType: 'scalar'; result: Sample }
  | { resultType: 'string'; result: Sample };

declare global {
  interface Window {
    /** The graph on screen, for the browser tests to read what was plotted. */
    promfrontPlot?: uPlot;
  }
}

/** A series' labels as Prometheus's UI prints them: name{a="x", b="y"}. */
export function seriesName(m: Metric): string {
  const name = m.__name__ ?? '';
  const labels = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return labels.length === 0 && name !== '' ? name : `${name}{${labels.join(', ')}}`;
}

function formatTs(t: number): string {
  return new Date(t * 1000).toISOString();
}

export function queryPage(root: HTMLElement): () => void {
  const params = new URLSearchParams(location.search);
  const mode = h('select', { id: 'mode', 'aria-label': 'query type' }, h('option', { value: 'instant' }, 'Instant'), h('option', { value: 'range' }, 'Range'));
  mode.value = params.get('mode') === 'range' ? 'range' : 'instant';
  const time = h('input', { id: 'time', type: 'text', placeholder: 'now (RFC 3339 or Unix seconds)', size: '26', value: params.get('time') ?? '' });
  const range = h('input', { id: 'range', type: 'text', size: '6', value: params.get('range') ?? '1h' });
  const step = h('input', { id: 'step', type: 'text', size: '6', placeholder: 'auto', value: params.get('step') ?? '' });
  const execute = h('button', { id: 'execute', type: 'button', class: 'primary' }, 'Execute');
  const rangeFields = h('span', { class: 'range-fields' }, h('label', {}, 'Range ', range), h('label', {}, 'Step ', step));
  const timeLabel = h('span', {}, 'Evaluation time');
  const messages = h('div', { id: 'messages' });
  const stats = h('div', { id: 'stats', class: 'stats' });
  const tableBox = h('div', { id: 'result-table' });
  const graphBox = h('div', { id: 'graph' });
  const editorBox = h('div', { class: 'editor', id: 'editor' });

  const syncMode = () => {
    const isRange = mode.value === 'range';
    rangeFields.hidden = !isRange;
    graphBox.hidden = !isRange;
    timeLabel.textContent = isRange ? 'End time' : 'Evaluation time';
  };
  mode.addEventListener('change', syncMode);
  syncMode();

  root.append(
    h(
      'section',
      { class: 'query' },
      editorBox,
      h('div', { class: 'controls' }, h('label', {}, 'Type ', mode), h('label', {}, timeLabel, ' ', time), rangeFields, execute),
    ),
    messages,
    stats,
    graphBox,
    tableBox,
  );

  let running: AbortController | undefined;
  let plot: uPlot | undefined;
  const run = async () => {
    const expr = view.state.doc.toString();
    running?.abort();
    const ctl = (running = new AbortController());
    messages.replaceChildren();
    if (expr.trim() === '') {
      messages.append(alertBox('warning', 'Empty query', 'type a PromQL expression'));
      return;
    }
    const form = new URLSearchParams({ query: expr });
    let path: string;
    try {
      const t = parseTime(time.value);
      if (mode.value === 'range') {
        const r = parseDuration(range.value);
        const s = step.value.trim() === '' ? autoStep(r) : parseDuration(step.value);
        if (!(s > 0)) throw new Error('step must be greater than 0');
        form.set('start', String(t - r));
        form.set('end', String(t));
        form.set('step', String(s));
        path = '/api/v1/query_range';
      } else {
        form.set('time', String(t));
        path = '/api/v1/query';
      }
    } catch (err) {
      messages.append(alertBox('error', 'Invalid input', (err as Error).message));
      return;
    }
    const shown = new URLSearchParams({ expr, mode: mode.value });
    if (time.value !== '') shown.set('time', time.value);
    if (mode.value === 'range') {
      shown.set('range', range.value);
      if (step.value !== '') shown.set('step', step.value);
    }
    history.replaceState(null, '', `${location.pathname}?${shown.toString()}`);
    execute.disabled = true;
    stats.textContent = 'Loading…';
    let res: ApiResult<QueryData>;
    try {
      res = await api<QueryData>(path, form, ctl.signal);
    } catch (err) {
      if (ctl.signal.aborted) return;
      stats.textContent = '';
      messages.append(alertBox('error', 'Request failed', (err as Error).message));
      return;
    } finally {
      execute.disabled = false;
    }
    if (ctl !== running) return;
    show(res, Number(form.get('step') ?? 0));
  };

  const show = (res: ApiResult<QueryData>, stepSecs: number) => {
    const { answer } = res;
    for (const w of answer.warnings ?? []) messages.append(alertBox('warning', 'Warning', w));
    for (const i of answer.infos ?? []) messages.append(alertBox('info', 'Info', i));
    const statParts = [`Load time: ${Math.round(res.ms)} ms`];
    const groups = res.headers.get('X-Promfront-Groups-Asked');
    const series = res.headers.get('X-Promfront-Series-Loaded');
    const samples = res.headers.get('X-Promfront-Samples-Loaded');
    if (stepSecs > 0) statParts.push(`Resolution: ${formatDuration(stepSecs)}`);
    if (answer.status !== 'success' || !answer.data) {
      messages.append(alertBox('error', answer.errorType ?? 'Error', answer.error ?? `HTTP ${res.httpStatus}`));
      stats.textContent = statParts.join(' · ');
      tableBox.replaceChildren();
      plot?.destroy();
      plot = window.promfrontPlot = undefined;
      return;
    }
    const data = answer.data;
    const resultSeries = Array.isArray(data.result) && data.resultType !== 'scalar' && data.resultType !== 'string' ? data.result.length : 1;
    statParts.push(`Result series: ${resultSeries}`);
    if (groups !== null) statParts.push(`Groups asked: ${groups}`);
    if (series !== null) statParts.push(`Series loaded: ${series}`);
    if (samples !== null) statParts.push(`Samples loaded: ${samples}`);
    stats.textContent = statParts.join(' · ');
    tableBox.replaceChildren(resultTable(data));
    plot?.destroy();
    plot = window.promfrontPlot = undefined;
    if (data.resultType === 'matrix') {
      plot = window.promfrontPlot = drawGraph(graphBox, data.result);
    } else {
      graphBox.replaceChildren();
    }
  };

  const promql = new PromQLExtension().setComplete({
    remote: { url: `${location.origin}${PREFIX}`, httpMethod: 'GET' },
  });
  const view = new EditorView({
    parent: editorBox,
    state: EditorState.create({
      doc: params.get('expr') ?? '',
      extensions: [
        undoHistory(),
        bracketMatching(),
        closeBrackets(),
        autocompletion(),
        syntaxHighlighting(defaultHighlightStyle),
        EditorView.lineWrapping,
        placeholder('Expression (press Shift+Enter for newlines)'),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        promql.asExtension(),
        // Enter runs the query unless the completion list is open (then it picks the completion).
        Prec.highest(
          keymap.of([
            {
              key: 'Enter',
              run: (v) => {
                if (completionStatus(v.state) === 'active') return false;
                void run();
                return true;
              },
            },
            { key: 'Shift-Enter', run: insertNewlineAndIndent },
          ]),
        ),
      ],
    }),
  });
  execute.addEventListener('click', () => void run());
  view.focus();
  if (params.get('expr')) void run();

  return () => {
    running?.abort();
    plot?.destroy();
    window.promfrontPlot = undefined;
    view.destroy();
  };
}

function resultTable(data: QueryData): HTMLElement {
  switch (data.resultType) {
    case 'vector':
      if (data.result.length === 0) return h('p', { class: 'empty' }, 'Empty query result');
      return table(
        ['Series', 'Value'],
        data.result.map((s) => [seriesName(s.metric), s.value[1]]),
        'result',
      );
    case 'matrix':
      if (data.result.length === 0) return h('p', { class: 'empty' }, 'Empty query result');
      return table(
        ['Series', 'Values'],
        data.result.map((s) => [seriesName(s.metric), h('span', { class: 'values' }, s.values.map(([t, v]) => `${v} @${t}`).join('\n'))]),
        'result',
      );
    case 'scalar':
      return table(['Scalar', 'Value'], [[formatTs(data.result[0]), data.result[1]]], 'result');
    case 'string':
      return table(['String', 'Value'], [[formatTs(data.result[0]), data.result[1]]], 'result');
  }
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Plots a range answer: one line per series over the union of their timestamps, gaps as null. */
function drawGraph(box: HTMLElement, result: { metric: Metric; values: Sample[] }[]): uPlot {
  box.replaceChildren();
  const xs = [...new Set(result.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = result.map((s) => {
    const y: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    for (const [t, v] of s.values) {
      const n = Number(v);
      // +Inf, -Inf and NaN cannot be drawn; they stay in the table.
      y[index.get(t)!] = Number.isFinite(n) ? n : null;
    }
    return y;
  });
  // The box's padding (6px a side) is inside clientWidth; the canvas must fit within it.
  const width = Math.max(300, (box.clientWidth || box.parentElement?.clientWidth || 800) - 12);
  const opts: uPlot.Options = {
    width,
    height: 320,
    series: [{}, ...result.map((s, i) => ({ label: seriesName(s.metric), stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false }))],
    axes: [{}, { size: 70 }],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  return new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, box);
}
