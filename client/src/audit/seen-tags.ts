/**
 * The puller's memory of immutable tags (docs/immutability.md): the digest of every tag it has
 * resolved or listed that the collection's signed policy covers. Metadata in which such a tag now
 * points elsewhere, or is gone, is refused even when validly signed, so a stolen targets or
 * delegate key cannot move a release tag under a puller that has seen it.
 *
 * Rules:
 * - Kept in `trust/<gun>/immutable-tags` (0600, atomic write) beside the trusted metadata; not a
 *   `.json` file, so an update's work copy does not carry it and `save` merges into the latest file
 *   (another process may have recorded tags meanwhile). Saved only when the whole update succeeded.
 * - Only tags the current policy covers are checked: a pattern the root approved dropping
 *   (shared/src/immutability.ts) stops protecting its tags.
 * - A first sighting is trusted (as TUF trusts the first root): the memory protects from then on.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import { ImmutableTagError } from '@tagtrust/shared';
import type { TagPolicy } from '@tagtrust/shared';

const FILE = 'immutable-tags';

interface SeenFile {
  tags: Record<string, string>;
}

async function readSeen(dir: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as SeenFile;
    return typeof parsed.tags === 'object' && parsed.tags !== null ? parsed.tags : {};
  } catch {
    return {};
  }
}

export class SeenImmutableTags {
  private readonly added = new Map<string, string>();

  private constructor(
    private readonly dir: string,
    private readonly gun: string,
    private readonly policy: TagPolicy,
    private readonly seen: Record<string, string>,
  ) {}

  /** The memory of the collection whose trusted state is in `dir`, checked against `policy`. */
  static async load(dir: string, gun: string, policy: TagPolicy): Promise<SeenImmutableTags> {
    return new SeenImmutableTags(dir, gun, policy, await readSeen(dir));
  }

  /**
   * Checks what verified metadata says of `tag` (its digest; undefined: not signed) against the memory.
   * @throws ImmutableTagError when an immutable tag seen before now has another digest or none
   */
  observe(tag: string, digest: string | undefined, targetsVersion: number): void {
    if (!this.policy.covers(tag)) return;
    const known = Object.hasOwn(this.seen, tag) ? this.seen[tag] : this.added.get(tag);
    if (known === undefined) {
      if (digest !== undefined) this.added.set(tag, digest);
      return;
    }
    if (known === digest) return;
    throw new ImmutableTagError(
      `${this.gun}:${tag} is immutable under the signed policy ${this.policy.patterns.join(', ')} and this client saw it signed for ${known}, ` +
        `but targets v${targetsVersion} ${digest ? `signs it for ${digest}` : 'no longer signs it'}: do not pull; a publisher key may be compromised, tell the publisher`,
    );
  }

  /** Checks a full listing: every remembered immutable tag must be in it, with its digest. */
  observeListing(tags: { tag: string; digest: string }[], targetsVersion: number): void {
    const listed = new Map(tags.map((t) => [t.tag, t.digest]));
    for (const tag of Object.keys(this.seen)) this.observe(tag, listed.get(tag), targetsVersion);
    for (const { tag, digest } of tags) this.observe(tag, digest, targetsVersion);
  }

  /** Records the tags first seen in this update (merged with the file as it is now). */
  async save(): Promise<void> {
    if (this.added.size === 0) return;
    const tags = { ...(await readSeen(this.dir)), ...Object.fromEntries(this.added) };
    await writeFileAtomic(join(this.dir, FILE), JSON.stringify({ tags }), 0o600);
    this.added.clear();
  }
}
