// Which header, query-parameter and config-key names carry credentials. One rule for both places
// that hide secrets: the config shown at /api/v1/status/config and the downstream errors that echo
// our request back (a query_params token in an echoed URI, a header in an echoed request). It errs
// on the side of hiding: a non-secret value under such a name is hidden too.

const CREDENTIAL_NAME = /auth|token|secret|pass|cookie|session|key|signature|credential/i;

export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/**
 * A secret as it may come back inside an echoed URL or form: as it is, percent-encoded, and
 * form-encoded (spaces as `+`). Empty values give nothing.
 */
export function echoedForms(secret: string): string[] {
  if (secret === '') return [];
  const forms = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ x: secret }).toString().slice(2)]);
  return [...forms];
}
