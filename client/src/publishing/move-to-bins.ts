/**
 * Moving a collection into hashed bins (TAP 15 succinct_roles; docs/delegations.md, "Hashed
 * bins"), or re-binning a binned one: the top-level targets and every bin of the new layout in
 * one atomic publish, so every tag keeps resolving.
 */
import { generateKeyPair, keyIdOf } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { KeyNotFoundError, UsageError, VersionConflictError, binRoleForTarget, binRoleNames, buildTargets, carryPolicy, expiresAfter } from '@tagtrust/shared';
import type { Metadata, SuccinctRolesInfo, TargetFileInfo, TargetsSigned, TufKey } from '@tagtrust/shared';
import { BIN_KEY_NAME, BIN_NAME_PREFIX, bitLengthOf, defaultBitLength, legacyBins, succinctBins } from '../bins.js';
import { signBuilt } from '../sign-built.js';
import { recordPublishedTargets, withTrustedCollection } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import { backOff, serverApi, sessionContext, withDeadline } from './context.js';
import type { BinsOptions, BinsResult } from './types.js';

export interface BinMoveOptions extends BinsOptions {
  /** Refuse ("already uses hashed bins") when the collection has bins. */
  onlyIfFlat?: boolean;
  /** Use at least this many bits; refuse ("already uses hashed bins") when the collection's succinct bins already have that many. */
  minBitLength?: number;
}

/**
 * Moves `gun` into hashed bins, or re-bins it (Publisher.enableBins, and the automatic moves of `sign`).
 * @throws UsageError when the collection already uses that layout, delegates explicit roles, or its
 *   targets role needs several signatures
 */
export async function moveToBins(ctx: PublisherContext, gun: string, options: BinMoveOptions): Promise<BinsResult> {
  const requested = options.bins === undefined ? undefined : bitLengthOf(options.bins);
  return withDeadline(ctx, `moving ${gun} to hashed bins`, async (deadline) => {
    const api = serverApi(ctx, deadline);
    let pair: KeyPair | undefined;
    let keyFile: string | undefined;
    for (let attempt = 1; ; attempt += 1) {
      const state = await withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => {
        const current = session.metadata.targets.signed;
        const succinct = succinctBins(current);
        const legacy = legacyBins(current);
        const binned = succinct !== undefined || legacy.length > 0;
        if (binned && (options.onlyIfFlat || (succinct && options.minBitLength !== undefined && succinct.bit_length >= options.minBitLength))) {
          throw new UsageError(`${gun} already uses hashed bins (${succinct ? 2 ** succinct.bit_length : legacy.length})`);
        }
        const explicit = (current.delegations?.roles ?? []).filter((r) => !legacy.includes(r));
        if (explicit.length > 0) {
          throw new UsageError(
            `${gun} delegates ${explicit.map((r) => r.name).join(', ')}: hashed bins (TUF succinct_roles) cannot sit beside explicit delegations in the top-level targets; remove them first (\`tagtrust delegation remove\`)`,
          );
        }
        // Every tag the collection signs: its bins' (all verified), then the top-level targets' (which shadow them).
        const tags: Record<string, TargetFileInfo> = {};
        if (binned) {
          const tree = await session.delegations();
          for (const { role, status } of tree.views()) {
            if (status.state === 'invalid') {
              throw new UsageError(`bin ${role} of ${gun} does not verify (${status.error.message}): re-binning would drop its tags; re-sign it first`);
            }
            if (status.state === 'trusted') Object.assign(tags, status.metadata.signed.targets);
          }
        }
        Object.assign(tags, current.targets);
        return { metadata: session.metadata, tags, succinct, oldKeyIds: succinct?.keyids ?? legacy[0]?.keyids };
      });
      const { metadata, tags } = state;
      const current = metadata.targets.signed;
      const names = Object.keys(tags);
      const bits = requested ?? (options.newKey && state.succinct ? state.succinct.bit_length : Math.max(defaultBitLength(names.length), options.minBitLength ?? 0));
      if (state.succinct?.bit_length === bits && Object.keys(current.targets).length === 0 && !options.newKey) {
        throw new UsageError(`${gun} already uses hashed bins (${2 ** bits}): give another --bins to re-bin it`);
      }
      const targetsKeys = metadata.root.signed.roles.targets;
      if (targetsKeys.threshold > 1) throw new UsageError(`the targets role of ${gun} needs ${targetsKeys.threshold} signatures: moving to bins needs a single-signature targets role`);
      if (options.key && (names.length > 0 || state.oldKeyIds)) {
        throw new UsageError(
          `${gun} ${names.length > 0 ? `has ${names.length} tags to move into bins` : 'already has bins'}: they must be signed with a bin key in this home (leave out the bin key)`,
        );
      }
      const targetsKey = await ctx.keys.unlock(targetsKeys.keyids, 'targets', gun);
      if (!options.key && !pair) {
        // Re-binning keeps the bin key when this home holds it; otherwise (and for a first move) a new one.
        if (state.oldKeyIds && !options.newKey) pair = await ctx.keys.unlock(state.oldKeyIds, BIN_KEY_NAME, gun).catch(ignoreMissingKey);
        if (!pair) {
          pair = await generateKeyPair();
          keyFile = await ctx.keys.add(pair, { role: BIN_KEY_NAME, name: BIN_KEY_NAME, gun });
        }
      }
      const given = options.key ?? pair!.publicKey;
      const publicKey: TufKey = { keytype: given.keytype, scheme: given.scheme, keyval: { public: given.keyval.public } };
      const keyId = keyIdOf(publicKey);
      const expires = expiresAfter(new Date(), ctx.targetsLifetimeMs);
      const layout: SuccinctRolesInfo = { keyids: [keyId], threshold: 1, bit_length: bits, name_prefix: BIN_NAME_PREFIX };
      const signed = carryPolicy(current, buildTargets(current.version + 1, expires, {}));
      signed.delegations = { keys: { [keyId]: publicKey }, succinct_roles: layout };
      const body: Record<string, Metadata> = { targets: signBuilt(signed, [targetsKey]) };
      if (pair) {
        // Every bin of the layout, empty ones too: a bin name an older layout used must not keep its old tags.
        const contents = new Map<string, Record<string, TargetFileInfo>>(binRoleNames(layout).map((role) => [role, {}]));
        for (const name of names) contents.get(binRoleForTarget(layout, name))![name] = tags[name]!;
        for (const [role, targets] of contents) {
          const version = (metadata.snapshot.signed.meta[`${role}.json`]?.version ?? 0) + 1;
          body[role] = signBuilt(buildTargets(version, expires, targets), [pair], role);
        }
      }
      try {
        await api.publish(gun, body);
        for (const [role, published] of Object.entries(body)) {
          await recordPublishedTargets(ctx.options.home, gun, published as Metadata<TargetsSigned>, role);
        }
        return { gun, bins: 2 ** bits, moved: names.length, keyId, ...(keyFile ? { keyFile } : {}), targetsVersion: signed.version, attempts: attempt };
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= ctx.maxAttempts) throw err;
        await backOff(attempt);
      }
    }
  });
}

/** For an optional key: undefined when this home does not hold it. */
function ignoreMissingKey(err: unknown): undefined {
  if (err instanceof KeyNotFoundError) return undefined;
  throw err;
}
