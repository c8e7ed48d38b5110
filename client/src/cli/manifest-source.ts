/** Where `tagtrust sign` gets the manifest digest, size and media type of the tags it signs. */
import { UsageError } from '@tagtrust/shared/errors';
import type { Values } from './command.js';
import { registryFromFlags } from './registry-options.js';

export interface ManifestFacts {
  digest?: string;
  size?: number;
  mediaType?: string;
}

/** Digest, size and media type from the flag that names the manifest (--manifest, --oci-layout, --digest [--size]). */
export async function manifestFromFlags(gun: string, values: Values, note: (line: string) => void): Promise<ManifestFacts> {
  if (values.manifest) return (await import('../publishing/manifest-file.js')).describeManifest(values.manifest as string);
  if (values['oci-layout']) {
    const { OciLayout, parseLayoutSpec } = await import('../registry/oci-layout.js');
    const { dir, tag } = parseLayoutSpec(values['oci-layout'] as string);
    return (await OciLayout.open(dir)).manifest(tag);
  }
  const digest = values.digest as string;
  if (values.size !== undefined) return { digest, size: parseSize(values.size as string) };
  return (await registryLookup(gun, values, note))(digest);
}

/**
 * Reads manifests from the collection's registry by digest (never by tag: a tag can move between
 * the look-up and the signature); each digest is read once.
 */
export async function registryLookup(gun: string, values: Values, note: (line: string) => void): Promise<(digest: string) => Promise<ManifestFacts>> {
  const { isSha256Digest, mediaTypeFor } = await import('../registry/manifest-format.js');
  const registry = await registryFromFlags(gun, values);
  const read = new Map<string, Promise<ManifestFacts>>();
  return (digest) => {
    if (!isSha256Digest(digest)) throw new UsageError(`--digest "${digest}" must be sha256:<64 lowercase hex>`);
    let facts = read.get(digest);
    if (!facts) {
      facts = registry.client.manifestByDigest(registry.name, digest, { signal: registry.signal }).then((fetched) => {
        const mediaType = mediaTypeFor(fetched.bytes, fetched.contentType);
        note(`Read ${registry.client.url}/v2/${registry.name}/manifests/${digest}: ${fetched.bytes.length} bytes, ${mediaType}`);
        return { digest, size: fetched.bytes.length, mediaType };
      });
      read.set(digest, facts);
    }
    return facts;
  };
}

function parseSize(text: string): number {
  const size = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(size) || size < 1) throw new UsageError(`--size "${text}" must be the manifest size in bytes`);
  return size;
}
