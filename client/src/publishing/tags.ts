/** Signing and unsigning one tag: a change of the role (or hashed bin) that holds it. */
import { InvalidInputError, NotSignedError, parseDigest, parseTaggedReference, targetName } from '@tagtrust/shared';
import type { TargetFileInfo } from '@tagtrust/shared';
import { changeRole } from './change-role.js';
import type { PublisherContext } from './context.js';
import type { PublishResult, RoleOptions, TagManifest } from './types.js';

/** Signs `<gun>:<tag>` -> manifest. A digest in the reference must match `manifest.digest` if both are given. */
export async function signTag(ctx: PublisherContext, reference: string, manifest: Partial<TagManifest> = {}, options: RoleOptions = {}): Promise<PublishResult> {
  const parsed = parseTaggedReference(reference);
  const digest = parseDigest(manifest.digest ?? parsed.digest ?? '');
  if (parsed.digest && manifest.digest && parsed.digest !== manifest.digest) {
    throw new InvalidInputError(`the reference says ${parsed.digest} but the manifest is ${manifest.digest}: sign one digest`);
  }
  const size = manifest.size;
  if (size === undefined || !Number.isSafeInteger(size) || size < 1) {
    throw new InvalidInputError(`signing ${reference} needs the manifest size in bytes (--size N, or --manifest FILE), got ${size ?? 'none'}`);
  }
  const name = targetName(parsed.gun, parsed.tag);
  const entry: TargetFileInfo = {
    length: size,
    hashes: { sha256: digest.slice('sha256:'.length) },
    ...(manifest.mediaType ? { custom: { mediaType: manifest.mediaType } } : {}),
  };
  const result = await changeRole(
    ctx,
    parsed.gun,
    options.role ?? 'targets',
    `signing ${name}`,
    (signed) => ({ ...signed, targets: { ...signed.targets, [name]: entry } }),
    [name],
    options.role === undefined ? name : undefined,
  );
  return { reference: name, digest, role: result.role, targetsVersion: result.version, attempts: result.attempts, ...(result.pending ? { pending: result.pending } : {}) };
}

/** Removes the signed mapping of `<gun>:<tag>`. @throws NotSignedError when it is not signed */
export async function unsignTag(ctx: PublisherContext, reference: string, options: RoleOptions = {}): Promise<PublishResult> {
  const parsed = parseTaggedReference(reference);
  const name = targetName(parsed.gun, parsed.tag);
  const result = await changeRole(
    ctx,
    parsed.gun,
    options.role ?? 'targets',
    `unsigning ${name}`,
    (signed, role) => {
      if (!(name in signed.targets)) throw new NotSignedError(`${name} is not signed by ${role}, so there is nothing to remove`);
      const { [name]: _removed, ...rest } = signed.targets;
      return { ...signed, targets: rest };
    },
    [],
    options.role === undefined ? name : undefined,
  );
  return { reference: name, role: result.role, targetsVersion: result.version, attempts: result.attempts, ...(result.pending ? { pending: result.pending } : {}) };
}
