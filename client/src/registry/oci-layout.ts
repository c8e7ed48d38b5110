/**
 * Reading an OCI image layout (a directory with `oci-layout`, `index.json` and `blobs/sha256/`), as
 * written by `skopeo copy ... oci:DIR:tag`, buildah, `docker buildx --output type=oci`.
 *
 * Rules:
 * - Every blob read is hashed against its digest: a layout whose files do not match is refused.
 * - A manifest is chosen by its `org.opencontainers.image.ref.name` annotation; without a tag, the
 *   layout must hold exactly one manifest.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError, MismatchError } from '@tagtrust/shared';
import { MAX_MANIFEST_BYTES, isSha256Digest, mediaTypeFor, referencesOf, sha256Digest } from './manifest-format.js';
import type { Descriptor } from './manifest-format.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface LayoutManifest {
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

/** `DIR[:tag]` split into the directory and the tag (a colon followed by no `/`). */
export function parseLayoutSpec(spec: string): { dir: string; tag?: string } {
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && !spec.slice(colon + 1).includes('/') && spec.slice(colon + 1) !== '') return { dir: spec.slice(0, colon), tag: spec.slice(colon + 1) };
  return { dir: spec };
}

export class OciLayout {
  private constructor(
    readonly dir: string,
    private readonly entries: (Descriptor & { annotations?: Record<string, string> })[],
  ) {}

  /** @throws InvalidInputError when DIR is not an OCI image layout */
  static async open(dir: string): Promise<OciLayout> {
    let index: { manifests?: unknown };
    try {
      await readFile(join(dir, 'oci-layout'));
      index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
    } catch (err) {
      throw new InvalidInputError(`${dir} is not an OCI image layout (no readable oci-layout and index.json: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const entries = Array.isArray(index.manifests) ? (index.manifests as OciLayout['entries']) : [];
    return new OciLayout(dir, entries.filter((entry) => typeof entry?.digest === 'string' && isSha256Digest(entry.digest)));
  }

  /**
   * The manifest tagged `tag` in the layout (the only one when `tag` is undefined).
   * @throws InvalidInputError when there is no such manifest (or several without a tag)
   */
  async manifest(tag: string | undefined): Promise<LayoutManifest> {
    const matches = tag === undefined ? this.entries : this.entries.filter((entry) => entry.annotations?.[REF_NAME] === tag);
    if (matches.length !== 1) {
      const names = this.entries.map((entry) => entry.annotations?.[REF_NAME] ?? entry.digest).join(', ') || 'none';
      throw new InvalidInputError(
        tag === undefined
          ? `${this.dir} holds ${matches.length} manifests (${names}): name one as ${this.dir}:TAG`
          : `${this.dir} has no manifest tagged "${tag}" (it has: ${names})`,
      );
    }
    const entry = matches[0]!;
    const bytes = await this.blob(entry.digest, MAX_MANIFEST_BYTES);
    return { bytes, digest: entry.digest, size: bytes.length, mediaType: mediaTypeFor(bytes, entry.mediaType) };
  }

  /**
   * A blob's bytes, checked against its digest.
   * @throws InvalidInputError when missing or too large, MismatchError when the file has other bytes
   */
  async blob(digest: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
    const path = join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new InvalidInputError(`${this.dir} lacks blob ${digest} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): the layout is incomplete`);
    }
    if (bytes.length > maxBytes) throw new InvalidInputError(`${path} is ${bytes.length} bytes, more than a manifest may be`);
    if (sha256Digest(bytes) !== digest) throw new MismatchError(`${path} does not hash to ${digest}: the layout is corrupt; rebuild it`);
    return bytes;
  }

  /**
   * Everything a manifest needs in a registry, in push order (blobs and child manifests first, the
   * manifest itself last).
   */
  async closure(root: LayoutManifest): Promise<{ blobs: Descriptor[]; manifests: LayoutManifest[] }> {
    const blobs = new Map<string, Descriptor>();
    const manifests: LayoutManifest[] = [];
    const visit = async (manifest: LayoutManifest, depth: number) => {
      if (depth > 4) throw new InvalidInputError(`${this.dir}: manifests nested deeper than 4 levels`);
      const refs = referencesOf(manifest.bytes);
      for (const blob of refs.blobs) blobs.set(blob.digest, blob);
      for (const child of refs.manifests) {
        const bytes = await this.blob(child.digest, MAX_MANIFEST_BYTES);
        await visit({ bytes, digest: child.digest, size: bytes.length, mediaType: mediaTypeFor(bytes, child.mediaType) }, depth + 1);
      }
      manifests.push(manifest);
    };
    await visit(root, 0);
    return { blobs: [...blobs.values()], manifests };
  }
}
