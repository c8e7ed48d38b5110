/** `tagtrust import-notary`: sign a Notary v1 / Docker Content Trust collection's tags into tagtrust. */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { clientOptions, publisher, puller } from '../command.js';

export const importNotaryCommand: Command = {
  name: 'import-notary',
  usage:
    'tagtrust import-notary <notary gun> (--notary-server URL [--notary-ca FILE] | --trust-dir DIR) [--to <gun>] [--dry-run] [--json] [--notary-root-keyid ID] [--allow-expired]',
  summary: 'sign the tags of a Notary (Docker Content Trust) collection into a tagtrust collection',
  details: `Reads the Notary collection from a notary-server or a local trust directory (~/.notary, ~/.docker/trust),
verifies it with its own trust data (root, timestamp, snapshot, targets and delegations such as targets/releases:
signatures, thresholds, hashes, expiry), then signs each tag -> digest that the tagtrust collection (--to, default the
same name; create it first with \`tagtrust init\`) does not sign yet, or signs differently. Tags are taken as Docker
Content Trust resolves them: targets/releases first, then targets. Nothing is unsigned.
  --dry-run              only report what would be added or moved
  --notary-root-keyid ID refuse a Notary root whose root role does not list this key ID (or prefix)
  --allow-expired        import metadata that has expired (e.g. an old trust directory), with a warning`,
  options: {
    'notary-server': { type: 'string' },
    'notary-ca': { type: 'string' },
    'trust-dir': { type: 'string' },
    to: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    'notary-root-keyid': { type: 'string' },
    'allow-expired': { type: 'boolean' },
  },
  positionals: 1,
  async run([notaryGun], values, out) {
    const server = values['notary-server'] as string | undefined;
    const trustDir = values['trust-dir'] as string | undefined;
    if ((server === undefined) === (trustDir === undefined)) throw new UsageError(`give one of --notary-server URL or --trust-dir DIR; usage: ${importNotaryCommand.usage}`);
    const rootKeyId = values['notary-root-keyid'] as string | undefined;
    if (rootKeyId !== undefined && !/^[0-9a-f]{8,64}$/.test(rootKeyId)) throw new UsageError(`--notary-root-keyid "${rootKeyId}" must be 8 to 64 lowercase hex characters`);
    const [{ notaryServerSource, notaryTrustDirSource }, { importFromNotary }, { Deadline }, { readFile }] = await Promise.all([
      import('../../notary/notary-source.js'),
      import('../../notary/import-notary.js'),
      import('../../deadline.js'),
      import('node:fs/promises'),
    ]);
    const options = await clientOptions(values);
    const deadline = new Deadline(options.timeoutMs ?? 30_000, `reading the Notary collection ${notaryGun}`);
    try {
      let source;
      if (server !== undefined) {
        const caFile = values['notary-ca'] as string | undefined;
        const ca = caFile === undefined ? undefined : await readFile(caFile).catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`--notary-ca ${caFile}: cannot read it (${err.code ?? err.message})`);
        });
        source = notaryServerSource(server, notaryGun!, deadline, ca);
      } else {
        source = notaryTrustDirSource(trustDir!, notaryGun!);
      }
      if (values['allow-expired']) process.stderr.write('tagtrust: --allow-expired: expired Notary metadata is accepted; check that it still says what you expect\n');
      const result = await importFromNotary({
        source,
        notaryGun: notaryGun!,
        ...(values.to === undefined ? {} : { gun: values.to as string }),
        dryRun: Boolean(values['dry-run']),
        ...(rootKeyId === undefined ? {} : { rootKeyId }),
        allowExpired: Boolean(values['allow-expired']),
        puller: await puller(values),
        publisher: await publisher(values),
      });
      if (values.json) return out.json(result);
      for (const e of result.entries) {
        const moved = `(was ${e.current})`;
        const what = result.dryRun
          ? { add: 'would add', move: `would move ${moved}`, same: 'already signed', skip: `skipped: ${e.reason}` }[e.action]
          : { add: 'added', move: `moved ${moved}`, same: 'already signed', skip: `skipped: ${e.reason}` }[e.action];
        out.print(`  ${e.reference} -> ${e.digest} (${e.size} bytes, Notary role ${e.role}): ${what}`);
      }
      const changes = result.entries.filter((e) => e.action === 'add' || e.action === 'move').length;
      out.print(
        result.dryRun
          ? `Dry run: ${changes} of ${result.entries.length} tag(s) of Notary ${result.notary.gun} (root ${result.notary.rootKeyIds.map((id) => id.slice(0, 8)).join(', ')}) would be signed into ${result.gun}`
          : `Imported ${result.signed} of ${result.entries.length} tag(s) of Notary ${result.notary.gun} into ${result.gun}`,
      );
    } finally {
      deadline.dispose();
    }
  },
};
