/** Signing and unsigning tags: changes of the roles (or hashed bins) that hold them, one publish per call. */
import { InvalidInputError, UsageError, parseDigest, parseTaggedReference, targetName } from '@tagtrust/shared';
import type { TargetFileInfo } from '@tagtrust/shared';
import type { PublisherContext } from './context.js';
import type { TagChangesResult, TagEdit } from './tag-changes.js';
import { changeTags } from './tag-changes.js';
import type { ManyResult, PublishResult, RoleOptions, TagManifest, TagToSign } from './types.js';

/** Signs `<gun>:<tag>` -> manifest. A digest in the reference must match `manifest.digest` if both are given. */
export async function signTag(ctx: PublisherContext, reference: string, manifest: Partial<TagManifest> = {}, options: RoleOptions = {}): Promise<PublishResult> {
  return (await signTags(ctx, [{ reference, ...manifest }], options)).tags[0]!;
}

/**
 * Signs several tags of one collection in one publish: every role (or hashed bin) they go to is
 * re-signed and published at once, so all the tags land, or none.
 * @throws UsageError (tags of several collections, a tag given twice), InvalidInputError (digest, size),
 *   SubstitutionError (a tag outside its role's paths: nothing is published)
 */
export async function signTags(ctx: PublisherContext, tags: TagToSign[], options: RoleOptions = {}): Promise<ManyResult> {
  const parsed = tags.map((tag) => ({ tag, ...tagToSign(tag) }));
  const gun = oneCollection(parsed.map((p) => ({ reference: p.tag.reference, gun: p.gun })));
  const edits: TagEdit[] = parsed.map(({ name, entry }) => ({ name, entry, ...(options.role === undefined ? {} : { role: options.role }) }));
  const what = edits.length === 1 ? `signing ${edits[0]!.name}` : `signing ${edits.length} tags of ${gun}`;
  const result = await changeTags(ctx, gun, what, edits);
  return manyResult(gun, result, parsed.map(({ name, digest }) => ({ name, digest })));
}

/** Removes the signed mapping of `<gun>:<tag>`. @throws NotSignedError when it is not signed */
export async function unsignTag(ctx: PublisherContext, reference: string, options: RoleOptions = {}): Promise<PublishResult> {
  const parsed = parseTaggedReference(reference);
  const name = targetName(parsed.gun, parsed.tag);
  const result = await changeTags(ctx, parsed.gun, `unsigning ${name}`, [{ name, ...(options.role === undefined ? {} : { role: options.role }) }]);
  return manyResult(parsed.gun, result, [{ name }]).tags[0]!;
}

/**
 * The collection and target name of a tag to sign, and the entry that signs it.
 * @throws InvalidInputError when the digests disagree or the size is missing
 */
export function tagToSign(tag: TagToSign): { gun: string; name: string; digest: string; entry: TargetFileInfo } {
  const parsed = parseTaggedReference(tag.reference);
  const digest = parseDigest(tag.digest ?? parsed.digest ?? '');
  if (parsed.digest && tag.digest && parsed.digest !== tag.digest) {
    throw new InvalidInputError(`the reference says ${parsed.digest} but the manifest is ${tag.digest}: sign one digest`);
  }
  const size = tag.size;
  if (size === undefined || !Number.isSafeInteger(size) || size < 1) {
    throw new InvalidInputError(`signing ${tag.reference} needs the manifest size in bytes (--size N, or --manifest FILE), got ${size ?? 'none'}`);
  }
  const entry: TargetFileInfo = {
    length: size,
    hashes: { sha256: digest.slice('sha256:'.length) },
    ...(tag.mediaType ? { custom: { mediaType: tag.mediaType } } : {}),
  };
  return { gun: parsed.gun, name: targetName(parsed.gun, parsed.tag), digest, entry };
}

/** The one collection all references are in. @throws UsageError when they are in several */
export function oneCollection(refs: { reference: string; gun: string }[]): string {
  const first = refs[0];
  if (!first) throw new UsageError('no tag given');
  const other = refs.find((ref) => ref.gun !== first.gun);
  if (other) {
    throw new UsageError(`${first.reference} and ${other.reference} are in different collections (${first.gun}, ${other.gun}): one publish changes one collection; sign each collection's tags separately`);
  }
  return first.gun;
}

/** Per-tag results of a publish, in the order the tags were given. */
export function manyResult(gun: string, result: TagChangesResult, tags: { name: string; digest?: string }[]): ManyResult {
  const byRole = new Map(result.roles.map((role) => [role.role, role]));
  return {
    gun,
    roles: result.roles,
    attempts: result.attempts,
    tags: tags.map(({ name, digest }) => {
      const role = byRole.get(result.placed.get(name)!)!;
      return {
        reference: name,
        ...(digest === undefined ? {} : { digest }),
        role: role.role,
        targetsVersion: role.version,
        attempts: result.attempts,
        ...(role.pending ? { pending: role.pending } : {}),
      };
    }),
  };
}
