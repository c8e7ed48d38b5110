/** tagtrust-server: command-line entry point. Flags override environment variables. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TagTrustError, UsageError, formatDuration, parseDuration } from '@tagtrust/shared';
import { defaultConfig, startServer } from './server.js';
import { ADMIN_HELP, runAdminCommand } from './admin-cli.js';

const HELP = `Usage: tagtrust-server [options]
       tagtrust-server token|collections <command> [options]
       tagtrust-server tls self-signed --out DIR [--host NAME]...

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
  --tls-cert FILE             serve HTTPS with this PEM certificate (env TAGTRUST_TLS_CERT); needs --tls-key
  --tls-key FILE              PEM private key of the certificate (env TAGTRUST_TLS_KEY)
  --access-log                print one line per request (method, path, status, ms, bytes) to stderr
  --max-connections N         most open connections; past it the oldest idle or still-sending-headers
                              one is closed (env TAGTRUST_MAX_CONNECTIONS, default ${defaultConfig.maxConnections})
  --headers-timeout DUR       time a client has to send its request headers (default ${formatDuration(defaultConfig.headersTimeout)})
  --request-timeout DUR       time a client has to send its whole request, body included (default ${formatDuration(defaultConfig.requestTimeout)})
  -h, --help                  show this help

  tls self-signed --out DIR   write DIR/cert.pem and DIR/key.pem (mode 0600): a self-signed certificate
                              for testing, valid 30 days for --host names (default 127.0.0.1, ::1, localhost);
                              clients trust it with --ca DIR/cert.pem or NODE_EXTRA_CA_CERTS

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

function positiveInteger(flag: string, value: string | undefined, fallback: number, unit = 'bytes'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} "${value}" must be a positive number of ${unit}`);
  return n;
}

/** Node requires the headers to be due no later than the whole request. */
function requestTimeouts(headers: string | undefined, request: string | undefined): { headersTimeout: number; requestTimeout: number } {
  const headersTimeout = duration('--headers-timeout', headers, defaultConfig.headersTimeout);
  const requestTimeout = duration('--request-timeout', request, defaultConfig.requestTimeout);
  if (headersTimeout > requestTimeout) {
    throw new UsageError(`--headers-timeout (${formatDuration(headersTimeout)}) must not be longer than --request-timeout (${formatDuration(requestTimeout)})`);
  }
  return { headersTimeout, requestTimeout };
}

async function readTls(certFile: string | undefined, keyFile: string | undefined) {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
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
  const first = process.argv[2];
  if (first === 'token' || first === 'collections') {
    await runAdminCommand(process.argv.slice(2), process.env, {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
    return;
  }
  const argv = process.argv.slice(2);
  if (argv[0] === 'tls') {
    if (argv[1] !== 'self-signed') throw new UsageError('usage: tagtrust-server tls self-signed --out DIR [--host NAME]...');
    return selfSigned(argv.slice(2));
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
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'access-log': { type: 'boolean' },
      'max-connections': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
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
    tls: await readTls(values['tls-cert'] ?? env.TAGTRUST_TLS_CERT, values['tls-key'] ?? env.TAGTRUST_TLS_KEY),
    accessLog: values['access-log'] ? (line) => process.stderr.write(`${line}\n`) : undefined,
    maxConnections: positiveInteger('--max-connections', values['max-connections'] ?? env.TAGTRUST_MAX_CONNECTIONS, defaultConfig.maxConnections, 'connections'),
    ...requestTimeouts(values['headers-timeout'], values['request-timeout']),
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
