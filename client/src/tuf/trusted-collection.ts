/**
 * Runs one verified TUF update of a collection (tuf-js Updater, client workflow 5.3-5.6) against the
 * client's persisted trusted state (trusted-state.ts).
 *
 * Rules:
 * - tuf-js reads the trusted state as its rollback baseline and writes each role as soon as it has
 *   verified it (the specification's workflow), non-atomically; so each update works on a private
 *   copy, committed all-or-nothing at the end, whether the update succeeded or not: a verified new
 *   root or timestamp is kept (the rollback floor rises) even when a later step fails. Nothing
 *   unverified is ever in the copy. A first contact that fails commits nothing (no root is trusted).
 * - Every downloaded file passes the MetadataGuard (strict JSON, valid metadata, own key IDs, root
 *   chain limit, target names of this collection) before tuf-js verifies it, and the final state
 *   passes `checkTrusted` (maxAge) before the caller uses it.
 * - A delegated role is verified against each delegator a lookup reaches it through (delegator-check.ts).
 * - Without a trusted root, the first root comes from first-root.ts.
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ImmutableTagError, LogInconsistentError, PolicyWeakenedError, TagPolicy, checkPolicyChange, delegatorOf, logHeadOf, tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import { explainOtherRootChain } from './recreated-collection.js';
import { listedFor } from './revoked-signers.js';
import { SeenImmutableTags } from '../audit/seen-tags.js';
import { checkHeadProgress } from '../audit/log-verify.js';
import { trustDir } from '../home.js';
import { FailureLog, mapTufError } from './error-map.js';
import { DeadlineFetcher } from './fetcher.js';
import { bootstrapRoot } from './first-root.js';
import { loadDelegations, loadDelegationsFor } from './delegation-walk.js';
import type { RoleFiles } from './delegation-walk.js';
import { TrustedDelegations } from './trusted-delegations.js';
import { commitWork, createWorkCopy, keepRole, readKeptRole, readTrusted, recoverTrustedState } from './trusted-state.js';
import type { CollectionSession, UpdateContext } from './trusted-types.js';
import { METADATA_LIMITS, createVerifier } from './verified-updater.js';

export type { CollectionSession, TrustPolicy, TrustedMetadata, UpdateContext } from './trusted-types.js';
export { recordPublishedTargets, trustRoot } from './trusted-state.js';

export { DEFAULT_MAX_ROOT_ROTATIONS, METADATA_LIMITS } from './verified-updater.js';

/** Refreshes the collection, runs `use` on the verified session, then commits what was verified. */
export async function withTrustedCollection<T>(context: UpdateContext, use: (session: CollectionSession) => Promise<T>): Promise<T> {
  const dir = trustDir(context.home, context.gun);
  await recoverTrustedState(dir);
  await chmod(dirname(dir), 0o700); // TAGTRUST_HOME/trust/
  const { work, existing } = await createWorkCopy(dir);
  const firstContact = !existing.includes('root.json');
  let result: T;
  let immutable: SeenImmutableTags;
  try {
    if (firstContact) {
      const bootstrapFetcher = new DeadlineFetcher(context.deadline, {
        gun: context.gun,
        failures: new FailureLog(),
        token: context.token,
        transport: context.transport,
        ...(context.mirror ? {} : { tagtrustServer: context.server }),
      });
      await bootstrapRoot(context, work, bootstrapFetcher);
    }
    ({ result, immutable } = await update(context, dir, work, firstContact, use));
  } catch (err) {
    // Client workflow: every role is persisted once verified, also when a later step failed. A
    // commit that fails here leaves its journal and work copy for the next update to finish; the
    // update's own error is the one to report.
    // Except what tagtrust's own checks refused after TUF verification (a moved immutable tag, a
    // weakened policy, a rewritten tag log): keeping those files would make them the baseline the
    // next update compares against, and the refusal would not repeat.
    if (firstContact || refusedAfterVerification(err)) await rm(work, { recursive: true, force: true });
    else await commitWork(work, dir).catch(() => undefined);
    throw err;
  }
  await commitWork(work, dir);
  await immutable.save();
  return result;
}

async function update<T>(
  context: UpdateContext,
  dir: string,
  work: string,
  firstContact: boolean,
  use: (session: CollectionSession) => Promise<T>,
): Promise<{ result: T; immutable: SeenImmutableTags }> {
  const baseUrl = `${context.server}${tufBasePath(context.gun)}`;
  let failures: FailureLog | undefined;
  const previous = async <S extends TargetsSigned | TimestampSigned>(role: string) =>
    readFile(join(work, `${role}.json`), 'utf8').then((text) => (JSON.parse(text) as Metadata<S>).signed, () => undefined);
  const previousTargets = await previous<TargetsSigned>('targets');
  const previousTimestamp = await previous<TimestampSigned>('timestamp');
  const trustedRoot = JSON.parse(await readFile(join(work, 'root.json'), 'utf8')) as Metadata<RootSigned>;
  let rootUrlFetch: (() => Promise<Buffer>) | undefined;
  try {
    const verifier = await createVerifier({
      dir: work,
      metadataBaseUrl: baseUrl,
      deadline: context.deadline,
      gun: context.gun,
      maxRootRotations: context.policy?.maxRootRotations,
      maxAgeMs: context.policy?.maxAgeMs,
      token: context.token,
      transport: context.transport,
      ...(context.mirror ? {} : { tagtrustServer: context.server }),
    });
    const { updater, guard, fetcher } = verifier;
    const log = (failures = verifier.failures);
    // A key the trusted targets listed for a role and the new ones do not was revoked (revoked-signers.ts).
    log.previouslyListed = (role) => (delegatorOf(role) === 'targets' ? listedFor(previousTargets?.delegations, role) : []);
    rootUrlFetch = () => fetcher.downloadBytes(`${baseUrl}/root.json`, METADATA_LIMITS.root);
    await updater.refresh();
    const metadata = await readTrusted(work);
    guard.checkTrusted(metadata, new Date());
    // Signed immutability: the policy only weakens with the root's approval (shared/src/immutability.ts).
    checkPolicyChange(context.gun, previousTargets, metadata.targets.signed, metadata.root.signed);
    // The tag log never shrinks or forks between two timestamps this client trusted (client/src/audit/log-verify.ts).
    checkHeadProgress(context.gun, previousTimestamp && logHeadOf(previousTimestamp), logHeadOf(metadata.timestamp.signed));
    const immutable = await SeenImmutableTags.load(dir, context.gun, TagPolicy.of(metadata.targets.signed));
    const files: RoleFiles = {
      cached: (role) => readKeptRole(dir, role).then((kept) => kept ?? readFile(join(work, `${encodeURIComponent(role)}.json`)).catch(() => undefined)),
      download: (file, max) => fetcher.downloadBytes(`${baseUrl}/${file}`, max),
      keep: (role, bytes) => keepRole(work, role, bytes),
    };
    // Loading a tree downloads again, and each successful download clears the failure log: keep
    // the failure a tuf-js lookup recorded before (lookupTarget rethrows its error).
    const loadTree = async (load: (trusted: TrustedDelegations) => Promise<void>) => {
      const pending = log.latest;
      const trusted = new TrustedDelegations(metadata.snapshot.signed, metadata.targets, new Date());
      await load(trusted);
      if (pending) log.record(pending);
      return trusted;
    };
    let tree: Promise<TrustedDelegations> | undefined;
    const result = await use({
      gun: context.gun,
      immutable,
      metadata,
      getTargetInfo: (name) => updater.getTargetInfo(name),
      delegations: () => (tree ??= loadTree((trusted) => loadDelegations(trusted, files, METADATA_LIMITS.targets))),
      delegationsFor: (name) => loadTree((trusted) => loadDelegationsFor(trusted, name, files, METADATA_LIMITS.targets)),
    });
    return { result, immutable };
  } catch (err) {
    const mapped = mapTufError(err, context.gun, context.deadline, failures);
    // Only trust this home kept can be stale; a root just taken from a pin or root file is what the user chose.
    if (firstContact || !rootUrlFetch) throw mapped;
    throw await explainOtherRootChain(mapped, context.gun, trustedRoot, rootUrlFetch);
  }
}

function refusedAfterVerification(err: unknown): boolean {
  return err instanceof ImmutableTagError || err instanceof PolicyWeakenedError || err instanceof LogInconsistentError;
}
