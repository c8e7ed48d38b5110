/**
 * Assertions every attack test makes: the attack is refused with a specific typed error (class, then
 * code), the client's trusted state is unchanged byte for byte, and the client works again once
 * honest metadata is served.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { TagTrustError } from '@tagtrust/client';
import type { ErrorCode } from '@tagtrust/client';
import { trustDirOf } from './paths.js';

type ErrorClass = abstract new (...args: never[]) => TagTrustError;

/** Awaits `promise`, asserts it rejects with an instance of `errorClass` with `code`; returns the error. */
export async function assertRefused<E extends TagTrustError>(
  t: ExecutionContext,
  promise: Promise<unknown>,
  errorClass: ErrorClass,
  code: ErrorCode,
  message?: RegExp,
): Promise<E> {
  const err = await t.throwsAsync(promise);
  t.true(err instanceof errorClass, `expected ${errorClass.name}, got ${err?.constructor.name}: ${err?.message}`);
  t.is((err as TagTrustError).code, code, err?.message);
  if (message) t.regex(err!.message, message);
  return err as E;
}

/** The trusted state of a collection in a home: file name -> exact contents. */
export async function trustState(home: string, gun: string): Promise<Record<string, string>> {
  const dir = trustDirOf(home, gun);
  const state: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return state;
  }
  for (const name of names.sort()) state[name] = await readFile(join(dir, name), 'utf8');
  return state;
}

/** Versions of the trusted roles, for readable assertions. */
export async function trustedVersions(home: string, gun: string): Promise<Record<string, number>> {
  const state = await trustState(home, gun);
  const out: Record<string, number> = {};
  for (const [name, text] of Object.entries(state)) out[name.replace(/\.json$/, '')] = (JSON.parse(text) as { signed: { version: number } }).signed.version;
  return out;
}

/** No temporary update directories are left behind in a home's trust dir. */
export async function leftovers(home: string): Promise<string[]> {
  try {
    return (await readdir(join(home, 'trust'))).filter((name) => name.startsWith('.update-'));
  } catch {
    return [];
  }
}
