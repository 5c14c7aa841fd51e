// The web config file's checks (exporter-toolkit's format): what is accepted, what each mistake is
// reported as, and that a password hash never appears in a message.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { bcryptProblem, parseWebConfigText } from '../../../src/config/web-config.js';
import { ConfigError } from '../../../src/errors.js';
import { loadWebSettings } from '../../../src/server/web-config.js';

const HASH = bcrypt.hashSync('secret', 4);

function problems(text: string): string[] {
  try {
    parseWebConfigText(text, '/etc/promfront/web.yml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the web config to be refused');
}

describe('web config parsing', () => {
  it('accepts an empty file: plain HTTP, no auth, no headers', () => {
    const c = parseWebConfigText('', '/x/web.yml');
    expect(c.tls).toBeUndefined();
    expect(c.users.size).toBe(0);
    expect(c.headers).toEqual({});
    expect(c.rateLimit).toBeUndefined();
  });

  it('reads TLS with exporter-toolkit defaults, relative paths taken from the file folder, Go names mapped to OpenSSL names', () => {
    const c = parseWebConfigText(
      [
        'tls_server_config:',
        '  cert_file: srv.crt',
        '  key_file: /abs/srv.key',
        '  client_auth_type: RequireClientCert',
        '  client_ca_file: ca.pem',
        '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]',
        '  curve_preferences: [X25519, CurveP384]',
        '  prefer_server_cipher_suites: false',
      ].join('\n'),
      '/etc/promfront/web.yml',
    );
    expect(c.tls).toMatchObject({
      certFile: '/etc/promfront/srv.crt',
      keyFile: '/abs/srv.key',
      clientCaFile: '/etc/promfront/ca.pem',
      // The old spelling is read as what it always meant.
      clientAuth: 'RequireAnyClientCert',
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      // The TLS 1.3 suite is accepted and left out, as Go does.
      ciphers: ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
      curves: ['X25519', 'P-384'],
      honorCipherOrder: false,
    });
  });

  it('reads users, headers and the rate limit; a blank header value leaves the header unset', () => {
    const c = parseWebConfigText(
      [
        'basic_auth_users:',
        `  alice: ${HASH}`,
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: sameorigin',
        '    Content-Security-Policy: ""',
        '    Strict-Transport-Security: max-age=31536000',
        'rate_limit: {interval: 100ms, burst: 5}',
      ].join('\n'),
      '/x/web.yml',
    );
    expect([...c.users.keys()]).toEqual(['alice']);
    expect(c.headers).toEqual({ 'X-Frame-Options': 'sameorigin', 'Strict-Transport-Security': 'max-age=31536000' });
    expect(c.rateLimit).toEqual({ intervalMs: 100, burst: 5 });
  });

  it('refuses headers outside exporter-toolkit set and values outside the fixed ones, with its wording', () => {
    const p = problems(
      ['http_server_config:', '  headers:', '    Server: nginx', '    X-Content-Type-Options: sniff', '    X-Frame-Options: allow'].join('\n'),
    );
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/^http_server_config\.headers: HTTP header "Server" can not be configured \(allowed: Strict-Transport-Security, /);
    expect(p[1]).toBe('http_server_config.headers: invalid value for X-Content-Type-Options. Expected one of: "nosniff", but got: "sniff"');
    expect(p[2]).toBe('http_server_config.headers: invalid value for X-Frame-Options. Expected one of: "deny", "sameorigin", but got: "allow"');
  });

  it('refuses a password that is not a bcrypt hash without quoting it', () => {
    const p = problems(['basic_auth_users:', '  alice: plaintext-password', `  bob: ${HASH}`, `  carol: ${HASH.replace('$04$', '$99$')}`].join('\n'));
    expect(p).toEqual([
      'basic_auth_users.alice: not a bcrypt hash (expected $2y$<cost>$ and 53 characters of salt and hash, as "htpasswd -nBC 10" makes)',
      'basic_auth_users.carol: bcrypt cost 99 is outside the allowed range (4,31)',
    ]);
    expect(p.join('\n')).not.toContain('plaintext-password');
    expect(bcryptProblem(HASH)).toBeUndefined();
    expect(bcryptProblem(HASH.replace('$2b$', '$2y$'))).toBeUndefined();
  });

  it('lists every TLS mistake at once, with exporter-toolkit wording where it has one', () => {
    expect(problems('tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n')).toEqual([
      'tls_server_config: missing one of cert or cert_file',
      'tls_server_config: missing one of key or key_file',
      'tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file (or client_ca) to verify client certificates against',
    ]);
    expect(problems('tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n')).toEqual([
      "tls_server_config: client CA's have been configured without a Client Auth Policy (set client_auth_type, e.g. RequireAndVerifyClientCert)",
    ]);
    expect(problems('tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n')).toEqual([
      'tls_server_config: min_version TLS13 is above max_version TLS12',
    ]);
  });

  it('names unknown enum values and fields by their path', () => {
    const p = problems(
      [
        'tls_server_config:',
        '  cert_file: a',
        '  key_file: b',
        '  client_auth_type: Sometimes',
        '  min_version: TLS14',
        '  cipher_suites: [TLS_FAKE]',
        '  curve_preferences: [CurveP999]',
        '  certfile: typo',
        'basic_auth: {}',
      ].join('\n'),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        'tls_server_config: unknown field "certfile"',
        expect.stringMatching(/^tls_server_config\.client_auth_type: invalid ClientAuth: Sometimes \(one of NoClientCert, /),
        expect.stringMatching(/^tls_server_config\.min_version: unknown TLS version: TLS14 \(one of TLS10, TLS11, TLS12, TLS13\)$/),
        expect.stringMatching(/^tls_server_config\.cipher_suites\.0: unknown cipher: TLS_FAKE /),
        expect.stringMatching(/^tls_server_config\.curve_preferences\.0: unknown curve: CurveP999 \(one of CurveP256, CurveP384, CurveP521, X25519\)$/),
        '(top level): unknown field "basic_auth"',
      ]),
    );
    expect(p).toHaveLength(6);
  });

  it('reports YAML errors and a file that is not a mapping', () => {
    expect(problems('basic_auth_users: [')[0]).toMatch(/^yaml: /);
    expect(problems('- a\n- b\n')).toEqual(['(top level): must be a mapping']);
  });
});

describe('loading the web config with its files', () => {
  it('names the file that cannot be read and the field it came from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-web-'));
    const file = join(dir, 'web.yml');
    writeFileSync(file, 'tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n');
    expect(() => loadWebSettings(file)).toThrow(ConfigError);
    try {
      loadWebSettings(file);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        `tls_server_config.cert_file: cannot read ${join(dir, 'missing.crt')}: ENOENT`,
        `tls_server_config.key_file: cannot read ${join(dir, 'missing.key')}: ENOENT`,
      ]);
    }
    expect(() => loadWebSettings(join(dir, 'nope.yml'))).toThrow(/cannot read file: ENOENT/);
  });

  it('refuses PEM text that is no certificate, without quoting the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promfront-web-'));
    const file = join(dir, 'web.yml');
    writeFileSync(file, 'tls_server_config:\n  cert: not a certificate\n  key: very-secret-key-material\n');
    let message = '';
    try {
      loadWebSettings(file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/tls_server_config: cannot use the certificate and key: /);
    expect(message).not.toContain('very-secret-key-material');
  });
});
