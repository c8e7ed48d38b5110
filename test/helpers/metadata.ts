/**
 * Raw HTTP access to a test server's TUF files and publish endpoint, the publisher keys of a home,
 * and the "nothing stored changed" check every refusal test ends with.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { KeyPair } from '@tagtrust/keys';
import { decryptKeyFile, parseKeyFile } from '@tagtrust/keys';
import { tufBasePath } from '@tagtrust/shared';
import type { ApiErrorBody, Metadata, TopLevelRoleName } from '@tagtrust/shared';
import { PASSPHRASES } from './client.js';
import { ADMIN_TOKEN } from './server.js';

export const ROLES: readonly TopLevelRoleName[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

async function toResult(response: Response): Promise<HttpResult> {
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** GET `<base>/<file>` of a collection's TUF directory. */
export async function getTufFile(url: string, gun: string, file: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return toResult(await fetch(`${url}${tufBasePath(gun)}/${file}`, { headers }));
}

/** The latest metadata of a role, parsed; fails when it is not served. */
export async function latestMetadata<T extends Metadata = Metadata>(url: string, gun: string, role: string): Promise<T> {
  const result = await getTufFile(url, gun, `${role}.json`);
  if (result.status !== 200) throw new Error(`GET ${role}.json of ${gun}: HTTP ${result.status} ${result.text}`);
  return result.json as T;
}

/** POST a publish body (any JSON value, or raw text) with the admin token unless `token` is null. */
export async function publishRaw(url: string, gun: string, body: unknown, token: string | null = ADMIN_TOKEN): Promise<HttpResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return toResult(await fetch(`${url}${tufBasePath(gun)}/`, { method: 'POST', headers, body: text }));
}

/** The error envelope of a failed response: `{code, message, ...}`; fails when the body is not one. */
export function apiError(result: HttpResult): ApiErrorBody['error'] {
  const error = (result.json as Partial<ApiErrorBody> | undefined)?.error;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') {
    throw new Error(`HTTP ${result.status} without a tagtrust error body: ${result.text.slice(0, 200)}`);
  }
  return error;
}

/** What a collection serves: per role, the latest version and its exact bytes (undefined: not served). */
export type ServedState = Record<TopLevelRoleName, { version: number; text: string } | undefined>;

export async function servedState(url: string, gun: string): Promise<ServedState> {
  const entries = await Promise.all(
    ROLES.map(async (role) => {
      const result = await getTufFile(url, gun, `${role}.json`);
      if (result.status === 404) return [role, undefined] as const;
      if (result.status !== 200) throw new Error(`GET ${role}.json of ${gun}: HTTP ${result.status} ${result.text}`);
      return [role, { version: (result.json as Metadata).signed.version, text: result.text }] as const;
    }),
  );
  return Object.fromEntries(entries) as ServedState;
}

/**
 * Asserts that nothing stored for the collection changed since `before`: every role's latest version
 * and served bytes are the same, and no next version of any role was stored.
 */
export async function assertUnchanged(t: ExecutionContext, url: string, gun: string, before: ServedState): Promise<void> {
  t.deepEqual(await servedState(url, gun), before, `the served metadata of ${gun} changed`);
  for (const role of ROLES) {
    const next = (before[role]?.version ?? 0) + 1;
    const result = await getTufFile(url, gun, `${next}.${role}.json`);
    t.is(result.status, 404, `${next}.${role}.json of ${gun} was stored`);
  }
}

export interface CollectionKeys {
  root: KeyPair;
  targets: KeyPair;
}

/** Decrypts the root and targets keys `tagtrust init <gun>` created in `home`. */
export async function collectionKeys(home: string, gun: string): Promise<CollectionKeys> {
  const dir = join(home, 'keys');
  const found: Partial<CollectionKeys> = {};
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const file = parseKeyFile(await readFile(path, 'utf8'), path);
    if (file.gun !== gun || (file.role !== 'root' && file.role !== 'targets')) continue;
    found[file.role] = await decryptKeyFile(file, PASSPHRASES[file.role]);
  }
  if (!found.root || !found.targets) throw new Error(`no root and targets keys for ${gun} in ${dir}`);
  return found as CollectionKeys;
}
