/**
 * A client for any TUF repository over tagtrust's verification core (verified-updater.ts), with the
 * generic target-name policy (every name; tagtrust's own client accepts only `<gun>:<tag>` of the
 * collection). It backs the tuf-conformance client CLI (cli.ts), so the public suite can be run
 * against the same checks `tagtrust resolve` makes: strict JSON, metadata validation, own key IDs,
 * root chain limit, each role persisted once verified with an all-or-nothing commit
 * (trusted-state.ts), and delegated roles verified against each delegator a lookup reaches.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '@tagtrust/shared';
import { Deadline } from '../deadline.js';
import { parseRootDocument } from '../trust/pin-policy.js';
import { mapTufError } from '../tuf/error-map.js';
import { commitWork, createWorkCopy, recoverTrustedState } from '../tuf/trusted-state.js';
import { createVerifier } from '../tuf/verified-updater.js';
import type { Verifier } from '../tuf/verified-updater.js';

/** Label of the repository in messages. */
const REPOSITORY = 'the repository';

export interface RepositoryOptions {
  /** The client's trusted metadata, as unversioned files (root.json, timestamp.json, ...). */
  metadataDir: string;
  metadataUrl: string;
  timeoutMs?: number;
}

export interface DownloadOptions extends RepositoryOptions {
  targetNames: string[];
  targetBaseUrl: string;
  targetDir: string;
}

/**
 * Trusts `trustedRootFile` as the first root: strict JSON, valid, self-signed, own key IDs (the
 * checks of every first root), stored as given. No request is made.
 * @throws UntrustedRootError
 */
export async function initRepository(metadataDir: string, trustedRootFile: string): Promise<void> {
  parseRootDocument(await readFile(trustedRootFile, 'utf8'), trustedRootFile, REPOSITORY);
  await mkdir(metadataDir, { recursive: true, mode: 0o700 });
  await copyFile(trustedRootFile, join(metadataDir, 'root.json'));
}

/** Updates the top-level metadata (client workflow 5.3-5.6). @throws TagTrustError */
export async function refreshRepository(options: RepositoryOptions): Promise<void> {
  await withVerifier(options, {}, async ({ updater }) => {
    await updater.refresh();
  });
}

/**
 * Refreshes, then for each name in order: looks it up through the delegations, and downloads the
 * artifact into `targetDir` unless a verified copy is there already (length and hashes checked).
 * @throws TagTrustError, UsageError for a name no role signs
 */
export async function downloadTargets(options: DownloadOptions): Promise<void> {
  await withVerifier(options, { targetDir: options.targetDir, targetBaseUrl: options.targetBaseUrl }, async ({ updater }) => {
    await mkdir(options.targetDir, { recursive: true });
    for (const name of options.targetNames) {
      const info = await updater.getTargetInfo(name);
      if (!info) throw new UsageError(`${name} is not signed by ${REPOSITORY}`);
      if ((await updater.findCachedTarget(info)) === undefined) await updater.downloadTarget(info);
    }
  });
}

/** Runs `use` on a verifier over a private copy of `metadataDir`, then commits what was verified. */
async function withVerifier(options: RepositoryOptions, targets: { targetDir?: string; targetBaseUrl?: string }, use: (verifier: Verifier) => Promise<void>): Promise<void> {
  const deadline = new Deadline(options.timeoutMs ?? 30_000, `updating from ${options.metadataUrl}`);
  await recoverTrustedState(options.metadataDir);
  const { work } = await createWorkCopy(options.metadataDir);
  try {
    const verifier = await createVerifier({
      dir: work,
      metadataBaseUrl: options.metadataUrl.replace(/\/+$/, ''),
      deadline,
      gun: REPOSITORY,
      acceptTargetName: () => true,
      ...targets,
    });
    try {
      await use(verifier);
    } catch (err) {
      throw mapTufError(err, REPOSITORY, deadline, verifier.failures);
    }
  } finally {
    deadline.dispose();
    // Every role verified is kept, also when a later step failed (client workflow).
    await commitWork(work, options.metadataDir);
  }
}
