// Connecting to NATS with the official client from a config section: servers, user/password,
// token, credentials or nkey seed file, TLS. Reconnects forever, so an unreachable NATS is a state
// the publisher and the consumer wait out, never a crash.

import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionConfig } from '../config/stream.js';
import { USER_AGENT } from '../version.js';

export function connectNats(c: NatsConnectionConfig): Promise<NatsConnection> {
  return connect({
    servers: c.servers,
    name: USER_AGENT,
    user: c.user,
    pass: c.password,
    token: c.token,
    // Files are read at each (re)connect, so rotated credentials are picked up.
    authenticator:
      c.creds_file !== undefined
        ? credsAuthenticator(() => readFileSync(c.creds_file!))
        : c.nkey_seed_file !== undefined
          ? nkeyAuthenticator(
              () =>
                new Uint8Array(
                  readFileSync(c.nkey_seed_file!, 'utf8')
                    .trim()
                    .split('')
                    .map((ch) => ch.charCodeAt(0)),
                ),
            )
          : undefined,
    tls: c.tls_config ? { caFile: c.tls_config.ca_file, certFile: c.tls_config.cert_file, keyFile: c.tls_config.key_file } : undefined,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5000,
  });
}

/** A NATS or JetStream error as one line without secrets (the client never puts credentials in them). */
export function natsError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
