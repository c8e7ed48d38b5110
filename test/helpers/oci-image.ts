/**
 * Tiny container images built in the test as OCI image layouts (a few KB each): a gzipped tar layer
 * with one file, an image config, a manifest, and optionally a multi-arch index over several of them.
 * Each build adds a tag to the layout's index.json, so one layout can hold several tags.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface BuiltManifest {
  /** `oci:DIR:tag`, for skopeo. */
  source: string;
  tag: string;
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function writeBlob(dir: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { digest, size: bytes.length };
}

async function addTag(dir: string, tag: string, descriptor: { mediaType: string; digest: string; size: number }): Promise<void> {
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const indexPath = join(dir, 'index.json');
  const index = await readFile(indexPath, 'utf8')
    .then((text) => JSON.parse(text) as { manifests: { annotations?: Record<string, string> }[] })
    .catch(() => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as { annotations?: Record<string, string> }[] }));
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({ ...descriptor, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(indexPath, JSON.stringify(index));
}

/** A ustar archive holding one regular file. */
function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (text: string, offset: number, length: number) => header.write(text, offset, length, 'ascii');
  field(name, 0, 100);
  field('0000644\0', 100, 8);
  field('0000000\0', 108, 8);
  field('0000000\0', 116, 8);
  field(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  field('00000000000\0', 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** Builds a one-layer image whose file holds `content`, tagged `tag` in the layout `dir`. */
export async function buildImage(dir: string, tag: string, content: string, arch = 'amd64'): Promise<BuiltManifest> {
  const tar = tarWithFile('hello.txt', Buffer.from(content));
  const layer = await writeBlob(dir, gzipSync(tar));
  const config = await writeBlob(
    dir,
    Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } })),
  );
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  const { digest, size } = await writeBlob(dir, bytes);
  await addTag(dir, tag, { mediaType: OCI_MANIFEST, digest, size });
  return { source: `oci:${dir}:${tag}`, tag, bytes, digest, size, mediaType: OCI_MANIFEST };
}

/** Builds a multi-arch index over one image per architecture, tagged `tag`. */
export async function buildIndex(dir: string, tag: string, content: string, arches: string[]): Promise<BuiltManifest & { children: BuiltManifest[] }> {
  const children: BuiltManifest[] = [];
  for (const arch of arches) children.push(await buildImage(dir, `${tag}-${arch}`, `${content} for ${arch}`, arch));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((child, i) => ({ mediaType: OCI_MANIFEST, digest: child.digest, size: child.size, platform: { architecture: arches[i], os: 'linux' } })),
    }),
  );
  const { digest, size } = await writeBlob(dir, bytes);
  await addTag(dir, tag, { mediaType: OCI_INDEX, digest, size });
  return { source: `oci:${dir}:${tag}`, tag, bytes, digest, size, mediaType: OCI_INDEX, children };
}
