/**
 * A throwaway PostgreSQL cluster for tests, from Debian's `postgresql` package (.ci/run installs it):
 * initdb in a temp dir, started with pg_ctl on a free port on 127.0.0.1 (trust authentication, no
 * other listener), run as the `postgres` user when the tests run as root; stopped and removed after.
 * Each test takes its own database with `database()`.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { registerSecrets } from './log-secrets.js';

const run = promisify(execFile);

export interface PostgresCluster {
  port: number;
  /** A URL for a new, empty database of this cluster. */
  database(): Promise<string>;
  /** pg_ctl restart (immediate stop): connections are dropped. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function binDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL in ${root}: install Debian's postgresql package (.ci/run does)`);
  return join(root, versions[0]!, 'bin');
}

let databases = 0;

/**
 * The password in every database URL handed out: the cluster trusts local connections, so it is never
 * checked, but tagtrust-server gets it in TAGTRUST_DATABASE_URL and must never log it.
 */
export const DATABASE_PASSWORD = 'db-password-in-the-url-0123';
registerSecrets({ 'the database password': DATABASE_PASSWORD });

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = await binDir();
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-pg-'));
  const asRoot = userInfo().uid === 0;
  const pgUser = asRoot ? (await run('id', ['-u', 'postgres'])).stdout.trim() : undefined;
  if (asRoot) await chown(dir, Number(pgUser), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const as = (command: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args));
  const data = join(dir, 'data');
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () => as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', 'start']);
  await start();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    async database() {
      const name = `t${process.pid}_${(databases += 1)}`;
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres:${DATABASE_PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    async restart() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await start();
    },
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
