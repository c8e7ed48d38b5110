/**
 * `tagtrust-server <command> --help` (or -h) for every command: the help section of the command's
 * group, on stdout, exit 0. The commands parse their options strictly, so help is answered first.
 */
import { ADMIN_HELP } from './admin-cli.js';
import { BACKUP_HELP } from './backup/backup-cli.js';
import { EXPORT_HELP } from './mirror/export-cli.js';
import { DATABASE_HELP } from './storage/database-cli.js';

export const TLS_HELP = `TLS:
  tagtrust-server tls self-signed --out DIR [--host NAME]...
                              write DIR/cert.pem and DIR/key.pem (mode 0600): a self-signed certificate
                              for testing, valid 30 days for --host names (default 127.0.0.1, ::1, localhost);
                              clients trust it with --ca DIR/cert.pem or NODE_EXTRA_CA_CERTS
`;

const HELP_OF: Record<string, string> = {
  token: ADMIN_HELP,
  collections: ADMIN_HELP,
  backup: BACKUP_HELP,
  restore: BACKUP_HELP,
  'verify-backup': BACKUP_HELP,
  export: EXPORT_HELP,
  tls: TLS_HELP,
  migrate: DATABASE_HELP,
  'migrate-data': DATABASE_HELP,
};

/** The commands that have their own help. */
export const SERVER_COMMANDS = Object.keys(HELP_OF);

/** The help to print when `argv` (after the binary) is `<command> ... --help|-h` (before any `--`); else undefined. */
export function commandHelp(argv: readonly string[]): string | undefined {
  const help = HELP_OF[argv[0] ?? ''];
  if (help === undefined) return undefined;
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  return options.includes('--help') || options.includes('-h') ? help : undefined;
}
