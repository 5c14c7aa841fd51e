// The messages between the main thread and the query thread (query-thread.ts, query-thread-client.ts):
// one shared definition so both ends agree. Bodies travel as ArrayBuffers moved with the message
// (transferred, not copied); everything else is structured-cloned.

import type { RuleRound } from '../capability.js';
import type { Config } from '../config/schema.js';
import type { LogFormat } from './logger.js';

/** What the query thread starts with (workerData). */
export interface QueryThreadInit {
  config: Config;
  level: string;
  /** --log.format: the thread writes its own lines, in the main thread's format. */
  logFormat?: LogFormat;
}

export type ToThread =
  /** An /api/v1/* or /federate request; its body read whole by the main thread (bounded). */
  | { t: 'req'; id: number; method: string; url: string; headers: [string, string][]; body?: ArrayBuffer }
  /** The client went away: abort the request's query and stop its body. */
  | { t: 'abort'; id: number }
  /** The socket took the last chunk: send the next one. */
  | { t: 'pull'; id: number }
  /** Rebuild the query layer from this config and swap it in; answered with `reply`. */
  | { t: 'config'; seq: number; config: Config }
  | { t: 'level'; level: string }
  /** The layer's metrics text / status section; answered with `reply`. */
  | { t: 'metrics'; seq: number }
  | { t: 'status'; seq: number }
  /** One round of a rule group (the rules capability, on the main thread); answered with `reply` holding RuleAnswer[] or undefined (no layer). */
  | { t: 'rules'; seq: number; round: RuleRound }
  /** Close every layer's downstream pools; answered with `reply`, then the thread ends. */
  | { t: 'close'; seq: number };

export type FromThread =
  /** The first layer's service discovery had its first look (or there is no query section). */
  | { t: 'ready' }
  /** The layer has no route for the request: the main app answers it. */
  | { t: 'none'; id: number }
  /**
   * The answer's status and headers, with its first chunk when one was ready; `end` when that is the
   * whole body (most answers): one message instead of head, chunk, pull and end, each a wake-up of
   * the other thread on the answer's critical path.
   */
  | { t: 'head'; id: number; status: number; headers: [string, string][]; chunk?: ArrayBuffer; end?: true }
  | { t: 'chunk'; id: number; chunk: ArrayBuffer }
  | { t: 'end'; id: number }
  /** The handler threw, or the body broke off; `message` says why. */
  | { t: 'fail'; id: number; message: string }
  | { t: 'reply'; seq: number; value?: unknown; error?: string };
