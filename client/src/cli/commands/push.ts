/** `tagtrust push` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryFromFlags } from '../registry-options.js';

export const pushCommand: Command = {
  name: 'push',
  usage: 'tagtrust push <oci-layout-dir>[:tag] <gun>:<tag> [--registry URL] [--media-type TYPE]',
  summary: 'push an image from an OCI layout to the registry and sign exactly the manifest pushed',
  details: `Pushes the layout's blobs and manifests (every platform of an index), checks that the registry stored
the manifest under the same digest, then signs that digest and length for <gun>:<tag>.
${REGISTRY_HELP}`,
  options: { ...REGISTRY_OPTIONS, 'media-type': { type: 'string' } },
  positionals: 2,
  async run([layoutSpec, reference], values, out) {
    const [{ parseTaggedReference }, { OciLayout, parseLayoutSpec }, { pushLayout }] = await Promise.all([
      import('../lazy.js'),
      import('../../registry/oci-layout.js'),
      import('../../registry/push-layout.js'),
    ]);
    const { gun, tag } = parseTaggedReference(reference!);
    const spec = parseLayoutSpec(layoutSpec!);
    const layout = await OciLayout.open(spec.dir);
    const manifest = await layout.manifest(spec.tag);
    const registry = await registryFromFlags(gun, values);
    const pushed = await pushLayout(layout, manifest, registry.client, registry.name, tag, registry.signal);
    out.print(`Pushed ${registry.client.url}/v2/${registry.name}:${tag} -> ${manifest.digest} (${pushed.blobs} blobs, ${pushed.manifests} manifests)`);
    const mediaType = (values['media-type'] as string | undefined) ?? manifest.mediaType;
    const result = await (await publisher(values, reference)).sign(`${gun}:${tag}`, { digest: manifest.digest, size: manifest.size, mediaType });
    if (result.pending) {
      out.print(`Proposed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion}, pending ${result.pending.id}): ${result.pending.signedBy.length} of ${result.pending.threshold} signatures`);
      return;
    }
    out.print(`Signed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion})`);
  },
};
