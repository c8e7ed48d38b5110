/**
 * tuf-conformance client CLI (the suite's CLIENT-CLI.md protocol) over tagtrust's verification core:
 *
 *   tagtrust-tuf-client --metadata-dir DIR init TRUSTED_ROOT
 *   tagtrust-tuf-client --metadata-dir DIR --metadata-url URL refresh
 *   tagtrust-tuf-client --metadata-dir DIR --metadata-url URL --target-name NAME... \
 *       --target-base-url URL --target-dir DIR download
 *
 * Exit 0 on success, 1 on any failure (one line on stderr), 2 for a usage error.
 */
import { parseArgs } from 'node:util';
import { downloadTargets, initRepository, refreshRepository } from './tuf-client.js';

const USAGE = 'usage: tagtrust-tuf-client --metadata-dir DIR [--metadata-url URL] [--target-name NAME]... [--target-base-url URL] [--target-dir DIR] (init ROOT | refresh | download)';

function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageProblem(`${flag} is required for this command`);
  return value;
}

class UsageProblem extends Error {}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'metadata-dir': { type: 'string' },
      'metadata-url': { type: 'string' },
      'target-name': { type: 'string', multiple: true },
      'target-base-url': { type: 'string' },
      'target-dir': { type: 'string' },
      verbose: { type: 'boolean', short: 'v', multiple: true },
    },
  });
  const metadataDir = required(values['metadata-dir'], '--metadata-dir');
  const [command, ...rest] = positionals;
  if (command === 'init' && rest.length === 1) return initRepository(metadataDir, rest[0]!);
  const metadataUrl = required(values['metadata-url'], '--metadata-url');
  if (command === 'refresh' && rest.length === 0) return refreshRepository({ metadataDir, metadataUrl });
  if (command === 'download' && rest.length === 0) {
    const targetNames = values['target-name'] ?? [];
    if (targetNames.length === 0) throw new UsageProblem('--target-name is required for download');
    return downloadTargets({
      metadataDir,
      metadataUrl,
      targetNames,
      targetBaseUrl: required(values['target-base-url'], '--target-base-url'),
      targetDir: required(values['target-dir'], '--target-dir'),
    });
  }
  throw new UsageProblem(`unknown command ${JSON.stringify(positionals.join(' '))}`);
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: Error) => {
    const usage = err instanceof UsageProblem || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`tagtrust-tuf-client: ${err.message}${usage ? `\n${USAGE}` : ''}\n`);
    process.exit(usage ? 2 : 1);
  },
);
