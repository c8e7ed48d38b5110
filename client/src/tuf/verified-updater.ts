/**
 * The verification core every update runs on: a tuf-js Updater over a state directory, with every
 * downloaded metadata file checked by the MetadataGuard first, failures recorded for typed errors,
 * and delegated roles verified against each delegator a lookup reaches them through. Used by the
 * collection update (trusted-collection.ts) and the tuf-conformance client (conformance/).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import type { Metadata, RootSigned } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import type { TransportOptions } from '../http/transport.js';
import { verifyEachDelegator } from './delegator-check.js';
import { FailureLog, watchTrustedSet } from './error-map.js';
import { DeadlineFetcher } from './fetcher.js';
import { METADATA_LIMITS } from './download-limits.js';
import { MetadataGuard } from './metadata-guard.js';
import type { GuardPolicy } from './metadata-guard.js';
import './linear-targets.js';

export { METADATA_LIMITS };

/** Most new root versions one update walks by default (spec 5.3.3; as python-tuf and tuf-js). */
export const DEFAULT_MAX_ROOT_ROTATIONS = 256;

export interface VerifierOptions {
  /** Where the trusted metadata is read and written (root.json must be there). */
  dir: string;
  metadataBaseUrl: string;
  deadline: Deadline;
  /** Collection name, or a label for a generic repository, for messages. */
  gun: string;
  acceptTargetName?: GuardPolicy['acceptTargetName'];
  maxRootRotations?: number;
  maxAgeMs?: number;
  token?: string;
  transport?: TransportOptions;
  /** The tagtrust server the metadata comes from, whose error answers are checked (fetcher.ts). */
  tagtrustServer?: string;
  /** For artifact downloads (tuf-conformance). */
  targetDir?: string;
  targetBaseUrl?: string;
}

export interface Verifier {
  updater: Updater;
  guard: MetadataGuard;
  fetcher: DeadlineFetcher;
  failures: FailureLog;
}

/** Builds the Updater and its checks for one update; nothing is downloaded yet. */
export async function createVerifier(options: VerifierOptions): Promise<Verifier> {
  const trustedRoot = JSON.parse(await readFile(join(options.dir, 'root.json'), 'utf8')) as Metadata<RootSigned>;
  const maxRootRotations = options.maxRootRotations ?? DEFAULT_MAX_ROOT_ROTATIONS;
  const failures = new FailureLog();
  const guard = new MetadataGuard({
    gun: options.gun,
    acceptTargetName: options.acceptTargetName,
    trustedRootVersion: trustedRoot.signed.version,
    maxRootRotations,
    maxAgeMs: options.maxAgeMs,
  });
  const fetcher = new DeadlineFetcher(options.deadline, {
    gun: options.gun,
    failures,
    token: options.token,
    transport: options.transport,
    metadataBaseUrl: options.metadataBaseUrl,
    ...(options.tagtrustServer === undefined ? {} : { tagtrustServer: options.tagtrustServer }),
    inspect: (file, bytes) => guard.checkDownload(file, bytes),
  });
  const updater = new Updater({
    metadataDir: options.dir,
    metadataBaseUrl: options.metadataBaseUrl,
    targetDir: options.targetDir,
    targetBaseUrl: options.targetBaseUrl,
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
  verifyEachDelegator(updater, options.gun);
  return { updater, guard, fetcher, failures };
}
