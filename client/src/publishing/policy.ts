/** The signed immutability policy of a collection (docs/immutability.md). */
import { IMMUTABLE_FIELD, InvalidInputError, MAX_IMMUTABLE_PATTERNS, immutablePatternProblem, immutablePolicy, parseGun } from '@tagtrust/shared';
import type { RootChanges } from '../root-changes.js';
import { withTrustedCollection } from '../tuf/trusted-collection.js';
import { changeRole } from './change-role.js';
import type { PublisherContext } from './context.js';
import { sessionContext, withDeadline } from './context.js';
import type { PolicyResult } from './types.js';

/**
 * Sets the policy: tag patterns whose tags never move once signed. Adding patterns is signed by the
 * targets key; dropping any needs root N+1 approving the new policy, signed by the root keys this home holds.
 * @throws InvalidInputError for a bad pattern; UsageError when dropping patterns without the root keys
 */
export async function setImmutablePolicy(ctx: PublisherContext, rootChanges: RootChanges, gunInput: string, patterns: string[]): Promise<PolicyResult> {
  const gun = parseGun(gunInput);
  const problem = patterns.map(immutablePatternProblem).find((p) => p !== undefined);
  if (problem) throw new InvalidInputError(`--immutable ${problem}`);
  if (patterns.length > MAX_IMMUTABLE_PATTERNS) throw new InvalidInputError(`at most ${MAX_IMMUTABLE_PATTERNS} immutable patterns, got ${patterns.length}`);
  const wanted = [...new Set(patterns)];
  const dropped = (await readImmutablePolicy(ctx, gun)).filter((p) => !wanted.includes(p));
  if (dropped.length > 0) {
    const result = await rootChanges.changePolicy(gun, wanted);
    return { gun, immutable: wanted, dropped, targetsVersion: result.published?.targets, rootVersion: result.published?.root };
  }
  const result = await changeRole(ctx, gun, 'targets', `setting the immutability policy of ${gun}`, (signed) => ({ ...signed, [IMMUTABLE_FIELD]: wanted }));
  return { gun, immutable: wanted, dropped, targetsVersion: result.version };
}

/** The verified immutability policy of a collection (its tag patterns; empty when it has none). */
export async function readImmutablePolicy(ctx: PublisherContext, gunInput: string): Promise<string[]> {
  const gun = parseGun(gunInput);
  return withDeadline(ctx, `reading the immutability policy of ${gun}`, (deadline) =>
    withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => immutablePolicy(session.metadata.targets.signed)),
  );
}
