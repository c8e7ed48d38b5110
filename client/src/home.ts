/**
 * Layout of TAGTRUST_HOME (directories 0700, files 0600):
 *   keys/<keyid>.key          encrypted private keys (root, targets, delegations)
 *   trust/<gun, URI-encoded>/ trusted metadata per collection, the rollback state tuf-js reads
 *                             (root.json, timestamp.json, snapshot.json, targets.json)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export const keysDir = (home: string) => join(home, 'keys');
export const keyPath = (home: string, keyId: string) => join(keysDir(home), `${keyId}.key`);
export const trustDir = (home: string, gun: string) => join(home, 'trust', encodeURIComponent(gun));

export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}
