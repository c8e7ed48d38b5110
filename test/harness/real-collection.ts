/**
 * Attack material taken from a real collection on a real tagtrust-server (test/helpers/server.ts):
 * - `captureCollection`: every file a client would download now, as exact bytes, to replay later
 *   through a MaliciousServer;
 * - `stealOnlineKeys`: the server's snapshot and timestamp private keys, unsealed from its level
 *   database with the master key in its data dir (the server is stopped meanwhile and restarted).
 * A publisher's keys come from test/helpers/metadata.ts (`collectionKeys`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMasterKey } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { LevelStore, OnlineKeys } from '@tagtrust/server';
import { tufBasePath } from '@tagtrust/shared';
import type { Metadata, SnapshotSigned, TimestampSigned } from '@tagtrust/shared';
import type { TestServer } from '../helpers/server.js';

async function get(url: string): Promise<Buffer | undefined> {
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The files of `gun` a client downloads now: all roots, root.json, timestamp and the listed snapshot and targets. */
export async function captureCollection(serverUrl: string, gun: string): Promise<Map<string, Buffer>> {
  const base = `${serverUrl}${tufBasePath(gun)}`;
  const files = new Map<string, Buffer>();
  for (let version = 1; ; version += 1) {
    const root = await get(`${base}/${version}.root.json`);
    if (!root) break;
    files.set(`${version}.root.json`, root);
    files.set('root.json', root);
  }
  const timestamp = (await get(`${base}/timestamp.json`))!;
  files.set('timestamp.json', timestamp);
  const snapshotVersion = (JSON.parse(timestamp.toString()) as Metadata<TimestampSigned>).signed.meta['snapshot.json'].version;
  const snapshot = (await get(`${base}/${snapshotVersion}.snapshot.json`))!;
  files.set(`${snapshotVersion}.snapshot.json`, snapshot);
  for (const [name, info] of Object.entries((JSON.parse(snapshot.toString()) as Metadata<SnapshotSigned>).signed.meta)) {
    const role = name.replace(/\.json$/, '');
    const file = `${info.version}.${encodeURIComponent(role)}.json`;
    files.set(file, (await get(`${base}/${file}`))!);
  }
  return files;
}

/** Parses a captured file. */
export function parseFile<T extends Metadata>(files: Map<string, Buffer>, name: string): T {
  return JSON.parse(files.get(name)!.toString('utf8')) as T;
}

/** The server's online (snapshot, timestamp) keys of `gun`, unsealed from its database. Restarts the server. */
export async function stealOnlineKeys(server: TestServer, gun: string): Promise<{ snapshot: KeyPair; timestamp: KeyPair }> {
  await server.server.close();
  const masterKey = parseMasterKey(await readFile(join(server.dataDir, 'master.key'), 'utf8'));
  const store = await LevelStore.open(join(server.dataDir, 'db'));
  try {
    const keys = new OnlineKeys(store, masterKey);
    const [snapshot, timestamp] = await Promise.all([keys.signer(gun, 'snapshot'), keys.signer(gun, 'timestamp')]);
    if (!snapshot || !timestamp) throw new Error(`${gun} has no online keys`);
    return { snapshot, timestamp };
  } finally {
    await store.close();
    await server.restart();
  }
}
