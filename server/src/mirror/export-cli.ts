/**
 * `tagtrust-server export --out DIR [--gun PATTERN] [--watch [--interval DUR]]`: a static mirror of
 * a running server (export.ts). With --watch it re-exports every interval (default 1m: well inside
 * the renewal window, half the timestamp lifetime) until SIGINT/SIGTERM; a failed pass is reported
 * and the next one tried.
 */
import { parseArgs } from 'node:util';
import { UsageError, parseDuration } from '@tagtrust/shared';
import { tokenFromDataDir } from '../admin-cli.js';
import type { AdminOutput } from '../admin-cli.js';
import { MirrorExporter } from './export.js';

export const EXPORT_HELP = `Static mirrors:
  tagtrust-server export --out DIR [--gun PATTERN] [--watch [--interval 1m]] [--server URL] [--token TOKEN | --data DIR]
                              write collections as static files (DIR/v2/<gun>/_trust/tuf/...) for any
                              web server; --watch keeps re-exporting as timestamps are renewed
`;

export async function runExportCommand(argv: string[], env: NodeJS.ProcessEnv, output: AdminOutput, signal?: AbortSignal): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      gun: { type: 'string' },
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      data: { type: 'string' },
    },
    allowPositionals: false,
    strict: true,
  });
  if (!values.out || positionals.length > 0) throw new UsageError(`export needs --out DIR\n${EXPORT_HELP}`);
  const intervalMs = values.interval === undefined ? 60_000 : parseDuration(values.interval);
  if (intervalMs === undefined || intervalMs < 1000) throw new UsageError(`--interval "${values.interval}" must be a duration of at least 1s, like 30s or 5m`);
  if (values.interval !== undefined && !values.watch) throw new UsageError('--interval goes with --watch');
  const server = (values.server ?? env.TAGTRUST_SERVER ?? 'http://127.0.0.1:4443').replace(/\/+$/, '');
  const token = values.token ?? env.TAGTRUST_ADMIN_TOKEN ?? (await tokenFromDataDir(values.data ?? env.TAGTRUST_DATA));
  if (!token) throw new UsageError('export needs the admin token: pass --token, set TAGTRUST_ADMIN_TOKEN, or --data DIR holding admin.token');
  const exporter = new MirrorExporter({ server, token, out: values.out, gun: values.gun });
  const pass = async () => {
    const result = await exporter.exportAll();
    output.out(`Exported ${result.collections} collection(s) to ${values.out} (${result.written} file(s) written)`);
  };
  if (!values.watch) return pass();
  while (!signal?.aborted) {
    await pass().catch((err: Error) => output.err(`tagtrust-server: export failed: ${err.message}; retrying in ${values.interval ?? '1m'}`));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
