/**
 * Fields outside `signed` carry no signature: anyone between the signer and the reader (a push-token
 * holder, the server, the network) can add them, and a reader that keeps or serves them hands junk
 * to every puller. tagtrust metadata is exactly `{signed, signatures}` with signatures exactly
 * `{keyid, sig}`: the server refuses anything else at publish (400) and the client refuses it as
 * malformed metadata, as an honest server never serves it.
 */
const ENVELOPE_FIELDS = new Set(['signed', 'signatures']);
const SIGNATURE_FIELDS = new Set(['keyid', 'sig']);

/** Where `document` (a metadata object) has an unsigned field, as [field, problem]; undefined if nowhere. */
export function unsignedFieldProblem(document: Record<string, unknown>): [string, string] | undefined {
  const extra = Object.keys(document).find((name) => !ENVELOPE_FIELDS.has(name));
  if (extra !== undefined) return ['the document', `has the unsigned field ${quoteField(extra)} (only "signed" and "signatures" are allowed)`];
  if (!Array.isArray(document.signatures)) return undefined;
  for (const [i, entry] of (document.signatures as unknown[]).entries()) {
    if (typeof entry !== 'object' || entry === null) continue;
    const field = Object.keys(entry).find((name) => !SIGNATURE_FIELDS.has(name));
    if (field !== undefined) return [`signatures[${i}]`, `has the unsigned field ${quoteField(field)} (only "keyid" and "sig" are allowed)`];
  }
  return undefined;
}

function quoteField(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name);
}
