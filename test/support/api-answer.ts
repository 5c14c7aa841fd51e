// Prometheus JSON API answers as the end-to-end suites read them: one request bounded in time (a
// proxy that hangs fails the test with a clear message instead of hanging it), and the comparison
// of two answers' data, values compared as Prometheus's PromQL tests compare them.

import { compareSeriesValue } from '../../src/promql/promqltest/testfile.js';

export type Sample = [number, string];
export interface Body {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: Sample; values?: Sample[] }[] };
  warnings?: string[];
  errorType?: string;
  error?: string;
}
export interface Answer {
  status: number;
  body: Body;
  text: string;
  ms: number;
}

export interface AskOptions {
  /** No answer within this long fails the request. */
  timeoutMs: number;
  /** POST sends the parameters as a form body. */
  method?: 'GET' | 'POST';
  /** Whether an answer that is not JSON fails the request (otherwise its body reads status "not-json"). */
  strictJson?: boolean;
}

export async function askApi(base: string, path: string, params: Record<string, string> | URLSearchParams, opts: AskOptions): Promise<Answer> {
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res =
      opts.method === 'POST'
        ? await fetch(`${base}${path}`, { method: 'POST', body: new URLSearchParams(params), signal })
        : await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`, { signal });
  } catch (e) {
    const shown = params instanceof URLSearchParams ? `${[...params.keys()].length} parameters` : JSON.stringify(params);
    throw new Error(`${base}${path} ${shown}: no answer within ${opts.timeoutMs} ms (${(e as Error).message})`, { cause: e });
  }
  const text = await res.text();
  let body: Body;
  try {
    body = JSON.parse(text) as Body;
  } catch {
    if (opts.strictJson) throw new Error(`${base}${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
    body = { status: 'not-json' };
  }
  return { status: res.status, body, text, ms: performance.now() - started };
}

export const seriesKey = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());

/** undefined when `got` holds the same series and points as `ref`, else what differs first. */
export function sameData(ref: Body, got: Body): string | undefined {
  if (got.status !== 'success') return `proxy answered ${JSON.stringify(got)}`;
  if (ref.status !== 'success') return `reference answered ${JSON.stringify(ref)}`;
  if (ref.data!.resultType !== got.data!.resultType) return `result type ${got.data!.resultType}, expected ${ref.data!.resultType}`;
  const byKey = new Map(ref.data!.result.map((s) => [seriesKey(s.metric), s]));
  if (got.data!.result.length !== byKey.size) return `${got.data!.result.length} series, expected ${byKey.size}`;
  for (const s of got.data!.result) {
    const r = byKey.get(seriesKey(s.metric));
    if (!r) return `unexpected series ${seriesKey(s.metric)}`;
    const a = r.values ?? [r.value!];
    const b = s.values ?? [s.value!];
    if (a.length !== b.length) return `${seriesKey(s.metric)}: ${b.length} points, expected ${a.length}`;
    for (let i = 0; i < a.length; i++) {
      if (a[i][0] !== b[i][0] || !compareSeriesValue(Number(a[i][1]), Number(b[i][1]))) {
        return `${seriesKey(s.metric)} point ${i}: ${JSON.stringify(b[i])}, expected ${JSON.stringify(a[i])}`;
      }
    }
  }
  return undefined;
}
