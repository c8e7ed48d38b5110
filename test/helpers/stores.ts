/**
 * The MetadataStore backends every storage contract test runs against: LevelStore on a level
 * database in a temp dir, and PgStore on a fresh database of a throwaway PostgreSQL cluster
 * (helpers/postgres.ts), started once per test process on first use. Test files that use them call
 * `test.after.always(stopStoreBackends)`.
 */
import type { ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore, PgStore } from '@tagtrust/server';
import type { MetadataStore } from '@tagtrust/server';
import { startPostgres } from './postgres.js';
import type { PostgresCluster } from './postgres.js';

export interface Backend {
  name: string;
  /** A fresh, empty store; `reopen` closes it and opens the same data again. */
  open(t: ExecutionContext): Promise<{ store: MetadataStore; reopen(): Promise<MetadataStore> }>;
}

let cluster: Promise<PostgresCluster> | undefined;

/** The shared PostgreSQL cluster of this test process. */
export function postgres(): Promise<PostgresCluster> {
  cluster ??= startPostgres();
  return cluster;
}

export async function stopStoreBackends(): Promise<void> {
  if (cluster) await (await cluster).stop();
  cluster = undefined;
}

async function opened(t: ExecutionContext, open: () => Promise<MetadataStore>, cleanup: () => Promise<void> = async () => {}) {
  let store = await open();
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  return {
    store,
    async reopen() {
      await store.close();
      store = await open();
      return store;
    },
  };
}

export const STORE_BACKENDS: Backend[] = [
  {
    name: 'LevelStore',
    async open(t) {
      const dir = await mkdtemp(join(tmpdir(), 'tagtrust-store-'));
      return opened(t, () => LevelStore.open(join(dir, 'db')), () => rm(dir, { recursive: true, force: true }));
    },
  },
  {
    name: 'PgStore',
    async open(t) {
      const url = await (await postgres()).database();
      return opened(t, () => PgStore.open(url));
    },
  },
];
