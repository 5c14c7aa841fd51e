// The web configuration file (--web.config.file): TLS, basic auth and extra response headers for
// the proxy's own listener, in the format of Prometheus's exporter-toolkit (docs/web-configuration.md
// there), so one file serves Prometheus, its exporters and promfront alike. This module parses and
// checks the file's content; reading the certificates and serving are src/server/web-config.ts's.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { ConfigError } from '../errors.js';
import { formatIssues } from './load.js';

/** exporter-toolkit's extraHTTPHeaders: the only headers the file may set, some with a fixed set of values. */
export const ALLOWED_HEADERS: Record<string, string[] | null> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

/** Go's crypto/tls names (tls.CipherSuites()) and OpenSSL's for the same TLS 1.2 suite. */
export const TLS12_CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/**
 * TLS 1.3 suites are in Go's list too, but Go does not let them be configured and ignores them in
 * cipher_suites; accepted and ignored here likewise.
 */
export const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** exporter-toolkit's curve names and OpenSSL's. */
export const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/** exporter-toolkit's version names, OpenSSL's, in increasing order. */
export const TLS_VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

/** Go's tls.ClientAuthType names as exporter-toolkit reads them ("RequireClientCert" is its old spelling of RequireAnyClientCert). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'RequireClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

// A bcrypt hash as Go's crypto/bcrypt accepts it: $2<minor>$<cost>$ then 22 salt and 31 hash characters.
const BCRYPT = /^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Why `hash` is not a bcrypt hash Go's bcrypt.Cost would accept, or undefined. Never quotes the hash: it is a secret. */
export function bcryptProblem(hash: string): string | undefined {
  const m = BCRYPT.exec(hash);
  if (!m) return 'not a bcrypt hash (expected $2y$<cost>$ and 53 characters of salt and hash, as "htpasswd -nBC 10" makes)';
  const cost = Number(m[1]);
  if (cost < 4 || cost > 31) return `bcrypt cost ${cost} is outside the allowed range (4,31)`;
  return undefined;
}

const oneOf = (what: string, names: readonly string[]) =>
  z.string().refine((v) => names.includes(v), { error: (iss) => `unknown ${what}: ${String(iss.input)} (one of ${names.join(', ')})` });

const tlsServerSchema = z.strictObject({
  cert: z.string().optional(),
  key: z.string().optional(),
  client_ca: z.string().optional(),
  cert_file: z.string().optional(),
  key_file: z.string().optional(),
  client_auth_type: z
    .string()
    .refine((v) => v === '' || (CLIENT_AUTH_TYPES as readonly string[]).includes(v), {
      error: (iss) => `invalid ClientAuth: ${String(iss.input)} (one of ${CLIENT_AUTH_TYPES.join(', ')})`,
    })
    .optional(),
  client_ca_file: z.string().optional(),
  client_allowed_sans: z.array(z.string()).optional(),
  min_version: oneOf('TLS version', Object.keys(TLS_VERSIONS)).default('TLS12'),
  max_version: oneOf('TLS version', Object.keys(TLS_VERSIONS)).default('TLS13'),
  cipher_suites: z.array(oneOf('cipher', [...Object.keys(TLS12_CIPHERS), ...TLS13_CIPHERS])).optional(),
  prefer_server_cipher_suites: z.boolean().default(true),
  curve_preferences: z.array(oneOf('curve', Object.keys(CURVES))).optional(),
});

const webConfigSchema = z.strictObject({
  tls_server_config: tlsServerSchema.nullish(),
  http_server_config: z
    .strictObject({
      http2: z.boolean().default(true),
      headers: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  basic_auth_users: z.record(z.string(), z.string()).nullish(),
  rate_limit: z
    .strictObject({
      interval: z.string().transform((v, ctx) => {
        try {
          return parseDuration(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
      burst: z.number().int().min(0),
    })
    .nullish(),
});

/** The TLS part, paths made absolute against the file's folder (as exporter-toolkit's SetDirectory). */
export interface WebTlsConfig {
  cert?: string;
  key?: string;
  clientCa?: string;
  certFile?: string;
  keyFile?: string;
  clientCaFile?: string;
  clientAuth: ClientAuthType;
  clientAllowedSans?: string[];
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL names of the TLS 1.2 suites, in the configured order; undefined: Node's defaults. */
  ciphers?: string[];
  honorCipherOrder: boolean;
  /** OpenSSL curve names in preference order; undefined: Node's defaults. */
  curves?: string[];
}

export interface WebConfig {
  /** Undefined: plain HTTP. */
  tls?: WebTlsConfig;
  /** Headers set on every response. */
  headers: Record<string, string>;
  /** user -> bcrypt hash; empty: no basic auth. */
  users: Map<string, string>;
  /** A token bucket over all requests, as exporter-toolkit's rate_limit; undefined: none. */
  rateLimit?: { intervalMs: number; burst: number };
  /** http_server_config.http2: read for compatibility; promfront serves HTTP/1.1 only. */
  http2: boolean;
}

function resolvePath(dir: string, p: string | undefined): string | undefined {
  if (p === undefined || p === '') return undefined;
  return isAbsolute(p) ? p : join(dir, p);
}

/** Parses and checks a web config's text; relative file names are taken from `dir`. Throws ConfigError listing every problem. */
export function parseWebConfigText(text: string, file: string, dir = dirname(file)): WebConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      file,
      doc.errors.map((e) => `yaml: ${e.message.split('\n')[0]}`),
    );
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, ['(top level): must be a mapping']);
  const result = webConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  const c = result.data;
  const problems: string[] = [];

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(c.http_server_config?.headers ?? {})) {
    if (!(name in ALLOWED_HEADERS)) {
      problems.push(`http_server_config.headers: HTTP header "${name}" can not be configured (allowed: ${Object.keys(ALLOWED_HEADERS).join(', ')})`);
      continue;
    }
    const values = ALLOWED_HEADERS[name];
    if (values && !values.includes(value)) {
      problems.push(`http_server_config.headers: invalid value for ${name}. Expected one of: ${values.map((v) => `"${v}"`).join(', ')}, but got: "${value}"`);
      continue;
    }
    // exporter-toolkit's doc: a blank value leaves the header unset.
    if (value !== '') headers[name] = value;
  }

  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(c.basic_auth_users ?? {})) {
    const problem = bcryptProblem(hash);
    if (problem) problems.push(`basic_auth_users.${user}: ${problem}`);
    else users.set(user, hash);
  }

  let tls: WebTlsConfig | undefined;
  const t = c.tls_server_config;
  // As exporter-toolkit's TLSConfig.IsEnabled: any certificate, key, CA or policy field turns TLS on.
  const enabled = t && [t.cert, t.key, t.client_ca, t.cert_file, t.key_file, t.client_ca_file, t.client_auth_type].some((v) => v !== undefined && v !== '');
  if (t && enabled) {
    const where = 'tls_server_config';
    if (!t.cert && !t.cert_file) problems.push(`${where}: missing one of cert or cert_file`);
    if (!t.key && !t.key_file) problems.push(`${where}: missing one of key or key_file`);
    if (t.cert && t.cert_file) problems.push(`${where}: cert and cert_file are mutually exclusive`);
    if (t.key && t.key_file) problems.push(`${where}: key and key_file are mutually exclusive`);
    if (t.client_ca && t.client_ca_file) problems.push(`${where}: client_ca and client_ca_file are mutually exclusive`);
    const policy = !t.client_auth_type
      ? 'NoClientCert'
      : t.client_auth_type === 'RequireClientCert'
        ? 'RequireAnyClientCert'
        : (t.client_auth_type as ClientAuthType);
    if ((t.client_ca || t.client_ca_file) && policy === 'NoClientCert') {
      problems.push(`${where}: client CA's have been configured without a Client Auth Policy (set client_auth_type, e.g. RequireAndVerifyClientCert)`);
    }
    if ((policy === 'RequireAndVerifyClientCert' || policy === 'VerifyClientCertIfGiven') && !t.client_ca && !t.client_ca_file) {
      // Go would verify against the system roots; a proxy admitting any publicly signed client is never what is meant.
      problems.push(`${where}: client_auth_type ${policy} needs client_ca_file (or client_ca) to verify client certificates against`);
    }
    const order = Object.keys(TLS_VERSIONS);
    if (order.indexOf(t.min_version) > order.indexOf(t.max_version)) {
      problems.push(`${where}: min_version ${t.min_version} is above max_version ${t.max_version}`);
    }
    const ciphers = t.cipher_suites?.filter((s) => s in TLS12_CIPHERS).map((s) => TLS12_CIPHERS[s]);
    tls = {
      cert: t.cert || undefined,
      key: t.key || undefined,
      clientCa: t.client_ca || undefined,
      certFile: resolvePath(dir, t.cert_file),
      keyFile: resolvePath(dir, t.key_file),
      clientCaFile: resolvePath(dir, t.client_ca_file),
      clientAuth: policy,
      clientAllowedSans: t.client_allowed_sans,
      minVersion: TLS_VERSIONS[t.min_version],
      maxVersion: TLS_VERSIONS[t.max_version],
      ciphers: ciphers && ciphers.length > 0 ? ciphers : undefined,
      honorCipherOrder: t.prefer_server_cipher_suites,
      curves: t.curve_preferences && t.curve_preferences.length > 0 ? t.curve_preferences.map((n) => CURVES[n]) : undefined,
    };
  }

  if (problems.length > 0) throw new ConfigError(file, problems);
  const rl = c.rate_limit;
  return {
    tls,
    headers,
    users,
    rateLimit: rl && rl.interval > 0 ? { intervalMs: rl.interval, burst: rl.burst } : undefined,
    http2: c.http_server_config?.http2 ?? true,
  };
}

/** Reads and checks the web config file (not yet the certificates it names). */
export function loadWebConfigFile(file: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseWebConfigText(text, file);
}
