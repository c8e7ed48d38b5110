/**
 * Where the images of each workload kind live: a Pod's own spec, the pod template of the
 * controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job) and the
 * job template's pod template of a CronJob. Paths are JSON Pointers (RFC 6901) into the object, as
 * JSONPatch uses them.
 */
import { InvalidInputError } from '@tagtrust/shared';
import type { GroupVersionKind } from './review.js';
import { isObject } from './review.js';

/** The container lists of a pod spec, in the order they are reported. */
export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

/** Where a kind keeps its pod: the pod spec and the metadata that goes with it (as path segments). */
interface PodLocation {
  spec: string[];
  metadata: string[];
}

const TEMPLATE: PodLocation = { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'] };

const WORKLOADS: Record<string, PodLocation> = {
  '/v1/Pod': { spec: ['spec'], metadata: ['metadata'] },
  '/v1/ReplicationController': TEMPLATE,
  'apps/v1/Deployment': TEMPLATE,
  'apps/v1/StatefulSet': TEMPLATE,
  'apps/v1/DaemonSet': TEMPLATE,
  'apps/v1/ReplicaSet': TEMPLATE,
  'batch/v1/Job': TEMPLATE,
  'batch/v1/CronJob': {
    spec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
    metadata: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'],
  },
};

/** The kinds the webhook checks, as `group/version/kind` (core group empty). */
const SUPPORTED_KINDS = Object.keys(WORKLOADS);

export interface ContainerImage {
  list: ContainerList;
  /** The container's name (for messages). */
  container: string;
  image: string;
  /** JSON Pointer to the `image` field. */
  path: string;
}

export interface PodTemplate {
  /** JSON Pointer segments to the pod's metadata (it may not exist in the object). */
  metadataPath: string[];
  metadata?: Record<string, unknown>;
  images: ContainerImage[];
}

const kindKey = (kind: GroupVersionKind) => `${kind.group}/${kind.version}/${kind.kind}`;

/**
 * The pod of a workload object and every image in it (containers without an image are skipped: the
 * API server refuses them for Pods, and controllers fill nothing in).
 * @throws InvalidInputError for an unsupported kind or a container list that is not a list of objects
 */
export function podTemplateOf(kind: GroupVersionKind, object: Record<string, unknown>): PodTemplate {
  const location = WORKLOADS[kindKey(kind)];
  if (!location) {
    throw new InvalidInputError(
      `the webhook does not check ${describeKind(kind)}: it checks ${SUPPORTED_KINDS.map((k) => k.replace(/^\//, '')).join(', ')}; ` +
        'fix the rules of the MutatingWebhookConfiguration',
    );
  }
  const where = `the ${kind.kind}'s`;
  const spec = walk(object, location.spec, where);
  const metadata = walk(object, location.metadata, where);
  const images: ContainerImage[] = [];
  if (spec !== undefined) {
    for (const list of CONTAINER_LISTS) {
      const containers = spec[list];
      if (containers === undefined || containers === null) continue;
      if (!Array.isArray(containers)) throw new InvalidInputError(`${where} ${pointer([...location.spec, list])} is not a list`);
      containers.forEach((container: unknown, index) => {
        if (!isObject(container)) throw new InvalidInputError(`${where} ${pointer([...location.spec, list, String(index)])} is not an object`);
        const image = container.image;
        if (image === undefined || image === null || image === '') return;
        if (typeof image !== 'string') throw new InvalidInputError(`${where} ${pointer([...location.spec, list, String(index), 'image'])} is not a string`);
        const name = typeof container.name === 'string' ? container.name : `#${index}`;
        images.push({ list, container: name, image, path: pointer([...location.spec, list, String(index), 'image']) });
      });
    }
  }
  return { metadataPath: location.metadata, ...(metadata ? { metadata } : {}), images };
}

function describeKind(kind: GroupVersionKind): string {
  return kind.group === '' ? `${kind.version}/${kind.kind}` : `${kind.group}/${kind.version}/${kind.kind}`;
}

/** A JSON Pointer from path segments (RFC 6901 escaping). */
export function pointer(segments: readonly string[]): string {
  return segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function walk(object: Record<string, unknown>, segments: readonly string[], where: string): Record<string, unknown> | undefined {
  let node: unknown = object;
  for (const segment of segments) {
    if (!isObject(node)) return undefined;
    node = node[segment];
  }
  if (node === undefined || node === null) return undefined;
  if (!isObject(node)) throw new InvalidInputError(`${where} ${pointer(segments)} is not an object`);
  return node;
}
