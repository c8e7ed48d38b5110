/**
 * The tag-log part of a publish, called by Repository.publish under the collection lock: derives
 * the publish's tag changes, enforces signed immutability (immutability-guard.ts: no covered tag
 * moved or removed in a role; resolution-guard.ts: every covered tag still resolves to its digest
 * through the delegations), and prepares the log append and the head the new timestamp signs. A
 * refused publish is recorded in the audit trail (action `refused`) before the error goes back to
 * the publisher.
 */
import { ImmutableTagError, PolicyWeakenedError, TagPolicy, immutablePolicy } from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetsSigned } from '@tagtrust/shared';
import type { AuditEntry, MetadataStore } from '../storage/store.js';
import { checkImmutability, tagsToLookUp } from './immutability-guard.js';
import { checkImmutableTagsResolve } from './resolution-guard.js';
import { roleTagChanges } from './role-changes.js';
import type { PublishedRole } from './role-changes.js';
import { TagLog } from './tag-log.js';
import type { PreparedAppend } from './tag-log.js';

export interface PublishLogInput {
  gun: string;
  actor: string;
  now: Date;
  targetsBefore: TargetsSigned | undefined;
  /** The top-level targets trusted after the publish (undefined: the collection has none). */
  targetsAfter: TargetsSigned | undefined;
  root: RootSigned;
  roles: PublishedRole[];
  /** The latest stored version of a delegated role or bin (to check that immutable tags still resolve). */
  loadStored: (role: string) => Promise<Metadata<TargetsSigned> | undefined>;
}

export interface PublishLog extends PreparedAppend {
  /** The immutability policy change this publish makes, for its audit entry. */
  policy?: AuditEntry['policy'];
}

/** @throws ImmutableTagError, PolicyWeakenedError (after recording the refusal) */
export async function preparePublishLog(log: TagLog, store: MetadataStore, input: PublishLogInput): Promise<PublishLog> {
  const { gun, targetsBefore, targetsAfter, roles } = input;
  const { changes, relocated } = roleTagChanges(gun, roles);
  if (targetsAfter) {
    try {
      const recorded = await log.recorded(gun, tagsToLookUp(targetsAfter, changes));
      checkImmutability({ gun, targetsBefore, targetsAfter, root: input.root, changes, recorded });
      const policy = TagPolicy.of(targetsAfter);
      if (targetsBefore && !policy.isEmpty) {
        const touchedTags = [...new Set([...changes, ...relocated].map((c) => c.tag))];
        await checkImmutableTagsResolve({ gun, policy, targetsBefore, targetsAfter, roles, touchedTags, loadStored: input.loadStored });
      }
    } catch (err) {
      if (err instanceof ImmutableTagError || err instanceof PolicyWeakenedError) {
        await store.appendAudit(gun, { time: input.now.toISOString(), actor: input.actor, action: 'refused', refusal: { code: err.code, message: err.message } });
      }
      throw err;
    }
  }
  const prepared = await log.prepare(gun, TagLog.leavesOf(changes, input.now.toISOString()));
  const from = immutablePolicy(targetsBefore);
  const to = immutablePolicy(targetsAfter);
  const policyChanged = targetsAfter !== targetsBefore && (from.length !== to.length || from.some((p, i) => p !== to[i]));
  return policyChanged ? { ...prepared, policy: { from, to } } : prepared;
}
