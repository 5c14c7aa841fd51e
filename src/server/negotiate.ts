// Content negotiation for the shard endpoints: which exposition format and encoding a scraper asked
// for.

/**
 * Picks the exposition format from an Accept header the way scrapers mean it: OpenMetrics when it is
 * preferred (strictly higher q) over text/plain, text 0.0.4 otherwise.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let om = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part
      .trim()
      .split(';')
      .map((p) => p.trim());
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim() === 'q' && v !== undefined) q = Number(v);
    }
    if (!Number.isFinite(q)) continue;
    const media = type?.toLowerCase();
    if (media === 'application/openmetrics-text') om = Math.max(om, q);
    else if (media === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om > text;
}

export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  for (const part of acceptEncoding.split(',')) {
    const [enc, ...params] = part
      .trim()
      .split(';')
      .map((p) => p.trim());
    if (enc?.toLowerCase() !== 'gzip' && enc !== '*') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export const CONTENT_TYPE_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const CONTENT_TYPE_OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
