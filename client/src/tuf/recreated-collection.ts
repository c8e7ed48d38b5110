/**
 * A collection deleted and re-created on the server starts a new root chain with new keys: a client
 * that trusts the old chain then sees metadata signed by keys its root does not list, which reads as
 * forgery. When a signature check fails, this compares the server's current root with the trusted
 * one; if the server's is no newer and lists other root keys, the error says so and names the way
 * out (`tagtrust trust forget`), still refusing: an impersonating server looks the same.
 */
import { SignatureError, UntrustedRootError } from '@tagtrust/shared';
import type { Metadata, RootSigned, TagTrustError } from '@tagtrust/shared';

const shortIds = (ids: readonly string[]) => ids.map((id) => id.slice(0, 8)).join(', ');

/**
 * `error`, or an UntrustedRootError explaining that the server holds another root chain.
 * @param downloadRoot the server's current root.json bytes
 */
export async function explainOtherRootChain(
  error: TagTrustError,
  gun: string,
  trusted: Metadata<RootSigned>,
  downloadRoot: () => Promise<Buffer>,
): Promise<TagTrustError> {
  if (!(error instanceof SignatureError)) return error;
  let served: Metadata<RootSigned>;
  try {
    served = JSON.parse((await downloadRoot()).toString('utf8')) as Metadata<RootSigned>;
  } catch {
    return error;
  }
  const servedIds = served?.signed?.roles?.root?.keyids;
  const trustedIds = trusted.signed.roles.root.keyids;
  if (!Array.isArray(servedIds) || typeof served.signed.version !== 'number' || served.signed.version > trusted.signed.version) return error;
  if (servedIds.some((id) => trustedIds.includes(id))) return error;
  return new UntrustedRootError(
    `the server's root of ${gun} (v${served.signed.version}, root keys ${shortIds(servedIds)}) is not the root this home trusts (v${trusted.signed.version}, root keys ${shortIds(trustedIds)}): ` +
      `the collection was deleted and re-created, or the server impersonates it; refusing it. If its owner confirms a re-creation, run \`tagtrust trust forget ${gun}\` (and pin the new root)`,
    { cause: error },
  );
}
