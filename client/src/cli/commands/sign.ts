/** `tagtrust sign` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command, Output, Values } from '../command.js';
import { publisher } from '../command.js';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryFromFlags } from '../registry-options.js';

export const signCommand: Command = {
  name: 'sign',
  usage:
    'tagtrust sign <gun>:<tag>[@sha256:<hex>] (--digest sha256:<hex> [--size <bytes>] | --manifest FILE | --oci-layout DIR[:tag]) [--media-type TYPE] [--role targets/NAME]',
  summary: 'sign a tag -> manifest digest mapping and publish it',
  details: `--manifest computes digest and size from the manifest file you built, so you sign exactly those bytes.
--oci-layout does the same for a manifest in an OCI image layout (DIR:tag names it; without a tag the layout must hold one).
--digest without --size reads the manifest from the registry by that digest (never by tag: a tag can
move between the look-up and the signature) and signs its size and media type.
--role signs into a delegated role with this home's key for it (the tag must match the role's paths).
${REGISTRY_HELP}`,
  options: {
    digest: { type: 'string' },
    size: { type: 'string' },
    manifest: { type: 'string' },
    'oci-layout': { type: 'string' },
    'media-type': { type: 'string' },
    role: { type: 'string' },
    ...REGISTRY_OPTIONS,
  },
  positionals: 1,
  async run([reference], values, out) {
    const sources = [values.manifest, values['oci-layout'], values.digest].filter((v) => v !== undefined).length;
    if (sources !== 1) throw new UsageError('give exactly one of --digest, --manifest or --oci-layout');
    if (values.size !== undefined && values.digest === undefined) throw new UsageError('--size goes with --digest');
    const manifest = await manifestToSign(reference!, values, out);
    const mediaType = (values['media-type'] as string | undefined) ?? manifest.mediaType;
    const role = values.role as string | undefined;
    // Without --role the targets key signs (or a bin key, which the publisher unlocks itself).
    const result = await (await publisher(values, role ? undefined : reference)).sign(
      reference!,
      { digest: manifest.digest, size: manifest.size, ...(mediaType ? { mediaType } : {}) },
      role ? { role } : {},
    );
    if (result.pending) {
      const { pending } = result;
      out.print(`Proposed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion}, pending ${pending.id}): ${pending.signedBy.length} of ${pending.threshold} signatures`);
      out.print(`  other signers approve with: tagtrust approve ${pending.gun} ${result.role}`);
      return;
    }
    out.print(`Signed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion})`);
  },
};

/** Digest, size and media type from the flag that names the manifest. */
async function manifestToSign(reference: string, values: Values, out: Output): Promise<{ digest?: string; size?: number; mediaType?: string }> {
  if (values.manifest) return (await import('../../publisher.js')).describeManifest(values.manifest as string);
  if (values['oci-layout']) {
    const { OciLayout, parseLayoutSpec } = await import('../../registry/oci-layout.js');
    const { dir, tag } = parseLayoutSpec(values['oci-layout'] as string);
    return (await OciLayout.open(dir)).manifest(tag);
  }
  const digest = values.digest as string;
  if (values.size !== undefined) return { digest, size: parseSize(values.size as string) };
  const [{ parseTaggedReference }, { isSha256Digest, mediaTypeFor }] = await Promise.all([import('../lazy.js'), import('../../registry/manifest-format.js')]);
  if (!isSha256Digest(digest)) throw new UsageError(`--digest "${digest}" must be sha256:<64 lowercase hex>`);
  const registry = await registryFromFlags(parseTaggedReference(reference).gun, values);
  const fetched = await registry.client.manifestByDigest(registry.name, digest, { signal: registry.signal });
  const mediaType = mediaTypeFor(fetched.bytes, fetched.contentType);
  out.print(`Read ${registry.client.url}/v2/${registry.name}/manifests/${digest}: ${fetched.bytes.length} bytes, ${mediaType}`);
  return { digest, size: fetched.bytes.length, mediaType };
}

function parseSize(text: string): number {
  const size = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(size) || size < 1) throw new UsageError(`--size "${text}" must be the manifest size in bytes`);
  return size;
}
