/**
 * The JSONPatch (RFC 6902) the webhook returns: each verified image replaced by `<name>@sha256:<hex>`,
 * and the pod's `tagtrust.dev/signed-tags` annotation, which records the tag each pinned image was
 * verified for. Pods that a Deployment (or any controller) creates from a pinned template carry
 * that annotation, so their digest-only images are checked against the same tag again; the record
 * is only a hint of which tag to check, so a forged one gains nothing.
 */
import type { JsonPatchOperation } from './review.js';
import { isObject } from './review.js';
import { pointer } from './workloads.js';

export const SIGNED_TAGS_ANNOTATION = 'tagtrust.dev/signed-tags';

/** Pinned image (`<name>@sha256:<hex>`) -> the tagged reference it was verified for (`<name>:<tag>`). */
export type SignedTags = Record<string, string>;

/** The record in a pod's metadata; malformed or missing records are empty. */
export function signedTagsOf(metadata: Record<string, unknown> | undefined): SignedTags {
  const annotations = metadata?.annotations;
  const text = isObject(annotations) ? annotations[SIGNED_TAGS_ANNOTATION] : undefined;
  if (typeof text !== 'string' || text.length > 65_536) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed)) return {};
    const tags: SignedTags = {};
    for (const [image, reference] of Object.entries(parsed)) if (typeof reference === 'string') tags[image] = reference;
    return tags;
  } catch {
    return {};
  }
}

export interface ImageReplacement {
  /** JSON Pointer to the container's `image`. */
  path: string;
  image: string;
}

/**
 * The operations that set the images and the annotation.
 * @param record the annotation value the pod should carry (sorted here); omitted when unchanged
 */
export function buildPatch(
  replacements: readonly ImageReplacement[],
  metadataPath: readonly string[],
  metadata: Record<string, unknown> | undefined,
  record: SignedTags,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = replacements.map(({ path, image }) => ({ op: 'replace', path, value: image }));
  const value = JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const annotations = metadata?.annotations;
  const current = isObject(annotations) ? annotations[SIGNED_TAGS_ANNOTATION] : undefined;
  if (Object.keys(record).length === 0 && current === undefined) return operations;
  if (current === value) return operations;
  if (metadata === undefined) {
    operations.push({ op: 'add', path: pointer(metadataPath), value: { annotations: { [SIGNED_TAGS_ANNOTATION]: value } } });
  } else if (!isObject(annotations)) {
    operations.push({ op: 'add', path: pointer([...metadataPath, 'annotations']), value: { [SIGNED_TAGS_ANNOTATION]: value } });
  } else {
    operations.push({ op: 'add', path: pointer([...metadataPath, 'annotations', SIGNED_TAGS_ANNOTATION]), value });
  }
  return operations;
}
