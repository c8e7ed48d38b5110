/** `tagtrust sign` */
import type { Command } from '../command.js';
import { UsageError } from '@tagtrust/shared/errors';
import { publisher } from '../command.js';

export const signCommand: Command = {
  name: 'sign',
  usage: 'tagtrust sign <gun>:<tag>[@sha256:<hex>] (--digest sha256:<hex> --size <bytes> | --manifest FILE) [--media-type TYPE] [--role targets/NAME]',
  summary: 'sign a tag -> manifest digest mapping and publish it',
  details: '--manifest computes digest and size from the manifest file you built, so you sign exactly those bytes.\n--role signs into a delegated role with this home\'s key for it (the tag must match the role\'s paths).',
  options: { digest: { type: 'string' }, size: { type: 'string' }, manifest: { type: 'string' }, 'media-type': { type: 'string' }, role: { type: 'string' } },
  positionals: 1,
  async run([reference], values, out) {
    if (values.manifest && (values.digest || values.size)) throw new UsageError('give either --manifest or --digest/--size, not both');
    const manifest = values.manifest
      ? await (await import('../../publisher.js')).describeManifest(values.manifest as string)
      : { digest: values.digest as string | undefined, size: values.size === undefined ? undefined : parseSize(values.size as string) };
    const mediaType = (values['media-type'] as string | undefined) ?? ('mediaType' in manifest ? manifest.mediaType : undefined);
    const role = values.role as string | undefined;
    // Without --role the targets key signs (or a bin key, which the publisher unlocks itself).
    const result = await (await publisher(values, role ? undefined : reference)).sign(reference!, { ...manifest, ...(mediaType ? { mediaType } : {}) }, role ? { role } : {});
    if (result.pending) {
      const { pending } = result;
      out.print(`Proposed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion}, pending ${pending.id}): ${pending.signedBy.length} of ${pending.threshold} signatures`);
      out.print(`  other signers approve with: tagtrust approve ${pending.gun} ${result.role}`);
      return;
    }
    out.print(`Signed ${result.reference} -> ${result.digest} (${result.role} v${result.targetsVersion})`);
  },
};

function parseSize(text: string): number {
  const size = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(size) || size < 1) throw new UsageError(`--size "${text}" must be the manifest size in bytes`);
  return size;
}
