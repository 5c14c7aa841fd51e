// What a capability of the process (push routing, NATS publishing, the etcd fleet, rules) offers the
// server layer, and what the server offers it back. Each capability is a section of the one config
// file and a folder of src/; src/server/capabilities.ts lists them and runs their lifecycle, so a new
// capability plugs in with one line there instead of edits across app, CLI and reload. Types only:
// capabilities may not import src/server (ARCHITECTURE.md), and the server needs no capability's
// internals.

import type { HttpBindings } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { Labels } from './model/labels.js';

/** What the process gives a capability. */
export interface CapabilityContext {
  log: Logger;
  /** The config file's path (for paths in it that are relative to the file). */
  configFile: string | undefined;
  /** The listen address in service (host:port), e.g. for HTTP SD documents that name the proxy. */
  listen: string;
  /**
   * Asks this process's query layer as an HTTP client would (for example
   * `new Request('http://promfront/api/v1/query?query=up&time=1700000000')`), through the same
   * admission, deadlines and merge as any client; undefined when there is no query layer or it has
   * no such route.
   */
  queryApi(req: Request): Promise<Response | undefined>;
  /**
   * Evaluates one round of a rule group on the query layer's engine where the layer runs (the
   * query thread), without the HTTP shape: one message per round, answers as vectors in the
   * order of `exprs`, identical reads of the round done once. Undefined when there is no query
   * layer (the caller then answers each expression through queryApi).
   */
  evaluateRules?(round: RuleRound): Promise<RuleAnswer[] | undefined>;
}

/** The expressions of a rule group's round, all evaluated at `timeMs`. */
export interface RuleRound {
  timeMs: number;
  exprs: string[];
}

/**
 * One expression's answer: its instant vector (a scalar as one sample with no labels, as
 * Prometheus's rule query function gives it), the storage's warnings then the engine's, and how
 * long it took; or the error text the query API would have answered with.
 */
export type RuleAnswer = { vector: { labels: Labels; v: number }[]; warnings: string[]; seconds: number } | { error: string; seconds: number };

/** One running capability; built by its factory from the config, stopped on shutdown or removal. */
export interface Capability {
  /** The key of its part of /status, e.g. "push". */
  readonly name: string;
  /** Starts background work (health checks, consumers, schedules). */
  start(): Promise<void>;
  /**
   * Applies a new config that still has this capability's section, keeping state where it can
   * (alert state, health). Rejecting refuses the whole reload; the running config stays.
   */
  reload(next: Config): Promise<void>;
  stop(): Promise<void>;
  /**
   * Serves the request if it is one of this capability's paths; undefined otherwise, so the next
   * capability, the query layer or the 404 handler gets it. Runs before the query layer's routes.
   */
  fetch?(req: Request, env: HttpBindings): Promise<Response | undefined> | Response | undefined;
  /**
   * Its hot path served straight from Node's request and response, ahead of the app (the server's
   * fast path): the function that serves `req` when it is on that path, or undefined (the request
   * then goes through the app and `fetch` as any other). Claiming does no work: the server runs
   * the web config's checks between the claim and the call. The answer must be byte for byte
   * what `fetch` gives the same request, and the paths claimed must be ones no capability listed
   * before this one answers in `fetch`.
   */
  serveNode?(req: IncomingMessage): ((res: ServerResponse) => Promise<void>) | undefined;
  /** Its families for /metrics, in the text format. */
  metrics?(): string | Promise<string>;
  /** Its part of /status (never with secrets). */
  status?(): unknown;
}

/** Builds a capability when the config has its section. */
export interface CapabilityFactory {
  readonly name: string;
  /** Whether the config has this capability's section. */
  enabled(config: Config): boolean;
  /** The part of the config it reads: reload() is called only when this changed. */
  section(config: Config): unknown;
  create(config: Config, ctx: CapabilityContext): Capability;
  /**
   * Problems that would stop it at start but that the schema cannot see (files that cannot be
   * read, rule files that do not parse), as "path: what is wrong"; check-config prints them.
   */
  problems?(config: Config, configFile: string | undefined): string[];
}
