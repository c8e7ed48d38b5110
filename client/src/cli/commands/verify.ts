/** `tagtrust verify` */
import { InvalidInputError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { PULL_HELP, PULL_OPTIONS, puller } from '../command.js';

export const verifyCommand: Command = {
  name: 'verify',
  usage: 'tagtrust verify <gun>:<tag> --manifest FILE [--json] [--root-file FILE] [--no-tofu] [--max-age DURATION] [--mirror URL]...',
  summary: 'check that a manifest file is exactly what a tag is signed for',
  details: `Resolves the tag like \`tagtrust resolve\`, then compares the sha256 and size of FILE with the signed
digest; a mismatch exits with the MISMATCH code. Use it on the manifest a registry served you.
${PULL_HELP}`,
  options: { ...PULL_OPTIONS, manifest: { type: 'string' } },
  positionals: 1,
  async run([reference], values, out) {
    const path = values.manifest as string | undefined;
    if (!path) throw new InvalidInputError('verify needs --manifest FILE: the manifest bytes to check');
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new InvalidInputError(`cannot read manifest ${path}: ${err.code ?? err.message}`);
    });
    const resolution = await (await puller(values)).verify(reference!, bytes);
    if (values.json) return out.json(resolution);
    out.print(`Verified ${path}: ${resolution.reference} -> ${resolution.digest}`);
  },
};
