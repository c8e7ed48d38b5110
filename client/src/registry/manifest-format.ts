/**
 * What the registry code needs to know about OCI / Docker manifests: their media types, their size
 * cap, their digest, and the descriptors they reference (an index's child manifests; an image's
 * config and layers).
 */
import { createHash } from 'node:crypto';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** Sent as Accept on every manifest request, so the registry serves each manifest as pushed. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

/** The distribution registry's own limit for a manifest (4 MiB); larger answers are refused unread. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

export const isSha256Digest = (text: string): boolean => SHA256_DIGEST.test(text);

export const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
}

export interface ManifestReferences {
  /** Manifests an index or list points to. */
  manifests: Descriptor[];
  /** Blobs an image manifest points to: its config and layers. */
  blobs: Descriptor[];
}

/** The manifest's own `mediaType` field, when it is JSON and has one. */
export function declaredMediaType(bytes: Uint8Array): string | undefined {
  const parsed = parse(bytes);
  return typeof parsed?.mediaType === 'string' ? parsed.mediaType : undefined;
}

/** The media type to serve a manifest with: the signed one, else the manifest's own, else OCI's. */
export function mediaTypeFor(bytes: Uint8Array, signed?: string): string {
  return signed ?? declaredMediaType(bytes) ?? (parse(bytes)?.manifests ? OCI_INDEX : OCI_MANIFEST);
}

/** The sha256 descriptors a manifest references; anything else in it is ignored. */
export function referencesOf(bytes: Uint8Array): ManifestReferences {
  const parsed = parse(bytes);
  const descriptors = (value: unknown): Descriptor[] =>
    Array.isArray(value) ? value.filter((d): d is Descriptor => isDescriptor(d)) : isDescriptor(value) ? [value] : [];
  return {
    manifests: descriptors(parsed?.manifests),
    blobs: [...descriptors(parsed?.config), ...descriptors(parsed?.layers)],
  };
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  return typeof d === 'object' && d !== null && typeof d.digest === 'string' && isSha256Digest(d.digest) && Number.isSafeInteger(d.size) && d.size! >= 0;
}

function parse(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
