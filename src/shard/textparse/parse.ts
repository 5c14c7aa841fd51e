// Strict, allocation-light parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0: the public
// entry points, which pick a format per body and dispatch to it.
//
// Laid out like Prometheus's model/textparse, one file per format: text.ts and openmetrics.ts hold each format's
// line grammar and rules, groups.ts the family checks both share, and core.ts the parser state and the scanning
// both grammars do alike (names, label sets). This module sits on top so callers import only from here and the
// others form no cycle.

import { ParserCore } from './core.js';
import { endFamily } from './groups.js';
import { endOmFamily, endOpenMetrics, parseOpenMetrics } from './openmetrics.js';
import { parseText } from './text.js';
import type { ExpositionFormat, ExpositionHandler } from '../exposition.js';

/** 'openmetrics' for application/openmetrics-text (any version), otherwise 'text' (as Prometheus 2.x falls back). */
export function formatFromContentType(contentType: string | undefined): ExpositionFormat {
  if (contentType === undefined) return 'text';
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return media === 'application/openmetrics-text' ? 'openmetrics' : 'text';
}

/**
 * Parses a whole exposition and reports its families and samples to `handler` as it goes.
 * Throws ExpositionError at the first problem; whatever the handler received before is then meaningless.
 */
export function parseExposition(text: string, format: ExpositionFormat, handler: ExpositionHandler): void {
  const parser = new ExpositionParser(format, handler);
  parser.push(text);
  parser.end();
}

/**
 * Incremental parsing: push() takes the body in pieces that each end with a newline (only the last
 * piece may lack it), so a body is parsed while it downloads and never held whole. Samples' offsets
 * refer to the piece being pushed. Line numbers in errors count from the start of the body.
 */
export class ExpositionParser {
  private readonly parser: ParserCore;
  constructor(
    private readonly format: ExpositionFormat,
    handler: ExpositionHandler,
  ) {
    this.parser = format === 'openmetrics' ? new ParserCore('', handler, true, endOmFamily) : new ParserCore('', handler, false);
  }

  push(text: string): void {
    if (this.format === 'openmetrics') parseOpenMetrics(this.parser, text);
    else parseText(this.parser, text);
  }

  /** Checks what only the end can tell (# EOF, the last family) and reports the last family. */
  end(): void {
    if (this.format === 'openmetrics') endOpenMetrics(this.parser);
    else endFamily(this.parser);
  }
}
