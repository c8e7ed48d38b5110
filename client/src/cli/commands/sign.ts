/** `tagtrust sign`: one or more tags of one collection, in one publish (or staged with --stage). */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command, Output, Values } from '../command.js';
import { publisher } from '../command.js';
import type { ManifestFacts } from '../manifest-source.js';
import { REGISTRY_HELP, REGISTRY_OPTIONS } from '../registry-options.js';

export const signCommand: Command = {
  name: 'sign',
  usage: `tagtrust sign <gun>:<tag>[@sha256:<hex>]... (--digest sha256:<hex> [--size <bytes>] | --manifest FILE | --oci-layout DIR[:tag]) [--media-type TYPE] [--role targets/NAME] [--stage] [--json]
       tagtrust sign --from-file FILE [--role targets/NAME] [--stage] [--json]`,
  summary: 'sign tag -> manifest digest mappings and publish them in one publish',
  details: `Several tags (a:1 a:1.2 a:latest) are signed to the same manifest in ONE publish: all land, or none.
--from-file FILE lists tags of one collection, one per line: "<gun>:<tag> <sha256:digest> [<size>]"
(blank lines and # comments skipped; without a size the manifest is read from the registry). See docs/signing.md.
--manifest computes digest and size from the manifest file you built, so you sign exactly those bytes.
--oci-layout does the same for a manifest in an OCI image layout (DIR:tag names it; without a tag the layout must hold one).
--digest without --size reads the manifest from the registry by that digest (never by tag: a tag can
move between the look-up and the signature) and signs its size and media type.
--role signs into a delegated role with this home's key for it (every tag must match the role's paths).
--stage records the change in this home only (no server, no key): \`tagtrust status\` shows it,
\`tagtrust publish <gun>\` signs and publishes every staged change, \`tagtrust reset\` drops it.
--json prints {gun, tags: [{reference, digest, role, targetsVersion}], roles, attempts}; with --stage {gun, staged: [{reference, digest}], total}.
${REGISTRY_HELP}`,
  options: {
    digest: { type: 'string' },
    size: { type: 'string' },
    manifest: { type: 'string' },
    'oci-layout': { type: 'string' },
    'media-type': { type: 'string' },
    'from-file': { type: 'string' },
    role: { type: 'string' },
    stage: { type: 'boolean' },
    json: { type: 'boolean' },
    ...REGISTRY_OPTIONS,
  },
  positionals: [0, 10_000],
  async run(references, values, out) {
    const note = values.json ? (line: string) => process.stderr.write(`tagtrust: ${line}\n`) : (line: string) => out.print(line);
    const tags = values['from-file'] === undefined ? await tagsFromArguments(references, values, note) : await tagsFromFile(references, values, note);
    const role = values.role as string | undefined;
    if (values.stage) return stage(tags, role, values, out);
    // Without --role the targets key signs (or a bin key, which the publisher unlocks itself).
    const result = await (await publisher(values, role ? undefined : tags[0]!.reference)).signMany(tags, role ? { role } : {});
    if (values.json) return out.json(result);
    for (const tag of result.tags) {
      if (tag.pending) {
        out.print(`Proposed ${tag.reference} -> ${tag.digest} (${tag.role} v${tag.targetsVersion}, pending ${tag.pending.id}): ${tag.pending.signedBy.length} of ${tag.pending.threshold} signatures`);
      } else {
        out.print(`Signed ${tag.reference} -> ${tag.digest} (${tag.role} v${tag.targetsVersion})`);
      }
    }
    for (const changed of result.roles.filter((r) => r.pending)) out.print(`  other signers approve with: tagtrust approve ${result.gun} ${changed.role}`);
  },
};

type TagWithManifest = ManifestFacts & { reference: string };

/** The references on the command line, all signed to the manifest the flags name. */
async function tagsFromArguments(references: string[], values: Values, note: (line: string) => void): Promise<TagWithManifest[]> {
  if (references.length === 0) throw new UsageError(`wrong number of arguments; usage: ${signCommand.usage}`);
  const sources = [values.manifest, values['oci-layout'], values.digest].filter((v) => v !== undefined).length;
  if (sources !== 1) throw new UsageError('give exactly one of --digest, --manifest or --oci-layout');
  if (values.size !== undefined && values.digest === undefined) throw new UsageError('--size goes with --digest');
  const [{ oneCollection }, { parseTaggedReference }, { manifestFromFlags }] = await Promise.all([
    import('../../publishing/tags.js'),
    import('../lazy.js'),
    import('../manifest-source.js'),
  ]);
  const gun = oneCollection(references.map((reference) => ({ reference, gun: parseTaggedReference(reference).gun })));
  const manifest = await manifestFromFlags(gun, values, note);
  const mediaType = (values['media-type'] as string | undefined) ?? manifest.mediaType;
  return references.map((reference) => ({ reference, digest: manifest.digest, size: manifest.size, ...(mediaType ? { mediaType } : {}) }));
}

/** The tags a --from-file list names; sizes it leaves out are read from the registry. */
async function tagsFromFile(references: string[], values: Values, note: (line: string) => void): Promise<TagWithManifest[]> {
  const conflicting = ['digest', 'size', 'manifest', 'oci-layout', 'media-type'].filter((flag) => values[flag] !== undefined);
  if (references.length > 0 || conflicting.length > 0) {
    throw new UsageError(`--from-file lists the tags with their digests and sizes: leave out ${references.length > 0 ? references[0] : `--${conflicting[0]}`}`);
  }
  const [{ readTagList }, { oneCollection }, { parseTaggedReference }] = await Promise.all([
    import('../../publishing/tag-list-file.js'),
    import('../../publishing/tags.js'),
    import('../lazy.js'),
  ]);
  const entries = await readTagList(values['from-file'] as string);
  const gun = oneCollection(entries.map(({ reference }) => ({ reference, gun: parseTaggedReference(reference).gun })));
  const lookup = entries.some((entry) => entry.size === undefined) ? await (await import('../manifest-source.js')).registryLookup(gun, values, note) : undefined;
  const tags: TagWithManifest[] = [];
  for (const { reference, digest, size } of entries) tags.push({ reference, ...(size === undefined ? await lookup!(digest) : { digest, size }) });
  return tags;
}

/** Records the tags in this home's changelist for `tagtrust publish`. */
async function stage(tags: TagWithManifest[], role: string | undefined, values: Values, out: Output): Promise<void> {
  const [{ tagToSign }, { stageChanges }, { resolveHome }] = await Promise.all([
    import('../../publishing/tags.js'),
    import('../../staging/changelist.js'),
    import('../../options.js'),
  ]);
  const checked = tags.map((tag) => ({ tag, ...tagToSign(tag) }));
  const gun = checked[0]!.gun;
  const staged = await stageChanges(
    resolveHome(values.home as string | undefined),
    gun,
    checked.map(({ tag, name, digest }) => ({
      action: 'sign' as const,
      tag: name.slice(gun.length + 1),
      digest,
      size: tag.size!,
      ...(tag.mediaType ? { mediaType: tag.mediaType } : {}),
      ...(role ? { role } : {}),
    })),
  );
  if (values.json) return out.json({ gun, staged: checked.map(({ name, digest }) => ({ reference: name, digest })), total: staged.length });
  for (const { name, digest } of checked) out.print(`Staged ${name} -> ${digest}`);
  out.print(`${gun} has ${staged.length} staged change${staged.length === 1 ? '' : 's'}: publish with \`tagtrust publish ${gun}\``);
}
