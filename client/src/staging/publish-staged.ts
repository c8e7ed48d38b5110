/**
 * `tagtrust publish`: every staged change of a collection in one publish (the path multi-tag
 * `sign` takes), dropped from the changelist only once the server has acknowledged the publish.
 */
import { parseGun, targetName } from '@tagtrust/shared';
import type { PublisherContext } from '../publishing/context.js';
import type { TagEdit } from '../publishing/tag-changes.js';
import { changeTags } from '../publishing/tag-changes.js';
import { manyResult } from '../publishing/tags.js';
import type { ManyResult } from '../publishing/types.js';
import { dropPublished, readChangelist } from './changelist.js';
import type { StagedChange } from './changelist.js';

export interface StagedPublishResult extends ManyResult {
  /** The staged changes the publish landed (and dropped from the changelist), in the order staged. */
  published: StagedChange[];
}

/**
 * Signs and publishes the staged changes of `gun` in one publish: all land, or none (and then all stay staged).
 * @returns an empty result when nothing is staged
 */
export async function publishStaged(ctx: PublisherContext, gunInput: string): Promise<StagedPublishResult> {
  const gun = parseGun(gunInput);
  const staged = await readChangelist(ctx.options.home, gun);
  if (staged.length === 0) return { gun, tags: [], roles: [], attempts: 0, published: [] };
  const edits: TagEdit[] = staged.map((change) => ({
    name: targetName(gun, change.tag),
    ...(change.action === 'sign'
      ? { entry: { length: change.size, hashes: { sha256: change.digest.slice('sha256:'.length) }, ...(change.mediaType ? { custom: { mediaType: change.mediaType } } : {}) } }
      : {}),
    ...(change.role === undefined ? {} : { role: change.role }),
  }));
  const result = await changeTags(ctx, gun, `publishing ${staged.length} staged changes of ${gun}`, edits);
  // Acknowledged (published, or proposed for approval): only now are they dropped; changes staged meanwhile stay.
  await dropPublished(ctx.options.home, gun, staged.map((change) => change.id));
  const tags = staged.map((change) => ({ name: targetName(gun, change.tag), ...(change.action === 'sign' ? { digest: change.digest } : {}) }));
  return { ...manyResult(gun, result, tags), published: staged };
}
