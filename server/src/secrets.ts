/**
 * The server's own secrets, kept in the data directory when not given through the environment:
 * - master key (seals online private keys): TAGTRUST_MASTER_KEY, else `<data>/master.key` (0600);
 * - admin token: TAGTRUST_ADMIN_TOKEN, else `<data>/admin.token` (0600), created on first start.
 * Neither value is ever logged; only the file paths are.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateMasterKey, parseMasterKey, writeFileAtomic } from '@tagtrust/keys';

export interface Secret<T> {
  value: T;
  /** Where it came from: an environment variable name or a file path. */
  source: string;
  /** True when this start created it. */
  created: boolean;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function loadMasterKey(dataDir: string, envValue: string | undefined): Promise<Secret<Buffer>> {
  if (envValue) return { value: parseMasterKey(envValue), source: 'TAGTRUST_MASTER_KEY', created: false };
  const path = join(dataDir, 'master.key');
  const text = await readOptional(path);
  if (text !== undefined) return { value: parseMasterKey(text), source: path, created: false };
  const key = generateMasterKey();
  await writeFileAtomic(path, `${key.toString('hex')}\n`, 0o600);
  return { value: key, source: path, created: true };
}

export async function loadAdminToken(dataDir: string, envValue: string | undefined): Promise<Secret<string>> {
  if (envValue) return { value: envValue.trim(), source: 'TAGTRUST_ADMIN_TOKEN', created: false };
  const path = join(dataDir, 'admin.token');
  const text = await readOptional(path);
  if (text !== undefined && text.trim()) return { value: text.trim(), source: path, created: false };
  const token = `tt_${randomBytes(32).toString('base64url')}`;
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return { value: token, source: path, created: true };
}
