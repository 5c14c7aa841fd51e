// The one place that turns the auth and TLS fields an HTTP client block shares with a shard source
// (basic_auth, authorization, bearer_token(_file), tls_config) into what a request needs: the
// Authorization header and the TLS options of an undici connect. Both the query downstreams'
// http_client (src/client/http-client.ts) and the shard sources (src/shard/source-client.ts) use it.
//
// The two read their files differently (downstreams watch them and re-read them when they change,
// shard sources re-read them at every scrape) and word their file errors differently, so how a file
// is read is the caller's: a FileReader given here, which also throws the caller's own errors.

import type { HttpClientConfig, TlsConfig } from '../config/schema.js';

/** The auth and TLS fields an http_client block and a shard source have in common. */
export type AuthTlsConfig = Pick<HttpClientConfig, 'basic_auth' | 'authorization' | 'bearer_token' | 'bearer_token_file' | 'tls_config'>;

/**
 * Reads one configured file for `field` (e.g. "bearer_token_file", "tls_config.ca_file") and
 * returns its content: for a secret, the secret ready to send (trimmed, checked not empty); for a
 * TLS file, the PEM text as is. Throws the caller's error when it cannot.
 */
export type FileReader = (field: string, path: string) => Promise<string>;

/** PEM text of the configured CA, client certificate and key; undefined for those not configured. */
export interface TlsMaterial {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** TLS options of an undici connect (buildConnector or Pool's `connect`). */
export interface TlsConnectOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

/** The Authorization header the auth fields ask for, or undefined when none is configured. */
export async function authorizationHeader(cfg: AuthTlsConfig, readSecret: FileReader): Promise<string | undefined> {
  if (cfg.basic_auth !== undefined) {
    const b = cfg.basic_auth;
    const password = b.password_file !== undefined ? await readSecret('basic_auth.password_file', b.password_file) : (b.password ?? '');
    return basicAuth(b.username, password);
  }
  if (cfg.authorization !== undefined) {
    const a = cfg.authorization;
    const creds = a.credentials_file !== undefined ? await readSecret('authorization.credentials_file', a.credentials_file) : a.credentials!;
    return `${a.type} ${creds}`;
  }
  if (cfg.bearer_token !== undefined) return `Bearer ${cfg.bearer_token}`;
  if (cfg.bearer_token_file !== undefined) return `Bearer ${await readSecret('bearer_token_file', cfg.bearer_token_file)}`;
  return undefined;
}

/** An HTTP Basic Authorization header value. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Reads the CA, certificate and key files of `tls` (in parallel) with `read`. */
export async function readTlsMaterial(tls: TlsConfig | undefined, read: FileReader): Promise<TlsMaterial> {
  if (tls === undefined) return {};
  const [ca, cert, key] = await Promise.all([
    tls.ca_file === undefined ? undefined : read('tls_config.ca_file', tls.ca_file),
    tls.cert_file === undefined ? undefined : read('tls_config.cert_file', tls.cert_file),
    tls.key_file === undefined ? undefined : read('tls_config.key_file', tls.key_file),
  ]);
  return { ca, cert, key };
}

/** The connect options of tls_config with its files' `material`: trust, client certificate, SNI name, verification. */
export function tlsConnectOptions(tls: TlsConfig | undefined, material: TlsMaterial): TlsConnectOptions {
  const out: TlsConnectOptions = { rejectUnauthorized: !(tls?.insecure_skip_verify ?? false) };
  if (material.ca !== undefined) out.ca = material.ca;
  if (material.cert !== undefined) out.cert = material.cert;
  if (material.key !== undefined) out.key = material.key;
  if (tls?.server_name !== undefined) out.servername = tls.server_name;
  return out;
}
