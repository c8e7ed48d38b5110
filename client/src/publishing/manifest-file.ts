/** Digest, size and media type of a manifest file you built. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '@tagtrust/shared';
import type { TagManifest } from './types.js';

/** Digest and size of a manifest file, so you sign exactly the bytes you built. */
export async function describeManifest(path: string): Promise<TagManifest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InvalidInputError(`cannot read manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const mediaType = manifestMediaType(bytes);
  return {
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    ...(mediaType ? { mediaType } : {}),
  };
}

function manifestMediaType(bytes: Buffer): string | undefined {
  try {
    const mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mediaType === 'string' ? mediaType : undefined;
  } catch {
    return undefined;
  }
}
