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
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned } from '@tagtrust/shared';
import { trustDir } from '../home.js';
import { verifyEachDelegator } from './delegator-check.js';
import { FailureLog, mapTufError, watchTrustedSet } from './error-map.js';
import { DeadlineFetcher } from './fetcher.js';
import { ROOT_MAX_LENGTH, bootstrapRoot } from './first-root.js';
import { MetadataGuard } from './metadata-guard.js';
import { TrustedDelegations, loadDelegations, loadDelegationsFor } from './trusted-delegations.js';
import type { RoleFiles } from './trusted-delegations.js';
import { commitWork, createWorkCopy, keepRole, readKeptRole, readTrusted, recoverTrustedState } from './trusted-state.js';
import type { CollectionSession, UpdateContext } from './trusted-types.js';
import './linear-targets.js';

export type { CollectionSession, TrustPolicy, TrustedMetadata, UpdateContext } from './trusted-types.js';
export { recordPublishedTargets, trustRoot } from './trusted-state.js';

/** Size caps for downloaded metadata (bytes); a larger file is cut off, not read whole. */
export const METADATA_LIMITS = {
  root: ROOT_MAX_LENGTH,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 5_000_000,
};

/** Most new root versions one update walks by default (spec 5.3.3; as python-tuf and tuf-js). */
export const DEFAULT_MAX_ROOT_ROTATIONS = 256;

/** Refreshes the collection, runs `use` on the verified session, then commits what was verified. */
export async function withTrustedCollection<T>(context: UpdateContext, use: (session: CollectionSession) => Promise<T>): Promise<T> {
  const dir = trustDir(context.home, context.gun);
  await recoverTrustedState(dir);
  const { work, existing } = await createWorkCopy(dir);
  const failures = new FailureLog();
  const firstContact = !existing.includes('root.json');
  let result: T;
  try {
    if (firstContact) {
      const bootstrapFetcher = new DeadlineFetcher(context.deadline, { gun: context.gun, failures, token: context.token, transport: context.transport });
      await bootstrapRoot(context, work, bootstrapFetcher);
    }
    result = await update(context, dir, work, failures, use);
  } catch (err) {
    // Client workflow: every role is persisted once verified, also when a later step failed. A
    // commit that fails here leaves its journal and work copy for the next update to finish; the
    // update's own error is the one to report.
    if (firstContact) await rm(work, { recursive: true, force: true });
    else await commitWork(work, dir).catch(() => undefined);
    throw err;
  }
  await commitWork(work, dir);
  return result;
}

async function update<T>(context: UpdateContext, dir: string, work: string, failures: FailureLog, use: (session: CollectionSession) => Promise<T>): Promise<T> {
  const trustedRoot = JSON.parse(await readFile(join(work, 'root.json'), 'utf8')) as Metadata<RootSigned>;
  const maxRootRotations = context.policy?.maxRootRotations ?? DEFAULT_MAX_ROOT_ROTATIONS;
  const guard = new MetadataGuard({
    gun: context.gun,
    trustedRootVersion: trustedRoot.signed.version,
    maxRootRotations,
    maxAgeMs: context.policy?.maxAgeMs,
  });
  const fetcher = new DeadlineFetcher(context.deadline, {
    gun: context.gun,
    failures,
    token: context.token,
    transport: context.transport,
    inspect: (file, bytes) => guard.checkDownload(file, bytes),
  });
  try {
    const baseUrl = `${context.server}${tufBasePath(context.gun)}`;
    const updater = new Updater({
      metadataDir: work,
      metadataBaseUrl: baseUrl,
      fetcher,
      config: {
        // One more than the limit, so that a longer chain reaches the guard and is refused.
        maxRootRotations: maxRootRotations + 1,
        rootMaxLength: METADATA_LIMITS.root,
        timestampMaxLength: METADATA_LIMITS.timestamp,
        snapshotMaxLength: METADATA_LIMITS.snapshot,
        targetsMaxLength: METADATA_LIMITS.targets,
      },
    });
    watchTrustedSet(updater, failures);
    verifyEachDelegator(updater, context.gun);
    await updater.refresh();
    const metadata = await readTrusted(work);
    guard.checkTrusted(metadata, new Date());
    const files: RoleFiles = {
      cached: (role) => readKeptRole(dir, role).then((kept) => kept ?? readFile(join(work, `${encodeURIComponent(role)}.json`)).catch(() => undefined)),
      download: (file, max) => fetcher.downloadBytes(`${baseUrl}/${file}`, max),
      keep: (role, bytes) => keepRole(work, role, bytes),
    };
    // Loading a tree downloads again, and each successful download clears the failure log: keep
    // the failure a tuf-js lookup recorded before (lookupTarget rethrows its error).
    const loadTree = async (load: (trusted: TrustedDelegations) => Promise<void>) => {
      const pending = failures.latest;
      const trusted = new TrustedDelegations(metadata.snapshot.signed, metadata.targets, new Date());
      await load(trusted);
      if (pending) failures.record(pending);
      return trusted;
    };
    let tree: Promise<TrustedDelegations> | undefined;
    return await use({
      gun: context.gun,
      metadata,
      getTargetInfo: (name) => updater.getTargetInfo(name),
      delegations: () => (tree ??= loadTree((trusted) => loadDelegations(trusted, files, METADATA_LIMITS.targets))),
      delegationsFor: (name) => loadTree((trusted) => loadDelegationsFor(trusted, name, files, METADATA_LIMITS.targets)),
    });
  } catch (err) {
    throw mapTufError(err, context.gun, context.deadline, failures);
  }
}
