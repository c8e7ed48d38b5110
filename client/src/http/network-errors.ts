/**
 * One readable line for a failed connection, naming the likely fix: TLS spoken to a plain-HTTP port,
 * a certificate the client does not trust (`--ca`), a refused or unresolvable address (`--server`).
 */

/** Why a request to `url` failed, and what to do, without OpenSSL's internals. */
export function describeConnectionError(url: string, err: unknown): string {
  const error = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = error.code ?? error.cause?.code;
  const message = String(error.cause?.message ?? error.message);
  const origin = new URL(url).origin;
  if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(message)) {
    return `${origin} does not speak TLS: use http:// for a server without --tls-cert, or check the port`;
  }
  if (code === 'ECONNRESET' && url.startsWith('http:')) return `${origin} closed the connection: if it serves HTTPS, use https://`;
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') {
    return `${origin} presents a certificate this client does not trust (${code}): pass its CA with --ca FILE (or NODE_EXTRA_CA_CERTS)`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${origin} presents a certificate for another name: use the host name the certificate names`;
  if (code === 'CERT_HAS_EXPIRED') return `${origin} presents an expired certificate: the server's operator must renew it`;
  if (code === 'ECONNREFUSED') return `nothing listens at ${origin} (connection refused): check --server, and that the server runs`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${origin}: check --server`;
  return `cannot reach ${origin} (${code ?? message}): check --server`;
}
