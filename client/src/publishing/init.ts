/** Creating a collection: its root and targets keys, root v1 and an empty targets v1. */
import { generateKeyPair, keyIdOf } from '@tagtrust/keys';
import { UsageError, VersionConflictError, buildRoot, buildTargets, expiresAfter, parseGun } from '@tagtrust/shared';
import { signBuilt } from '../sign-built.js';
import { trustRoot } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import { serverApi, withDeadline } from './context.js';
import type { InitOptions, InitResult } from './types.js';

/**
 * Creates a collection: new root and targets keys (kept encrypted in this home), root v1 listing
 * the server's online snapshot/timestamp keys, and an empty targets v1.
 * @throws VersionConflictError when the collection exists already
 */
export async function initCollection(ctx: PublisherContext, gunInput: string, options: InitOptions = {}): Promise<InitResult> {
  const gun = parseGun(gunInput);
  const rootKeys = options.rootKeys ?? 1;
  const rootThreshold = options.rootThreshold ?? 1;
  if (!Number.isInteger(rootKeys) || rootKeys < 1 || rootKeys > 10) throw new UsageError(`--root-keys must be 1 to 10, got ${rootKeys}`);
  if (options.rootKeyId && rootKeys !== 1) throw new UsageError('--root-key reuses one root key: it cannot be combined with --root-keys');
  if (!Number.isInteger(rootThreshold) || rootThreshold < 1 || rootThreshold > rootKeys) {
    throw new UsageError(`--root-threshold must be 1 to ${rootKeys} (the number of root keys), got ${rootThreshold}`);
  }
  return withDeadline(ctx, `initialising ${gun}`, async (deadline) => {
    const api = serverApi(ctx, deadline);
    // The online keys need push rights, so a token without scope is refused before anything else.
    const [snapshotKey, timestampKey] = await Promise.all([api.getOnlineKey(gun, 'snapshot'), api.getOnlineKey(gun, 'timestamp')]);
    // Refuse before creating any key file: an existing collection keeps its keys.
    const existing = await api.latestRootVersion(gun);
    if (existing !== undefined) throw alreadyExists(gun, existing);
    const rootPairs = options.rootKeyId
      ? [await ctx.keys.unlock([await ctx.keys.resolveKeyId(options.rootKeyId)], 'root', gun)]
      : await Promise.all(Array.from({ length: rootKeys }, () => generateKeyPair(options.algorithm)));
    const targetsPair = await generateKeyPair(options.algorithm);
    const keyFiles: string[] = [];
    if (!options.rootKeyId) for (const pair of rootPairs) keyFiles.push(await ctx.keys.add(pair, { role: 'root', gun }));
    keyFiles.push(await ctx.keys.add(targetsPair, { role: 'targets', gun }));
    const now = new Date();
    const one = (key: typeof snapshotKey) => ({ keys: { [keyIdOf(key)]: key }, threshold: 1 });
    const root = signBuilt(
      buildRoot({
        version: 1,
        expires: expiresAfter(now, ctx.rootLifetimeMs),
        keys: {
          root: { keys: Object.fromEntries(rootPairs.map((p) => [p.keyId, p.publicKey])), threshold: rootThreshold },
          targets: one(targetsPair.publicKey),
          snapshot: one(snapshotKey),
          timestamp: one(timestampKey),
        },
      }),
      rootPairs,
    );
    const targets = signBuilt(buildTargets(1, expiresAfter(now, ctx.targetsLifetimeMs)), [targetsPair]);
    try {
      await api.publish(gun, { root, targets });
    } catch (err) {
      if (err instanceof VersionConflictError) throw alreadyExists(gun, err.currentVersion, err);
      throw err;
    }
    await trustRoot(ctx.options.home, gun, root);
    const rootKeyIds = rootPairs.map((p) => p.keyId);
    return { gun, rootKeyId: rootKeyIds[0]!, rootKeyIds, rootThreshold, targetsKeyId: targetsPair.keyId, keyFiles };
  });
}

function alreadyExists(gun: string, rootVersion: number, cause?: unknown): UsageError {
  return new UsageError(`collection ${gun} already exists (root v${rootVersion}): sign tags into it, or pick another name`, { cause });
}
