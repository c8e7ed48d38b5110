/**
 * tagtrust-server: command-line entry point. Options: flags > environment > config file > defaults
 * (config/server-options.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TagTrustError, UsageError } from '@tagtrust/shared';
import { startServer } from './server.js';
import { ADMIN_HELP, runAdminCommand } from './admin-cli.js';
import { BACKUP_COMMANDS, BACKUP_HELP, runBackupCommand } from './backup/backup-cli.js';
import { EXPORT_HELP, runExportCommand } from './mirror/export-cli.js';
import { DATABASE_COMMANDS, DATABASE_HELP, runDatabaseCommand } from './storage/database-cli.js';
import { TLS_HELP, commandHelp } from './command-help.js';
import { resolveServerOptions, serverOptionsHelp, serverParseOptions } from './config/server-options.js';

/** Set by scripts/package.mjs when it bundles the server into one file, away from its package.json. */
declare const TAGTRUST_VERSION: string | undefined;

/** The version in server/package.json. */
async function serverVersion(): Promise<string> {
  if (typeof TAGTRUST_VERSION === 'string') return TAGTRUST_VERSION;
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `Usage: tagtrust-server [options]
       tagtrust-server --version
       tagtrust-server token|collections <command> [options]
       tagtrust-server tls self-signed --out DIR [--host NAME]...
       tagtrust-server backup|restore|verify-backup ...
       tagtrust-server export --out DIR [--gun PATTERN] [--watch]
       tagtrust-server migrate|migrate-data ...

Serves TUF metadata for signed container tags. Each option is taken from the first of: its flag,
its environment variable, its key in the --config file, the default.

Options:
${serverOptionsHelp()}
  --version                   print the version
  -h, --help                  show this help (also after a command: tagtrust-server token --help)

Secrets (never logged):
  TAGTRUST_MASTER_KEY         32-byte key (hex or base64) sealing the online keys; default: DIR/master.key
  TAGTRUST_ADMIN_TOKEN        bootstrap admin token (all scopes, at least 32 characters); default: DIR/admin.token

${ADMIN_HELP}
${BACKUP_HELP}
${EXPORT_HELP}
${DATABASE_HELP}

${TLS_HELP}`;

async function readTls(certFile: string | undefined, keyFile: string | undefined) {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert and --tls-key (or tls-cert and tls-key in the config) go together: give both, or neither for plain HTTP');
  const read = (flag: string, file: string) =>
    readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`${flag} ${file}: cannot read it (${err.code ?? err.message})`);
    });
  const [cert, key] = await Promise.all([read('--tls-cert', certFile), read('--tls-key', keyFile)]);
  return { cert, key };
}

async function selfSigned(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string' }, host: { type: 'string', multiple: true } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.out) throw new UsageError('tls self-signed needs --out DIR');
  const [{ issueSelfSignedCertificate }, { writeFileAtomic }, { mkdir }] = await Promise.all([
    import('./tls-cert.js'),
    import('@tagtrust/keys'),
    import('node:fs/promises'),
  ]);
  const material = await issueSelfSignedCertificate({ hosts: values.host });
  await mkdir(values.out, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(values.out, 'key.pem'), material.key, 0o600);
  await writeFileAtomic(join(values.out, 'cert.pem'), material.cert, 0o644);
  process.stdout.write(`wrote ${join(values.out, 'cert.pem')} and ${join(values.out, 'key.pem')}\n`);
}

async function main(): Promise<void> {
  const help = commandHelp(process.argv.slice(2));
  if (help !== undefined) {
    process.stdout.write(help);
    return;
  }
  const first = process.argv[2];
  if (first === 'token' || first === 'collections') {
    await runAdminCommand(process.argv.slice(2), process.env, {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
    return;
  }
  const argv = process.argv.slice(2);
  const output = { out: (line: string) => process.stdout.write(`${line}\n`), err: (line: string) => process.stderr.write(`${line}\n`) };
  if (BACKUP_COMMANDS.has(argv[0] ?? '')) {
    await runBackupCommand(argv, process.env, output);
    return;
  }
  if (DATABASE_COMMANDS.has(argv[0] ?? '')) {
    await runDatabaseCommand(argv, process.env, output);
    return;
  }
  if (argv[0] === 'export') {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await runExportCommand(argv.slice(1), process.env, output, stop.signal);
    return;
  }
  if (argv[0] === 'tls') {
    if (argv[1] !== 'self-signed') throw new UsageError('usage: tagtrust-server tls self-signed --out DIR [--host NAME]...');
    return selfSigned(argv.slice(2));
  }
  const { values } = parseArgs({ options: serverParseOptions(), strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`tagtrust-server ${await serverVersion()}\n`);
    return;
  }
  const env = process.env;
  const options = await resolveServerOptions(values, env);
  const server = await startServer({
    ...options.config,
    masterKey: env.TAGTRUST_MASTER_KEY,
    adminToken: env.TAGTRUST_ADMIN_TOKEN,
    tls: await readTls(options.tlsCertFile, options.tlsKeyFile),
  });
  const version = await serverVersion();
  const metrics = server.metricsUrl ? `, metrics on ${server.metricsUrl}/metrics` : '';
  server.logger.info(
    { version, url: server.url, store: server.storeLocation, metricsUrl: server.metricsUrl, adminTokenSource: server.adminTokenSource },
    `tagtrust-server ${version} listening on ${server.url}, data in ${server.storeLocation}${metrics} (admin token: ${server.adminTokenSource})`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      server.logger.warn(`${signal} again while draining: exiting now`);
      process.exit(1);
    }
    stopping = true;
    server.shutdown(signal).then(
      (drained) => process.exit(drained ? 0 : 1),
      (err: Error) => {
        server.logger.error({ err }, `shutting down failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof TagTrustError || (err as Error).name === 'TypeError' ? (err as Error).message : String((err as Error).stack ?? err);
  process.stderr.write(`tagtrust-server: ${message}\n`);
  process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
});
