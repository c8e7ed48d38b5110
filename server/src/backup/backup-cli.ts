/**
 * `tagtrust-server backup|restore|verify-backup`:
 * - `backup --out FILE` streams `GET /_admin/backup` from a running server (admin token) into
 *   FILE (mode 0600), written under a temporary name, checked, then renamed: FILE is either a
 *   complete backup or absent.
 * - `restore --from FILE --data DIR [--force]` writes a checked backup into DIR's database (the
 *   server must be stopped); the master key is not in the backup and must be in DIR or the environment.
 * - `verify-backup FILE [--json]` checks every collection with the TUF client (verify-backup.ts).
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { InvalidInputError, NetworkError, UsageError, errorFromApi } from '@tagtrust/shared';
import { tokenFromDataDir } from '../admin-cli.js';
import type { AdminOutput } from '../admin-cli.js';
import { checkBackupFile } from './backup-file.js';
import { hasMasterKeyFile, restoreBackup } from './restore.js';
import { verifyBackup } from './verify-backup.js';

export const BACKUP_HELP = `Backups:
  tagtrust-server backup --out FILE [--server URL] [--token TOKEN | --data DIR]
                              a consistent backup of a running server (admin token), mode 0600
  tagtrust-server restore --from FILE --data DIR [--force]
                              restore into DIR (stopped server; DIR empty unless --force);
                              the master key is not in the backup: keep DIR/master.key or TAGTRUST_MASTER_KEY
  tagtrust-server verify-backup FILE [--json]
                              check every collection of a backup with the TUF client
`;

export const BACKUP_COMMANDS = new Set(['backup', 'restore', 'verify-backup']);

export async function runBackupCommand(argv: string[], env: NodeJS.ProcessEnv, output: AdminOutput): Promise<void> {
  const [command, ...args] = argv;
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      from: { type: 'string' },
      data: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (command === 'backup') {
    if (!values.out || positionals.length > 0) throw new UsageError(`backup needs --out FILE\n${BACKUP_HELP}`);
    const server = (values.server ?? env.TAGTRUST_SERVER ?? 'http://127.0.0.1:4443').replace(/\/+$/, '');
    const token = values.token ?? env.TAGTRUST_ADMIN_TOKEN ?? (await tokenFromDataDir(values.data ?? env.TAGTRUST_DATA));
    if (!token) throw new UsageError('backup needs the admin token: pass --token, set TAGTRUST_ADMIN_TOKEN, or --data DIR holding admin.token');
    const summary = await downloadBackup(server, token, values.out);
    output.out(`Backed up ${summary.entries} entries (as of ${summary.created}) to ${values.out}`);
    return;
  }
  if (command === 'restore') {
    if (!values.from || !values.data || positionals.length > 0) throw new UsageError(`restore needs --from FILE and --data DIR\n${BACKUP_HELP}`);
    const summary = await restoreBackup(values.from, values.data, values.force ?? false);
    output.out(`Restored ${summary.entries} entries (backup of ${summary.created}) into ${values.data}`);
    if (!env.TAGTRUST_MASTER_KEY && !(await hasMasterKeyFile(values.data))) {
      output.err(`tagtrust-server: the backup does not hold the master key: copy the old master.key into ${values.data} or set TAGTRUST_MASTER_KEY before starting the server`);
    }
    return;
  }
  if (positionals.length !== 1) throw new UsageError(`verify-backup needs one FILE\n${BACKUP_HELP}`);
  const check = await verifyBackup(positionals[0]!);
  const failed = check.collections.filter((c) => c.error !== undefined);
  if (values.json) output.out(JSON.stringify(check, null, 2));
  else {
    for (const c of check.collections) output.out(c.error === undefined ? `ok      ${c.gun} (${c.tags} tag${c.tags === 1 ? '' : 's'})` : `FAILED  ${c.gun}: ${c.error}`);
    output.out(`${check.collections.length - failed.length} of ${check.collections.length} collections verified (backup of ${check.created})`);
  }
  if (failed.length > 0) {
    throw new InvalidInputError(`${failed.length} of ${check.collections.length} collections in ${positionals[0]} fail verification: restore an older backup, or re-sign them after restoring`);
  }
}

async function downloadBackup(server: string, token: string, out: string) {
  let response: Response;
  try {
    response = await fetch(`${server}/_admin/backup`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3600_000) });
  } catch (err) {
    throw new NetworkError(`taking a backup failed: cannot reach ${server} (${(err as Error).cause ?? (err as Error).message}); check --server`, { cause: err });
  }
  if (!response.ok || !response.body) throw errorFromApi(response.status, await response.json().catch(() => undefined), 'taking a backup');
  const partial = `${out}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(partial, { mode: 0o600 }));
    const summary = await checkBackupFile(partial);
    await rename(partial, out);
    return summary;
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
