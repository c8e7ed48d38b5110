/**
 * Pushing an image from an OCI layout: blobs first, then child manifests by digest, then the manifest
 * under its tag. The manifest pushed is exactly the layout's bytes, and the registry must report the
 * same digest back; the caller then signs those bytes' digest and length.
 */
import { MismatchError } from '@tagtrust/shared';
import type { LayoutManifest, OciLayout } from './oci-layout.js';
import type { RegistryClient } from './registry-client.js';

export interface PushResult {
  manifest: LayoutManifest;
  blobs: number;
  manifests: number;
}

/** @throws MismatchError when the registry reports another digest for the pushed manifest */
export async function pushLayout(layout: OciLayout, manifest: LayoutManifest, client: RegistryClient, name: string, tag: string, signal: AbortSignal): Promise<PushResult> {
  const { blobs, manifests } = await layout.closure(manifest);
  for (const blob of blobs) await client.pushBlob(name, blob.digest, await layout.blob(blob.digest), { signal });
  for (const child of manifests.slice(0, -1)) await checkedPush(client, name, child.digest, child, signal);
  await checkedPush(client, name, tag, manifest, signal);
  return { manifest, blobs: blobs.length, manifests: manifests.length };
}

async function checkedPush(client: RegistryClient, name: string, reference: string, manifest: LayoutManifest, signal: AbortSignal): Promise<void> {
  const reported = await client.pushManifest(name, reference, manifest.bytes, manifest.mediaType, { signal });
  if (reported !== manifest.digest) {
    throw new MismatchError(`${client.url}/v2/${name}/manifests/${reference}: the registry stored the manifest as ${reported}, not ${manifest.digest}; nothing was signed`);
  }
}
