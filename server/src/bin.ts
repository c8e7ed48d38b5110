/** tagtrust-server: command-line entry point. Flags override environment variables. */
import { parseArgs } from 'node:util';
import { TagTrustError, UsageError, formatDuration, parseDuration } from '@tagtrust/shared';
import { defaultConfig, startServer } from './server.js';
import { ADMIN_HELP, runAdminCommand } from './admin-cli.js';

const HELP = `Usage: tagtrust-server [options]
       tagtrust-server token|collections <command> [options]

Serves TUF metadata for signed container tags.

Options:
  --listen HOST:PORT          where to listen (env TAGTRUST_LISTEN, default ${defaultConfig.listen})
  --data DIR                  data directory: level database, master key, admin token
                              (env TAGTRUST_DATA, default ${defaultConfig.dataDir})
  --body-limit BYTES          largest accepted publish body (env TAGTRUST_BODY_LIMIT, default ${defaultConfig.bodyLimit})
  --timestamp-lifetime DUR    lifetime of signed timestamps, e.g. 6h (default ${formatDuration(defaultConfig.timestampLifetime)})
  --snapshot-lifetime DUR     lifetime of signed snapshots, e.g. 7d (default ${formatDuration(defaultConfig.snapshotLifetime)})
  --require-pull-token        reads need a token with a pull:, push: or admin scope
                              (env TAGTRUST_REQUIRE_PULL_TOKEN=1; default: reads are public)
  --pending-lifetime DUR      how long a change awaiting approvals stays open (default ${formatDuration(defaultConfig.pendingLifetime)})
  -h, --help                  show this help

Secrets (never logged):
  TAGTRUST_MASTER_KEY         32-byte key (hex or base64) sealing the online keys; default: DIR/master.key
  TAGTRUST_ADMIN_TOKEN        bootstrap admin token (all scopes); default: DIR/admin.token

${ADMIN_HELP}`;

function duration(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`${flag} "${value}" is not a duration like 90s, 30m, 6h or 7d`);
  return ms;
}

function positiveInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} "${value}" must be a positive number of bytes`);
  return n;
}

async function main(): Promise<void> {
  const first = process.argv[2];
  if (first === 'token' || first === 'collections') {
    await runAdminCommand(process.argv.slice(2), process.env, {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
    return;
  }
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      data: { type: 'string' },
      'body-limit': { type: 'string' },
      'timestamp-lifetime': { type: 'string' },
      'snapshot-lifetime': { type: 'string' },
      'require-pull-token': { type: 'boolean' },
      'pending-lifetime': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const env = process.env;
  const server = await startServer({
    listen: values.listen ?? env.TAGTRUST_LISTEN ?? defaultConfig.listen,
    dataDir: values.data ?? env.TAGTRUST_DATA ?? defaultConfig.dataDir,
    bodyLimit: positiveInteger('--body-limit', values['body-limit'] ?? env.TAGTRUST_BODY_LIMIT, defaultConfig.bodyLimit),
    timestampLifetime: duration('--timestamp-lifetime', values['timestamp-lifetime'], defaultConfig.timestampLifetime),
    pendingLifetime: duration('--pending-lifetime', values['pending-lifetime'], defaultConfig.pendingLifetime),
    snapshotLifetime: duration('--snapshot-lifetime', values['snapshot-lifetime'], defaultConfig.snapshotLifetime),
    masterKey: env.TAGTRUST_MASTER_KEY,
    adminToken: env.TAGTRUST_ADMIN_TOKEN,
    requirePullScope: values['require-pull-token'] ?? env.TAGTRUST_REQUIRE_PULL_TOKEN === '1',
  });
  process.stderr.write(`tagtrust-server listening on ${server.url}, data in ${values.data ?? env.TAGTRUST_DATA ?? defaultConfig.dataDir} (admin token: ${server.adminTokenSource})\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof TagTrustError || (err as Error).name === 'TypeError' ? (err as Error).message : String((err as Error).stack ?? err);
  process.stderr.write(`tagtrust-server: ${message}\n`);
  process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
});
