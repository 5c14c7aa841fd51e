// Every error class promfront throws on purpose, in one place, and the one mapping from an error to
// the errorType and HTTP status of Prometheus's API (web/api/v1/api.go, returnAPIError).
//
// Each class carries a stable `code`, PROMFRONT_<WHAT> in upper snake case (e.g. PROMFRONT_REGEX,
// PROMFRONT_DOWNSTREAM_API). Codes are for logs, metrics and callers that cannot rely on
// `instanceof` (two copies of a module, errors crossing a worker); once released a code never
// changes meaning, and a subclass keeps its own code while staying `instanceof` its parent. `name`
// and messages are what they were before this module existed: users and tests see them.
//
// This module sits below every layer and imports nothing of ours, so errors that carry data of a
// layer (a parse position, a downstream kind) hold it as plain fields.

/** The base of every promfront error: a stable machine-readable `code`. */
export abstract class PromfrontError extends Error {
  abstract readonly code: string;
}

// ---------------------------------------------------------------------------------------------
// model

/** An invalid pattern; the message mirrors Go's regexp/syntax, e.g. "error parsing regexp: missing closing ): `(a`". */
export class RegexError extends PromfrontError {
  readonly code: string = 'PROMFRONT_REGEX';
  constructor(
    message: string,
    readonly pattern: string,
  ) {
    super(message);
    this.name = 'RegexError';
  }
}

// ---------------------------------------------------------------------------------------------
// remote (wire codecs)

export class XorChunkError extends PromfrontError {
  readonly code: string = 'PROMFRONT_XOR_CHUNK';
  constructor(message: string) {
    super(`XOR chunk: ${message}`);
    this.name = 'XorChunkError';
  }
}

export class SnappyError extends PromfrontError {
  readonly code: string = 'PROMFRONT_SNAPPY';
  constructor(message: string) {
    super(`snappy: ${message}`);
    this.name = 'SnappyError';
  }
}

export class ProtobufError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PROTOBUF';
  constructor(message: string) {
    super(`protobuf: ${message}`);
    this.name = 'ProtobufError';
  }
}

export class FrameError extends PromfrontError {
  readonly code: string = 'PROMFRONT_FRAME';
  constructor(message: string) {
    super(`streamed response: ${message}`);
    this.name = 'FrameError';
  }
}

/** A read past the end of a bit stream; its name stays Error's, as before it moved here. */
export class BitstreamError extends PromfrontError {
  readonly code: string = 'PROMFRONT_BITSTREAM';
}

// ---------------------------------------------------------------------------------------------
// storage

/**
 * A storage that could not answer (a downstream server group down or timing out). The engine passes
 * it through untouched, and the API answers it as Prometheus's "unavailable" (HTTP 503).
 */
export class StorageUnavailableError extends PromfrontError {
  readonly code: string = 'PROMFRONT_STORAGE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'StorageUnavailableError';
  }
}

// ---------------------------------------------------------------------------------------------
// promql

/** The error types the engine reports; the API turns them into its own (see apiErrorOf). */
export type PromQLErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';

export class PromQLError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PROMQL';
  constructor(
    readonly errorType: PromQLErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'PromQLError';
  }
}

/** "line:col:" as Prometheus prints it (1-based; the column counts UTF-8 bytes like Go). */
function positionPrefix(input: string, pos: number): string {
  if (pos < 0 || pos > input.length) return 'invalid position:';
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos; i++) {
    if (input.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const col = Buffer.byteLength(input.slice(lineStart, pos), 'utf8') + 1;
  return `${line}:${col}:`;
}

export class PromQLParseError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PROMQL_PARSE';
  readonly positionStart: number;
  readonly positionEnd: number;
  /** The message without the "line:col: parse error: " prefix. */
  readonly detail: string;

  /** `pos` is the parser's PosRange (offsets into `input`), typed structurally to keep this module import-free. */
  constructor(input: string, pos: { start: number; end: number }, detail: string) {
    super(`${positionPrefix(input, pos.start)} parse error: ${detail}`);
    this.name = 'PromQLParseError';
    this.positionStart = pos.start;
    this.positionEnd = pos.end;
    this.detail = detail;
  }
}

export class TestFileError extends PromfrontError {
  readonly code: string = 'PROMFRONT_TEST_FILE';
  constructor(
    readonly fileName: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${fileName}:${line}: ${detail}`);
    this.name = 'TestFileError';
  }
}

/** Thrown by the test-file value/selector helpers; parseTestFile rethrows it as a TestFileError with a position. */
export class SeriesSyntaxError extends PromfrontError {
  readonly code: string = 'PROMFRONT_SERIES_SYNTAX';
  override name = 'SeriesSyntaxError';
}

// ---------------------------------------------------------------------------------------------
// config

/** A config that could not be read or validated; `problems` lists every mistake as `path: what is wrong`. */
export class ConfigError extends PromfrontError {
  readonly code: string = 'PROMFRONT_CONFIG';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// shard (scraping sources and parsing what they expose)

/** A scrape failure. The message is a user-facing reason that never contains credentials. */
export class ScrapeError extends PromfrontError {
  readonly code: string = 'PROMFRONT_SCRAPE';
  constructor(reason: string) {
    super(reason);
    this.name = 'ScrapeError';
  }
}

/** Thrown inside a scrape's body pipeline to carry the final ScrapeError out; its name stays Error's. */
export class BodyAbort extends PromfrontError {
  readonly code: string = 'PROMFRONT_BODY_ABORT';
  constructor(readonly scrapeError: ScrapeError) {
    super(scrapeError.message);
  }
}

/** An exposition body that cannot be parsed, at a 1-based line. */
export class ExpositionError extends PromfrontError {
  readonly code: string = 'PROMFRONT_EXPOSITION';
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'ExpositionError';
  }
}

// ---------------------------------------------------------------------------------------------
// client (credential and certificate files of an HTTP client)

/** A file problem whose message names the config field and path, never the content. */
export class FileProblem extends PromfrontError {
  readonly code: string = 'PROMFRONT_FILE_PROBLEM';
  /** `reason` says what is wrong without the field name, e.g. "cannot read /etc/x: ENOENT". */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'FileProblem';
  }
}

/** Every file problem of an http_client block, each as `field: what is wrong`. */
export class HttpClientFilesError extends PromfrontError {
  readonly code: string = 'PROMFRONT_HTTP_CLIENT_FILES';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'HttpClientFilesError';
  }
}

/**
 * AWS SigV4 could not sign a request: no region, no credentials (none in the chain, STS refused,
 * expired role), or the signer failed. The message never carries a key or token.
 */
export class SigV4Error extends PromfrontError {
  readonly code: string = 'PROMFRONT_SIGV4';
  constructor(reason: string) {
    super(`sigv4: ${reason}`);
    this.name = 'SigV4Error';
  }
}

// ---------------------------------------------------------------------------------------------
// query (downstream servers and the fan-out over them)

/** How a downstream request failed, for the error metrics. */
export type DownstreamErrorKind = 'timeout' | 'connection' | 'http_status' | 'invalid_response' | 'api_error';

export class DownstreamError extends PromfrontError {
  readonly code: string = 'PROMFRONT_DOWNSTREAM';
  constructor(
    readonly target: string,
    reason: string,
    readonly kind: DownstreamErrorKind = 'invalid_response',
  ) {
    super(`${target}: ${reason}`);
    this.name = 'DownstreamError';
  }
}

/** The downstream understood the request and refused it with a Prometheus error (bad_data, execution, ...). */
export class DownstreamApiError extends DownstreamError {
  override readonly code: string = 'PROMFRONT_DOWNSTREAM_API';
  constructor(
    target: string,
    readonly errorType: string,
    reason: string,
    kind: DownstreamErrorKind,
    /** The HTTP status it came with (a 4xx or 5xx), or undefined for a 2xx "status: error" answer. */
    readonly httpStatus?: number,
  ) {
    super(target, reason, kind);
    this.name = 'DownstreamApiError';
  }
}

/**
 * The Prometheus error a downstream's refusal stands for, when the downstream refused the request
 * itself (a 4xx with a Prometheus errorType, e.g. 400 bad_data for a label name it does not take):
 * the same request to Prometheus would get that answer, so the API gives it, not 503. Server errors
 * (5xx), unknown types and network failures stay "unavailable".
 */
export function downstreamRefusal(e: unknown): { errorType: ApiErrorType; message: string } | undefined {
  if (!(e instanceof DownstreamApiError) || e.httpStatus === undefined || e.httpStatus < 400 || e.httpStatus > 499) return undefined;
  const known: readonly string[] = ['bad_data', 'execution'];
  if (!known.includes(e.errorType) || STATUS_BY_TYPE[e.errorType as ApiErrorType] !== e.httpStatus) return undefined;
  return { errorType: e.errorType as ApiErrorType, message: e.message };
}

/** The server does not serve remote read at this path (VictoriaMetrics answers 400 "unsupported path"). */
export class RemoteReadUnsupported extends DownstreamError {
  override readonly code: string = 'PROMFRONT_REMOTE_READ_UNSUPPORTED';
}

/** A remote-read answer that cannot be decoded; its name stays Error's, as before it moved here. */
export class InvalidResponse extends PromfrontError {
  readonly code: string = 'PROMFRONT_INVALID_RESPONSE';
}

/** One server group could not answer; a StorageUnavailableError, so the API answers 503 "unavailable". */
export class GroupError extends StorageUnavailableError {
  override readonly code: string = 'PROMFRONT_GROUP';
  constructor(
    readonly group: string,
    readonly target: string | undefined,
    reason: string,
    /** The first target's own error, when every target failed (see downstreamRefusal). */
    readonly targetError?: unknown,
  ) {
    super(`server group ${JSON.stringify(group)} failed: ${reason}`);
    this.name = 'GroupError';
  }
}

/** A downstream request that ran past its group's timeout (the fan-out's own deadline, not the caller's). */
export class TimeoutError extends PromfrontError {
  readonly code: string = 'PROMFRONT_TIMEOUT';
}

/**
 * A replica left out of its group's answer: its twin answered and it did not within the hedge
 * wait (fanout.ts). Only a warning reaches the client; the message names the wait.
 */
export class HedgedOutError extends PromfrontError {
  readonly code: string = 'PROMFRONT_HEDGED_OUT';
  constructor(message: string) {
    super(message);
    this.name = 'HedgedOutError';
  }
}

// ---------------------------------------------------------------------------------------------
// server

/**
 * An endpoint without a `timeout` parameter (/series, /labels, /label/../values, /metadata,
 * /federate, remote read) ran past the query timeout. Prometheus runs these under the request's
 * context, and a context that expires reads "context deadline exceeded" (Go's context package);
 * api.go answers that as "execution" (422), federate and remote read as a plain-text 500.
 */
export class DeadlineExceededError extends PromfrontError {
  readonly code: string = 'PROMFRONT_DEADLINE_EXCEEDED';
  constructor() {
    super(DEADLINE_EXCEEDED_MESSAGE);
    this.name = 'DeadlineExceededError';
  }
}

/** Go's context.DeadlineExceeded text. */
export const DEADLINE_EXCEEDED_MESSAGE = 'context deadline exceeded';

/** The errorType values of Prometheus's API that promfront answers with. */
export type ApiErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable';

/** An error the API answers with as is: its errorType decides the HTTP status (STATUS_BY_TYPE). */
export class ApiError extends PromfrontError {
  readonly code: string = 'PROMFRONT_API';
  constructor(
    readonly errorType: ApiErrorType,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A request body over a size limit (a form body over Go's 10 MiB maxFormSize): refused with 413,
 * read only up to the limit. Its errorType is bad_data; the status is its own.
 */
export class BodyTooLargeError extends ApiError {
  override readonly code: string = 'PROMFRONT_BODY_TOO_LARGE';
  readonly status = 413;
  constructor(message: string) {
    super('bad_data', message);
    this.name = 'BodyTooLargeError';
  }
}

/** The remote-read endpoint's plain-text error (Go's http.Error) with its status. */
export class HttpError extends PromfrontError {
  readonly code: string = 'PROMFRONT_HTTP';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status per errorType, as api.go's returnAPIError. */
export const STATUS_BY_TYPE: Record<ApiErrorType, number> = {
  bad_data: 400,
  execution: 422,
  canceled: 499, // statusClientClosedConnection
  timeout: 503,
  internal: 500,
  unavailable: 503,
};

/** What an API error response carries. */
export interface ApiErrorInfo {
  errorType: ApiErrorType;
  status: number;
  message: string;
}

/**
 * The errorType, status and message an API endpoint answers `e` with: an ApiError as it says, anything
 * else as "internal" (500). Errors of the query engine and storage become ApiErrors before they get
 * here (query-api's run()), since which type they take depends on whether the query was cancelled.
 */
export function apiErrorOf(e: unknown): ApiErrorInfo {
  if (e instanceof BodyTooLargeError) return { errorType: e.errorType, status: e.status, message: e.message };
  if (e instanceof ApiError) return { errorType: e.errorType, status: STATUS_BY_TYPE[e.errorType], message: e.message };
  return { errorType: 'internal', status: STATUS_BY_TYPE.internal, message: e instanceof Error ? e.message : String(e) };
}

/** What Prometheus says when a query's context is cancelled (promql.ErrQueryCanceled). */
export const QUERY_CANCELED_MESSAGE = 'query was canceled in expression evaluation';
/** What Prometheus says when a query runs past its timeout (promql.ErrQueryTimeout). */
export const QUERY_TIMEOUT_MESSAGE = 'query timed out in expression evaluation';

/**
 * What the engine throws for an error out of evaluation: PromQLErrors and unavailable storage pass
 * through (the API answers them by type), an abort becomes "canceled", anything else "execution".
 * `aborted` is whether the query's own signal fired; an AbortError/TimeoutError from deeper down
 * (a fetch's own signal) is a cancellation too.
 */
export function evaluationError(e: unknown, aborted: boolean): PromQLError | StorageUnavailableError {
  if (e instanceof PromQLError || e instanceof StorageUnavailableError) return e;
  if (aborted) return new PromQLError('canceled', QUERY_CANCELED_MESSAGE);
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) return new PromQLError('canceled', QUERY_CANCELED_MESSAGE);
  return new PromQLError('execution', (e as Error).message);
}

/**
 * The ApiError a query endpoint answers a failed query with, as api.go's returnAPIError: the
 * query's deadline first (whatever the evaluation threw on its way out), then unavailable storage,
 * then the engine's type. Parse and type errors were reported before evaluation, so whatever else
 * the engine calls bad data is an evaluation failure ("execution") for the API.
 */
export function queryApiError(e: unknown, timedOut: boolean, aborted: boolean): ApiError {
  if (e instanceof ApiError) return e;
  if (timedOut) return new ApiError('timeout', QUERY_TIMEOUT_MESSAGE);
  // A server group whose downstream refused the request as Prometheus would (4xx bad_data, execution).
  if (e instanceof GroupError) {
    const refusal = downstreamRefusal(e.targetError);
    if (refusal !== undefined) return new ApiError(refusal.errorType, e.message);
  }
  // A server group that failed without ignore_error: the error names the group and its targets.
  if (e instanceof StorageUnavailableError) return new ApiError('unavailable', e.message);
  if (e instanceof PromQLError) return new ApiError(e.errorType === 'bad_data' ? 'execution' : e.errorType, e.message);
  if (aborted) return new ApiError('canceled', QUERY_CANCELED_MESSAGE);
  return new ApiError('execution', e instanceof Error ? e.message : String(e));
}

// ---------------------------------------------------------------------------------------------
// push (Pushgateway routing)

/** A push path Pushgateway would refuse (400), with Pushgateway's own words. */
export class PushPathError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PUSH_PATH';
  constructor(message: string) {
    super(message);
    this.name = 'PushPathError';
  }
}

/** A push body over push.max_body_size (413); nothing of it reached a Pushgateway as a complete push. */
export class PushBodyTooLargeError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PUSH_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`push body exceeds push.max_body_size (${limit} bytes)`);
    this.name = 'PushBodyTooLargeError';
  }
}

// ---------------------------------------------------------------------------------------------
// fleet (etcd)

/**
 * An etcd request of the fleet (src/fleet) that failed: `answered` when etcd answered and refused
 * it (a lease not found, bad credentials), otherwise no endpoint could be reached.
 */
export class EtcdError extends PromfrontError {
  readonly code: string = 'PROMFRONT_FLEET_ETCD';
  constructor(
    message: string,
    readonly answered = false,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

// ---------------------------------------------------------------------------------------------
// push (Pushgateway routing), continued

/** A TLS file or secret file of the push section that cannot be read; the message names the field and the path, never the secret. */
export class PushConnectionError extends PromfrontError {
  readonly code: string = 'PROMFRONT_PUSH_CONNECTION';
  constructor(message: string) {
    super(message);
    this.name = 'PushConnectionError';
  }
}
