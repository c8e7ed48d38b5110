/**
 * Checks collections the way a puller would, from any source of metadata files (a backup file, a
 * database just filled by migrate-data): the files are served on 127.0.0.1 (an ephemeral port, only
 * for the check) and the TUF client (`Puller`, with a fresh home, starting from each collection's
 * root v1 and walking every root rotation) updates each collection and lists its tags. A collection
 * passes when root -> timestamp -> snapshot -> targets and every delegation verify.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `/v2/<gun>/_trust/tuf/[<N>.]<role>.json` */
const METADATA_PATH = /^\/v2\/(.+)\/_trust\/tuf\/(?:([1-9]\d{0,11})\.)?(.+)\.json$/;

export interface CollectionCheck {
  gun: string;
  /** Number of verified signed tags, when it passed. */
  tags?: number;
  /** One line: why it failed. */
  error?: string;
}

/** The text of a version of a role (the latest when `version` is undefined), or undefined. */
export type MetadataLookup = (gun: string, role: string, version?: number) => Promise<string | undefined>;

export async function verifyCollections(guns: Iterable<string>, lookup: MetadataLookup): Promise<CollectionCheck[]> {
  const listener = createServer((req, res) => {
    const match = req.method === 'GET' ? METADATA_PATH.exec(decodeURIComponent((req.url ?? '').split('?', 1)[0]!)) : null;
    const found = match ? lookup(match[1]!, match[3]!, match[2] === undefined ? undefined : Number(match[2])) : Promise.resolve(undefined);
    found.then(
      (text) => {
        if (text === undefined) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"not in the source"}}');
        else res.writeHead(200, { 'content-type': 'application/json' }).end(text);
      },
      (err: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'SERVER', message: err.message } })),
    );
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const home = await mkdtemp(join(tmpdir(), 'tagtrust-verify-'));
  try {
    const { Puller } = await import('@tagtrust/client');
    const collections: CollectionCheck[] = [];
    for (const gun of guns) {
      // A delegated role that fails verification is only a warning to a puller (its tags are left
      // out); here it fails the collection.
      const problems: string[] = [];
      const firstRoot = await lookup(gun, 'root', 1);
      if (firstRoot === undefined) {
        collections.push({ gun, error: 'there is no root v1 for it' });
        continue;
      }
      const rootFile = join(home, `root-${collections.length}.json`);
      await writeFile(rootFile, firstRoot);
      const server = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
      const puller = new Puller({ server, home, rootFile, warn: (message) => problems.push(message) });
      try {
        const tags = (await puller.list(gun)).length;
        collections.push(problems.length === 0 ? { gun, tags } : { gun, error: problems.join('; ') });
      } catch (err) {
        collections.push({ gun, error: (err as Error).message });
      }
    }
    return collections;
  } finally {
    listener.closeAllConnections();
    await new Promise<void>((done) => listener.close(() => done()));
    await rm(home, { recursive: true, force: true });
  }
}
