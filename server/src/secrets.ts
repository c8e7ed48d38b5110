/**
 * The server's own secrets, kept in the data directory when not given through the environment:
 * - master key (seals online private keys): TAGTRUST_MASTER_KEY, else `<data>/master.key` (0600),
 *   created on first start only: when the data directory already holds a database, a missing
 *   master.key is refused (a new key could not open the online keys sealed with the lost one);
 * - admin token: TAGTRUST_ADMIN_TOKEN, else `<data>/admin.token` (0600), created on first start;
 *   at least 32 characters.
 * Neither value is ever logged; only the file paths (and a short token's length) are.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateMasterKey, parseMasterKey, writeFileAtomic } from '@tagtrust/keys';
import { UsageError } from '@tagtrust/shared';

/** Shortest admin token accepted: 32 characters (the generated one has 46). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

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
  if (await stat(join(dataDir, 'db')).then(() => true, () => false)) {
    throw new UsageError(
      `${dataDir} holds a database but no master.key: its online keys are sealed with that key and a new one cannot open them; ` +
        'restore master.key from your backup (or set TAGTRUST_MASTER_KEY), then start again',
    );
  }
  const key = generateMasterKey();
  await writeFileAtomic(path, `${key.toString('hex')}\n`, 0o600);
  return { value: key, source: path, created: true };
}

export async function loadAdminToken(dataDir: string, envValue: string | undefined): Promise<Secret<string>> {
  if (envValue) return { value: requireLongAdminToken(envValue.trim(), 'TAGTRUST_ADMIN_TOKEN'), source: 'TAGTRUST_ADMIN_TOKEN', created: false };
  const path = join(dataDir, 'admin.token');
  const text = await readOptional(path);
  if (text !== undefined && text.trim()) return { value: requireLongAdminToken(text.trim(), path), source: path, created: false };
  const token = `tt_${randomBytes(32).toString('base64url')}`;
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return { value: token, source: path, created: true };
}

/** @throws UsageError when the admin token from `source` is shorter than ADMIN_TOKEN_MIN_LENGTH */
export function requireLongAdminToken(token: string, source: string): string {
  if (token.length < ADMIN_TOKEN_MIN_LENGTH) {
    throw new UsageError(
      `the admin token in ${source} is ${token.length} characters long; it grants every scope and must be at least ${ADMIN_TOKEN_MIN_LENGTH}: ` +
        'generate one with `openssl rand -base64 32`, or unset TAGTRUST_ADMIN_TOKEN to let the server create DIR/admin.token',
    );
  }
  return token;
}
