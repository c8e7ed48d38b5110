/**
 * `tagtrust-server migrate` (apply the PostgreSQL schema migrations and print the versions) and
 * `tagtrust-server migrate-data --from DIR --to URL` (copy a level data directory into PostgreSQL,
 * then verify every collection there; migrate-data.ts).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { UsageError } from '@tagtrust/shared';
import type { AdminOutput } from '../admin-cli.js';
import { databaseLocation } from './open-store.js';
import { migrate, SCHEMA_VERSION } from './pg-migrations.js';
import { migrateData } from './migrate-data.js';

export const DATABASE_HELP = `PostgreSQL:
  tagtrust-server migrate [--database-url URL]
                              apply the schema migrations the database lacks (servers also do on start)
  tagtrust-server migrate-data --from DIR --to URL
                              copy a stopped level server's data into an empty PostgreSQL database,
                              then verify every collection there with the TUF client
`;

export const DATABASE_COMMANDS = new Set(['migrate', 'migrate-data']);

export async function runDatabaseCommand(argv: string[], env: NodeJS.ProcessEnv, output: AdminOutput): Promise<void> {
  const [command, ...args] = argv;
  const { values } = parseArgs({
    args,
    options: { 'database-url': { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (command === 'migrate') {
    const url = values['database-url'] ?? env.TAGTRUST_DATABASE_URL;
    if (!url) throw new UsageError('migrate needs --database-url postgres://… (or TAGTRUST_DATABASE_URL)');
    const location = databaseLocation(url);
    const applied = await withClient(url, location, (client) => migrate(client));
    output.out(applied.length === 0 ? `${location} is at schema v${SCHEMA_VERSION}: nothing to apply` : `${location}: applied migration(s) ${applied.join(', ')}; now at schema v${SCHEMA_VERSION}`);
    return;
  }
  if (!values.from || !values.to) throw new UsageError('migrate-data needs --from DIR (a stopped level server\'s data directory) and --to postgres://…');
  const summary = await migrateData(values.from, values.to);
  output.out(`copied ${summary.collections} collection(s), ${summary.entries} record(s) to ${databaseLocation(values.to)}; every collection verified`);
}

async function withClient<T>(url: string, location: string, task: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {});
  try {
    const client = await pool.connect().catch((err: Error) => {
      throw new UsageError(`cannot connect to ${location}: ${err.message}`, { cause: err });
    });
    try {
      return await task(client);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}
