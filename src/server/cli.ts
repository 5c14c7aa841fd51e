// The command line: `./proxy` (run), `generate-config`, `check-config`, `scrape-config`,
// `version` / `--version`. Every config mistake is listed with its path and exit code 2, never a stack trace.

// First: V8's settings hold for every isolate created after them (docs in the module).
import './v8-settings.js';
import type { Logger } from 'pino';
import { createLogger, DEFAULT_LOG_FORMAT, LOG_FORMATS, LOG_LEVELS, type LogFormat } from './logger.js';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { parseListen, type Config } from '../config/schema.js';
import { createApp } from './app.js';
import { startEventLoopMonitor } from './process-metrics.js';
import { applySocketIdleTimeout, listen } from './listener.js';
import { describeWebSettings, loadWebSettings, WebGuard, type WebSettings } from './web-config.js';
import { queryConfigFileProblems } from './query-layer.js';
import { Runtime } from './reload.js';
import { capabilityProblems } from './capabilities.js';
import { SAMPLE_CONFIG } from './sample-config.js';
import { normalizePrefix, webUiFromFlags } from './web-ui.js';
import { pushScrapeConfig, renderFleetScrapeConfig, renderScrapeConfigs } from './scrape-config.js';
import { PROGRAM, REVISION, RUNTIME_VERSION, VERSION } from '../version.js';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../util/duration.js';

const USAGE: Record<string, string> = {
  run: `Usage: proxy --config=FILE [--log.level=LEVEL] [--log.format=logfmt|json] [--web.config.file=FILE]
             [--web.enable-lifecycle] [--web.write-timeout=DURATION] [--query.thread-heap-limit=MB]
             [--web.external-url=URL] [--web.route-prefix=PATH]

Runs promfront: scrapes the configured sources, serves /metrics/shard/0..N-1, /metrics, /status,
/-/healthy, /-/ready; with a query section also Prometheus's /api/v1 and /federate over the
server groups, evaluated in a worker thread (the query thread) so queries never delay the shards
or health answers. SIGHUP reloads the config file (and the web config file).
  --config                     the config file; every field is shown, commented, by "proxy generate-config"
                               and described in configs/example.yaml and the README
  --log.level                  trace, debug, info, warn, error, fatal or silent (default: the config's log_level)
  --log.format                 logfmt (default) or json: one JSON object per line, for log shippers
  --web.config.file            TLS, basic auth and response headers of the listener, in the format of
                               Prometheus's web configuration file (exporter-toolkit)
  --web.enable-lifecycle       enable POST/PUT /-/reload and /-/quit (without it they answer 403)
  --web.write-timeout          close a query answer's connection when the client reads nothing of it
                               for this long (default 60s)
  --query.thread-heap-limit    the query thread's V8 heap limit in MB (default: Node's); a query that
                               needs more ends the thread, which restarts, not the process
  --web.external-url           the URL promfront is reached at (behind a reverse proxy); the web UI's
                               links use its path, which is also the default route prefix
  --web.route-prefix           serve every route (web UI, API, /metrics, shards, health) below this
                               path, as Prometheus's flag; default: the external URL's path
The web UI is at / (the query page, /graph) and its status pages; docs/web-ui.md.

Commands:
  proxy generate-config            print a commented sample config
  proxy check-config --config=F    validate a config, list every problem
  proxy scrape-config --config=F   print the Prometheus scrape_configs for the shard servers
  proxy version                    print the version (as --version)
Run "proxy COMMAND --help" for a command's options.
`,
  version: `Usage: proxy version

Prints promfront's version, source revision and Node.js version (as --version).
`,
  'generate-config': `Usage: proxy generate-config

Prints a commented sample config to standard output: every section and field, with its default.
`,
  'check-config': `Usage: proxy check-config --config=FILE [--web.config.file=WEBFILE]

Validates FILE, and WEBFILE with the certificates it names (either may be given alone). Exits 0
when they are valid; otherwise prints every problem as "path.to.field: what is wrong" and exits 2.
`,
  'scrape-config': `Usage: proxy scrape-config --config=FILE [--shard=K | --fleet] [--target=HOST:PORT]

Prints, for each shard (or only shard K), the Prometheus scrape_configs that the Prometheus server
for that shard needs. All shards share one job name and use honor_labels: true, so series keep the
same labels whichever shard holds them. With a push section, a last document holds the job that
scrapes the Pushgateways through the proxy's /sd/pushgateways. Documents are separated by "---".
  --fleet    print instead the http_sd_configs job of the member this config registers (fleet.register)
  --target   address Prometheus reaches the proxy at (default: the config's listen address)
`,
};

export const EXIT_CONFIG = 2;

function fail(msg: string, code = EXIT_CONFIG): never {
  process.stderr.write(msg.endsWith('\n') ? msg : `${msg}\n`);
  process.exit(code);
}

/** Loads and validates the config; with `checkFiles`, the files it names (CA, credentials) must be usable too. */
function loadOrExit(file: string | undefined, checkFiles = true): Config {
  if (!file) fail('error: --config=FILE is required');
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const problems = checkFiles ? [...(config.query ? queryConfigFileProblems(config.query) : []), ...capabilityProblems(config, file)] : [];
  if (problems.length > 0) fail(new ConfigError(file, problems).message);
  return config;
}

export async function main(argv: string[]): Promise<void> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'run';
  const rest = command === 'run' ? argv : argv.slice(1);
  if (!(command in USAGE)) fail(`error: unknown command "${command}"\n\n${USAGE.run}`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        'log.level': { type: 'string' },
        'log.format': { type: 'string' },
        'web.config.file': { type: 'string' },
        'web.enable-lifecycle': { type: 'boolean' },
        'web.write-timeout': { type: 'string' },
        'query.thread-heap-limit': { type: 'string' },
        'web.external-url': { type: 'string' },
        'web.route-prefix': { type: 'string' },
        shard: { type: 'string' },
        target: { type: 'string' },
        fleet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(`error: ${(err as Error).message}\n\n${USAGE[command]}`);
  }
  if (values.help) {
    process.stdout.write(USAGE[command]);
    return;
  }
  if (values.version || command === 'version') {
    process.stdout.write(`${PROGRAM}, version ${VERSION} (revision: ${REVISION}, ${RUNTIME_VERSION})\n`);
    return;
  }

  switch (command) {
    case 'generate-config':
      process.stdout.write(SAMPLE_CONFIG);
      return;
    case 'check-config': {
      const webFile = values['web.config.file'] as string | undefined;
      if (values.config !== undefined || webFile === undefined) {
        const config = loadOrExit(values.config as string | undefined);
        const shards = config.shard ? `${config.shard.num_shards} shards, ${config.shard.sources.length} sources` : 'no shard section';
        process.stdout.write(`${values.config}: valid (${shards})\n`);
      }
      if (webFile !== undefined) process.stdout.write(`${webFile}: valid web config (${describeWebSettings(webSettingsOrExit(webFile)!)})\n`);
      return;
    }
    case 'scrape-config': {
      const config = loadOrExit(values.config as string | undefined, false);
      if (values.fleet === true) {
        if (!config.fleet) fail(`${values.config}: has no fleet section`);
        process.stdout.write(renderFleetScrapeConfig(config, values.target as string | undefined));
        return;
      }
      if (!config.shard && !config.push) fail(`${values.config}: has no shard section, so there are no shards to scrape`);
      if (!config.shard) {
        process.stdout.write(pushScrapeConfig(config, values.target as string | undefined));
        return;
      }
      let only: number | undefined;
      if (values.shard !== undefined) {
        only = Number(values.shard);
        if (!Number.isInteger(only) || only < 0 || only >= config.shard.num_shards) {
          fail(`error: --shard must be an integer from 0 to ${config.shard.num_shards - 1}`);
        }
      }
      process.stdout.write(renderScrapeConfigs(config, only, values.target as string | undefined));
      if (config.push && only === undefined) process.stdout.write(`---\n${pushScrapeConfig(config, values.target as string | undefined)}`);
      return;
    }
    default: {
      const file = values.config as string | undefined;
      const config = loadOrExit(file);
      const webFile = values['web.config.file'] as string | undefined;
      await run(
        file!,
        config,
        logOptions(values),
        {
          file: webFile,
          settings: webSettingsOrExit(webFile),
          lifecycle: values['web.enable-lifecycle'] === true,
          ui: webUiOrExit(values),
        },
        threadOptions(values),
      );
    }
  }
}

/** The web config with its certificates, or undefined without --web.config.file; exits 2 when it is broken. */
function webSettingsOrExit(file: string | undefined): WebSettings | undefined {
  if (file === undefined) return undefined;
  if (file === '') fail('error: --web.config.file must name a file');
  try {
    return loadWebSettings(file);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

interface WebOptions {
  file: string | undefined;
  settings: WebSettings | undefined;
  lifecycle: boolean;
  ui: ReturnType<typeof webUiFromFlags>;
}

/** The run command's flags with their defaults, listed by /api/v1/status/flags. */
const RUN_FLAGS: Record<string, string> = {
  config: '',
  'log.level': '',
  'web.config.file': '',
  'web.enable-lifecycle': 'false',
  'web.write-timeout': '60s',
  'query.thread-heap-limit': '',
  'web.external-url': '',
  'web.route-prefix': '',
};

function webUiOrExit(values: Record<string, string | boolean | undefined>): WebOptions['ui'] {
  try {
    return webUiFromFlags(values['web.external-url'] as string | undefined, values['web.route-prefix'] as string | undefined, RUN_FLAGS, values);
  } catch (err) {
    fail(`error: ${(err as Error).message}`);
  }
}

/** The query thread's options from --web.write-timeout and --query.thread-heap-limit. */
function threadOptions(values: Record<string, string | boolean | undefined>): { writeTimeoutMs?: number; heapLimitMb?: number } {
  const out: { writeTimeoutMs?: number; heapLimitMb?: number } = {};
  const wt = values['web.write-timeout'] as string | undefined;
  if (wt !== undefined) {
    try {
      out.writeTimeoutMs = parseDuration(wt);
    } catch (err) {
      fail(`error: --web.write-timeout: ${(err as Error).message}`);
    }
    if (!(out.writeTimeoutMs > 0)) fail('error: --web.write-timeout must be greater than 0');
  }
  const heap = values['query.thread-heap-limit'] as string | undefined;
  if (heap !== undefined) {
    out.heapLimitMb = Number(heap);
    if (!/^\d+$/.test(heap) || out.heapLimitMb < 16) fail(`error: --query.thread-heap-limit must be a whole number of MB, at least 16 (got "${heap}")`);
  }
  return out;
}

/** The config's sections in use (shard, query and each capability's), for the start-up line. */
function configuredSections(config: Config): string[] {
  return Object.entries(config)
    .filter(([, v]) => typeof v === 'object' && v !== null)
    .map(([k]) => k);
}

/** --log.level and --log.format, checked before anything starts. */
function logOptions(values: Record<string, string | boolean | undefined>): { level?: string; format: LogFormat } {
  const level = values['log.level'] as string | undefined;
  if (level !== undefined && !LOG_LEVELS.includes(level)) fail(`error: --log.level must be one of ${LOG_LEVELS.join(', ')} (got "${level}")`);
  const format = (values['log.format'] as string | undefined) ?? DEFAULT_LOG_FORMAT;
  if (!(LOG_FORMATS as readonly string[]).includes(format)) fail(`error: --log.format must be one of ${LOG_FORMATS.join(', ')} (got "${format}")`);
  return { level, format: format as LogFormat };
}

async function run(
  file: string,
  config: Config,
  logOpts: { level?: string; format: LogFormat },
  web: WebOptions,
  thread: { writeTimeoutMs?: number; heapLimitMb?: number },
): Promise<void> {
  const levelFlag = logOpts.level;
  const log: Logger = createLogger({ level: levelFlag ?? config.log_level, format: logOpts.format });
  startEventLoopMonitor();
  log.info({ version: VERSION, revision: REVISION, nodejs: process.version, config_file: file, log_format: logOpts.format }, 'starting promfront');
  const guard = new WebGuard(web.settings, log.child({ component: 'web' }));
  let server: ReturnType<typeof listen> | undefined;
  // The web config is re-read with the config file; either being broken refuses the reload whole.
  const prepareReload = (next: Config) => {
    if (web.file === undefined) return () => false;
    const settings = loadWebSettings(web.file);
    const why = guard.checkSwap(settings);
    if (why) throw new ConfigError(web.file, [why]);
    return () => {
      const changed = !isDeepStrictEqual(settings, guard.settings);
      guard.swap(settings);
      if (server) applySocketIdleTimeout(server, next.query?.timeout);
      return changed;
    };
  };
  const runtime = new Runtime({ file, config, log, levelFlag, prepareReload, thread: { ...thread, logFormat: logOpts.format } });
  // Serve queries only once service discovery has had its first look, not with empty groups.
  await runtime.ready();
  let stop: (signal: string) => void = () => process.exit(0);
  // Added onto the runtime's deps, not spread: its `shard` is a getter read on every request.
  const app = createApp(
    Object.assign(runtime.appDeps(), {
      lifecycle: web.lifecycle,
      quit: () => stop('/-/quit'),
      guard: web.settings ? guard.middleware() : undefined,
      webUi: web.ui.webUi,
      routePrefix: web.ui.routePrefix,
      extraMetrics: web.settings ? () => guard.metrics() : undefined,
    }),
  );
  // Registered before listening: SIGHUP's default action would end the process.
  process.on('SIGHUP', () => void runtime.reload().catch(() => undefined)); // the runtime logs the outcome
  const { host, port } = parseListen(config.listen);
  // PROMFRONT_FAST_PATH=0 sends every request through the app (A/B benches, or to rule the fast path out).
  const fast =
    process.env.PROMFRONT_FAST_PATH === '0' || normalizePrefix(web.ui.routePrefix) !== ''
      ? undefined
      : { guard, capabilities: () => runtime.capabilities.current, queryThread: () => runtime.queryThread };
  server = listen(app, guard, host, port, config.query?.timeout, fast);
  server.on('error', (err: NodeJS.ErrnoException) => {
    log.fatal({ err: err.message }, `cannot listen on ${config.listen}`);
    process.exit(1);
  });
  server.on('listening', () =>
    log.info(
      {
        version: VERSION,
        config_file: file,
        listen: config.listen,
        sections: configuredSections(config),
        tls: web.settings?.tls !== undefined,
        basic_auth: (web.settings?.config.users.size ?? 0) > 0,
        lifecycle: web.lifecycle,
        route_prefix: web.ui.routePrefix || '/',
        shards: config.shard?.num_shards ?? 0,
        sources: config.shard?.sources.length ?? 0,
        server_groups: config.query?.server_groups.length ?? 0,
      },
      'promfront listening',
    ),
  );
  await runtime.start();

  let stopping = false;
  const listening = server;
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    listening.close();
    void runtime.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
