/**
 * `tagtrust`: sign container tags and resolve them to verified digests. A thin layer over the
 * library: every failure prints one line and exits with the code of its error class (exit-codes.ts).
 */
import { parseArgs } from 'node:util';
import { TagTrustError, UsageError } from '@tagtrust/shared/errors';
import type { Command, Output, Values } from './cli/command.js';
import { COMMANDS } from './cli/commands/index.js';
import { EXIT_CODES, EXIT_INTERNAL } from './cli/exit-codes.js';

const GLOBAL_OPTIONS = {
  server: { type: 'string' },
  home: { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
  ca: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const GLOBAL_HELP = `Global options:
  --server URL        tagtrust server (env TAGTRUST_SERVER)
  --home DIR          keys and trusted metadata (env TAGTRUST_HOME, default ~/.tagtrust)
  --token TOKEN       bearer token for publishing (env TAGTRUST_TOKEN)
  --timeout SECONDS   deadline for the whole operation (default 30)
  --ca FILE           PEM CA certificate to trust for an https server (also: NODE_EXTRA_CA_CERTS)
  -h, --help          show help`;

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: tagtrust <command> [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

${GLOBAL_HELP}

Global options go before or after the command. \`tagtrust --version\` prints the version.
Run \`tagtrust <command> --help\` for a command's options.
`;
}

function commandHelp(command: Command): string {
  return `Usage: ${command.usage}

${command.summary}.
${command.details}

${GLOBAL_HELP}
`;
}

const output: Output = {
  print: (line) => process.stdout.write(`${line}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
};

/** Set by the bundler (client/scripts/bundle-cli.mjs) to client/package.json's version. */
declare const TAGTRUST_VERSION: string | undefined;

/**
 * Splits argv into the command name and its arguments; global options may come before the name
 * (`tagtrust --server URL resolve …`): they are moved after it.
 */
function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const option = arg.startsWith('--') ? arg.slice(2).split('=')[0]! : undefined;
    const spec = option === undefined ? undefined : GLOBAL_OPTIONS[option as keyof typeof GLOBAL_OPTIONS];
    if (!spec || option === 'help') break;
    leading.push(arg);
    if (spec.type === 'string' && !arg.includes('=') && i + 1 < argv.length) leading.push(argv[(i += 1)]!);
  }
  return { name: argv[i], rest: [...leading, ...argv.slice(i + 1)] };
}

async function main(argv: string[]): Promise<void> {
  const { name, rest } = splitCommand(argv);
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`tagtrust ${typeof TAGTRUST_VERSION === 'string' ? TAGTRUST_VERSION : 'development build'}\n`);
    return;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}": run \`tagtrust --help\` for the list`);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; usage: ${command.usage}`);
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command));
    return;
  }
  const [min, max] = typeof command.positionals === 'number' ? [command.positionals, command.positionals] : command.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw new UsageError(`wrong number of arguments; usage: ${command.usage}`);
  }
  await command.run(parsed.positionals, parsed.values, output);
}

main(process.argv.slice(2)).then(
  // process.exit() exits with process.exitCode: 0 unless a command set another (drift: EXIT_DRIFT).
  () => process.exit(),
  (err: unknown) => {
    if (err instanceof TagTrustError) {
      // One line per failure, also for messages that come with line breaks (e.g. from parseArgs).
      process.stderr.write(`tagtrust: ${err.message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
      process.exit(EXIT_CODES[err.code] ?? EXIT_INTERNAL);
    }
    process.stderr.write(`tagtrust: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT_INTERNAL);
  },
);
