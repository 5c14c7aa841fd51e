// The error vocabulary of src/errors.ts: stable codes, unchanged names and instanceof relations,
// and the mapping of every error to Prometheus's errorType and HTTP status.

import { describe, expect, it } from 'vitest';
import {
  ApiError,
  BitstreamError,
  BodyAbort,
  BodyTooLargeError,
  ConfigError,
  DownstreamApiError,
  DownstreamError,
  ExpositionError,
  FileProblem,
  FrameError,
  GroupError,
  HttpClientFilesError,
  HttpError,
  InvalidResponse,
  PromfrontError,
  PromQLError,
  PromQLParseError,
  ProtobufError,
  RegexError,
  RemoteReadUnsupported,
  ScrapeError,
  SeriesSyntaxError,
  SnappyError,
  StorageUnavailableError,
  TestFileError,
  TimeoutError,
  XorChunkError,
  apiErrorOf,
  evaluationError,
  queryApiError,
  STATUS_BY_TYPE,
  type ApiErrorType,
} from '../../src/errors.js';

describe('error classes', () => {
  const cases: Array<[PromfrontError, string, string, string]> = [
    [new RegexError('error parsing regexp: x', '(a'), 'PROMFRONT_REGEX', 'RegexError', 'error parsing regexp: x'],
    [new XorChunkError('short'), 'PROMFRONT_XOR_CHUNK', 'XorChunkError', 'XOR chunk: short'],
    [new SnappyError('empty input'), 'PROMFRONT_SNAPPY', 'SnappyError', 'snappy: empty input'],
    [new ProtobufError('truncated'), 'PROMFRONT_PROTOBUF', 'ProtobufError', 'protobuf: truncated'],
    [new FrameError('bad crc'), 'PROMFRONT_FRAME', 'FrameError', 'streamed response: bad crc'],
    [new BitstreamError('eof'), 'PROMFRONT_BITSTREAM', 'Error', 'eof'],
    [new StorageUnavailableError('down'), 'PROMFRONT_STORAGE_UNAVAILABLE', 'StorageUnavailableError', 'down'],
    [new PromQLError('execution', 'boom'), 'PROMFRONT_PROMQL', 'PromQLError', 'boom'],
    [new PromQLParseError('a\nbé+', { start: 4, end: 5 }, 'unexpected'), 'PROMFRONT_PROMQL_PARSE', 'PromQLParseError', '2:4: parse error: unexpected'],
    [new TestFileError('f.test', 3, 'bad'), 'PROMFRONT_TEST_FILE', 'TestFileError', 'f.test:3: bad'],
    [new SeriesSyntaxError('bad value'), 'PROMFRONT_SERIES_SYNTAX', 'SeriesSyntaxError', 'bad value'],
    [new ScrapeError('timeout'), 'PROMFRONT_SCRAPE', 'ScrapeError', 'timeout'],
    [new BodyAbort(new ScrapeError('body exceeds x')), 'PROMFRONT_BODY_ABORT', 'Error', 'body exceeds x'],
    [new ExpositionError(3, 'bad'), 'PROMFRONT_EXPOSITION', 'ExpositionError', 'line 3: bad'],
    [new FileProblem('bearer_token_file', 'cannot read /x: ENOENT'), 'PROMFRONT_FILE_PROBLEM', 'FileProblem', 'bearer_token_file: cannot read /x: ENOENT'],
    [new HttpClientFilesError(['a: b', 'c: d']), 'PROMFRONT_HTTP_CLIENT_FILES', 'HttpClientFilesError', 'a: b; c: d'],
    [new ConfigError('c.yml', ['a: b']), 'PROMFRONT_CONFIG', 'ConfigError', 'invalid config c.yml:\n  a: b'],
    [new DownstreamError('http://t', 'refused', 'connection'), 'PROMFRONT_DOWNSTREAM', 'DownstreamError', 'http://t: refused'],
    [new DownstreamApiError('http://t', 'bad_data', 'nope', 'api_error'), 'PROMFRONT_DOWNSTREAM_API', 'DownstreamApiError', 'http://t: nope'],
    [new RemoteReadUnsupported('http://t', 'unsupported path'), 'PROMFRONT_REMOTE_READ_UNSUPPORTED', 'DownstreamError', 'http://t: unsupported path'],
    [new InvalidResponse('garbage'), 'PROMFRONT_INVALID_RESPONSE', 'Error', 'garbage'],
    [new GroupError('g', 'http://t', 'timeout'), 'PROMFRONT_GROUP', 'GroupError', 'server group "g" failed: timeout'],
    [new TimeoutError('timeout after 5s'), 'PROMFRONT_TIMEOUT', 'Error', 'timeout after 5s'],
    [new ApiError('bad_data', 'x'), 'PROMFRONT_API', 'Error', 'x'],
    [new HttpError(400, 'x'), 'PROMFRONT_HTTP', 'Error', 'x'],
    [new BodyTooLargeError('too big'), 'PROMFRONT_BODY_TOO_LARGE', 'BodyTooLargeError', 'too big'],
  ];
  it.each(cases)('%s has its code, name and message', (err, code, name, message) => {
    expect(err).toBeInstanceOf(PromfrontError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.name).toBe(name);
    expect(err.message).toBe(message);
  });

  it('codes are unique', () => {
    const codes = cases.map(([e]) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('keeps the subclass relations', () => {
    expect(new GroupError('g', undefined, 'x')).toBeInstanceOf(StorageUnavailableError);
    expect(new DownstreamApiError('t', 'execution', 'x', 'api_error')).toBeInstanceOf(DownstreamError);
    expect(new RemoteReadUnsupported('t', 'x')).toBeInstanceOf(DownstreamError);
    expect(new DownstreamError('t', 'x').kind).toBe('invalid_response');
    const scrape = new ScrapeError('x');
    expect(new BodyAbort(scrape).scrapeError).toBe(scrape);
    expect(new ExpositionError(2, 'r')).toMatchObject({ line: 2, reason: 'r' });
    expect(new FileProblem('f', 'r')).toMatchObject({ field: 'f', reason: 'r' });
    expect(new HttpClientFilesError(['p']).problems).toEqual(['p']);
  });
});

describe('apiErrorOf', () => {
  const table: Array<[ApiErrorType, number]> = [
    ['bad_data', 400],
    ['execution', 422],
    ['canceled', 499],
    ['timeout', 503],
    ['internal', 500],
    ['unavailable', 503],
  ];
  it.each(table)('an ApiError of type %s answers %i', (type, status) => {
    expect(STATUS_BY_TYPE[type]).toBe(status);
    expect(apiErrorOf(new ApiError(type, 'why'))).toEqual({ errorType: type, status, message: 'why' });
  });

  it('answers a body over its limit with 413 and bad_data', () => {
    expect(apiErrorOf(new BodyTooLargeError('too big'))).toEqual({ errorType: 'bad_data', status: 413, message: 'too big' });
  });

  it('answers anything else as internal (500) with its message', () => {
    expect(apiErrorOf(new Error('oops'))).toEqual({ errorType: 'internal', status: 500, message: 'oops' });
    expect(apiErrorOf(new StorageUnavailableError('down'))).toEqual({ errorType: 'internal', status: 500, message: 'down' });
    expect(apiErrorOf('text')).toEqual({ errorType: 'internal', status: 500, message: 'text' });
  });
});

describe('evaluationError', () => {
  it('passes PromQL and storage errors through', () => {
    const p = new PromQLError('execution', 'x');
    const s = new GroupError('g', undefined, 'down');
    expect(evaluationError(p, true)).toBe(p);
    expect(evaluationError(s, true)).toBe(s);
  });
  it('makes an aborted query or an abort from below "canceled"', () => {
    for (const [e, aborted] of [
      [new Error('x'), true],
      [new DOMException('a', 'AbortError'), false],
      [new DOMException('t', 'TimeoutError'), false],
    ] as const) {
      const out = evaluationError(e, aborted);
      expect(out).toBeInstanceOf(PromQLError);
      expect((out as PromQLError).errorType).toBe('canceled');
      expect(out.message).toBe('query was canceled in expression evaluation');
    }
  });
  it('makes anything else "execution", the fan-out TimeoutError included', () => {
    const out = evaluationError(new TimeoutError('timeout after 1s'), false) as PromQLError;
    expect([out.errorType, out.message]).toEqual(['execution', 'timeout after 1s']);
  });
});

describe('queryApiError', () => {
  const typeOf = (e: unknown, timedOut = false, aborted = false) => {
    const a = queryApiError(e, timedOut, aborted);
    return [a.errorType, a.message, apiErrorOf(a).status];
  };
  it('keeps an ApiError', () => {
    const a = new ApiError('bad_data', 'x');
    expect(queryApiError(a, true, true)).toBe(a);
  });
  it('reports the deadline before anything else', () => {
    expect(typeOf(new GroupError('g', undefined, 'down'), true, true)).toEqual(['timeout', 'query timed out in expression evaluation', 503]);
  });
  it('answers unavailable storage 503 with its message', () => {
    expect(typeOf(new GroupError('g', undefined, 'down'))).toEqual(['unavailable', 'server group "g" failed: down', 503]);
  });
  it('answers engine errors by type, bad_data as execution', () => {
    expect(typeOf(new PromQLError('bad_data', 'b'))).toEqual(['execution', 'b', 422]);
    expect(typeOf(new PromQLError('execution', 'e'))).toEqual(['execution', 'e', 422]);
    expect(typeOf(new PromQLError('canceled', 'c'))).toEqual(['canceled', 'c', 499]);
    expect(typeOf(new PromQLError('timeout', 't'))).toEqual(['timeout', 't', 503]);
  });
  it('answers other errors canceled when the request went away, execution otherwise', () => {
    expect(typeOf(new Error('x'), false, true)).toEqual(['canceled', 'query was canceled in expression evaluation', 499]);
    expect(typeOf(new Error('x'))).toEqual(['execution', 'x', 422]);
  });
});
