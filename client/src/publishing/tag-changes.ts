/**
 * Changes of several tags of one collection in one publish: each tag goes to the role it names,
 * else to the top-level targets or, in a collection with hashed bins, to its bin; every role that
 * changes is re-signed, and all of them are published at once (publish-changes.ts).
 */
import { NotSignedError, SubstitutionError, UsageError, isTargetInCollection } from '@tagtrust/shared';
import type { TargetFileInfo, TargetsSigned } from '@tagtrust/shared';
import { MAX_BIN_ENTRIES, binRoleFor, isBinRole, legacyBins, succinctBins } from '../bins.js';
import type { CollectionSession } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import type { ChangesResult, Rebin, RolePlan } from './publish-changes.js';
import { publishChanges } from './publish-changes.js';
import { loadRole } from './role-state.js';

/** One tag change: sign `name` -> `entry`, or (without `entry`) remove its signed mapping. */
export interface TagEdit {
  /** The target name, `<gun>:<tag>` as targetName() spells it. */
  name: string;
  /** The signed entry; absent to unsign. */
  entry?: TargetFileInfo;
  /** Change this role; absent: the top-level targets, or the tag's hashed bin. */
  role?: string;
}

export interface TagChangesResult extends ChangesResult {
  /** The role each tag was changed in, by target name. */
  placed: Map<string, string>;
}

/**
 * Publishes `edits` (tags of `gun`, each name at most once) in one publish: all land, or none.
 * @throws SubstitutionError when a tag is not of `gun`, or a tag to sign is outside its role's delegated paths (nothing is published),
 *   NotSignedError when a tag to unsign is not signed by its role
 */
export async function changeTags(ctx: PublisherContext, gun: string, what: string, edits: TagEdit[]): Promise<TagChangesResult> {
  const seen = new Set<string>();
  for (const { name } of edits) {
    // Callers build names from references of `gun`; a name of another collection would be signed into this one.
    if (!isTargetInCollection(name, gun)) throw new SubstitutionError(`${name} is not a tag of ${gun}: one publish changes one collection`);
    if (seen.has(name)) throw new UsageError(`${name} is given twice: change each tag once per publish`);
    seen.add(name);
  }
  if (edits.length === 0) throw new UsageError(`no tag to change in ${gun}`);
  const placed = new Map<string, string>();
  const planner = async (session: CollectionSession, mayRebin: boolean): Promise<RolePlan[] | Rebin> => {
    placed.clear();
    const groups = routeEdits(session.metadata.targets.signed, edits);
    const plans: RolePlan[] = [];
    for (const [role, group] of groups) {
      const routed = group.filter((edit) => edit.role === undefined);
      const signs = group.filter((edit) => edit.entry !== undefined).map((edit) => edit.name);
      const base = await loadRole(session, role, signs, ctx.targetsLifetimeMs, routed[0]?.name);
      const rebin = mayRebin ? rebinFor(ctx, gun, role, base.current, routed, session.metadata.targets.signed) : undefined;
      if (rebin) return rebin;
      for (const edit of group) placed.set(edit.name, role);
      plans.push({ role, base, change: (signed, changing) => applyEdits(signed, changing, group) });
    }
    return plans;
  };
  const unlockTargetsEarly = edits.some((edit) => (edit.role ?? 'targets') === 'targets');
  return { ...(await publishChanges(ctx, gun, what, planner, unlockTargetsEarly)), placed };
}

/** The edits grouped by the role each changes, in the order roles first appear. */
function routeEdits(top: TargetsSigned, edits: TagEdit[]): Map<string, TagEdit[]> {
  const groups = new Map<string, TagEdit[]>();
  for (const edit of edits) {
    // A tag the top-level targets itself signs (with --role targets) stays there: it shadows its bin.
    const role = edit.role ?? (edit.name in top.targets ? undefined : binRoleFor(top, edit.name)) ?? 'targets';
    const group = groups.get(role);
    if (group) group.push(edit);
    else groups.set(role, [edit]);
  }
  return groups;
}

/** A move to (more) hashed bins when the new tags routed here would overfill the role. */
function rebinFor(ctx: PublisherContext, gun: string, role: string, current: TargetsSigned, routed: TagEdit[], top: TargetsSigned): Rebin | undefined {
  const added = routed.filter((edit) => edit.entry !== undefined && !(edit.name in current.targets)).length;
  if (ctx.binsThreshold <= 0 || added === 0) return undefined;
  const entries = Object.keys(current.targets).length;
  if (role === 'targets' && entries + added > ctx.binsThreshold) {
    return { why: `${gun} holds ${entries} tags, over the hashed bins threshold of ${ctx.binsThreshold}`, options: { onlyIfFlat: true } };
  }
  if (isBinRole(role) && entries + added > MAX_BIN_ENTRIES) {
    const bitLength = succinctBins(top)?.bit_length ?? Math.log2(legacyBins(top).length || 1);
    return { why: `${role} of ${gun} holds ${entries} tags, over the ${MAX_BIN_ENTRIES} a bin should hold`, options: { minBitLength: bitLength + 1 } };
  }
  return undefined;
}

function applyEdits(signed: TargetsSigned, role: string, edits: TagEdit[]): TargetsSigned {
  const targets = { ...signed.targets };
  for (const { name, entry } of edits) {
    if (entry) {
      targets[name] = entry;
    } else {
      if (!(name in targets)) throw new NotSignedError(`${name} is not signed by ${role}, so there is nothing to remove`);
      delete targets[name];
    }
  }
  return { ...signed, targets };
}
