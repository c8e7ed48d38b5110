/**
 * Assertions every attack test makes: the attack is refused with a specific typed error (class, then
 * code), the client's trusted state is unchanged byte for byte, and the client works again once
 * honest metadata is served.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { TagTrustError } from '@tagtrust/client';
import type { ErrorCode, Puller, PullerOptions } from '@tagtrust/client';
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
  for (const name of names.sort()) {
    // Kept delegated roles live in a subdirectory (client/src/tuf/trusted-collection.ts).
    const inner = await readdir(join(dir, name)).catch(() => undefined);
    if (inner === undefined) state[name] = await readFile(join(dir, name), 'utf8');
    else for (const file of inner.sort()) state[`${name}/${file}`] = await readFile(join(dir, name, file), 'utf8');
  }
  return state;
}

/**
 * The trusted state after a refused update: the files in `kept` (roles the client workflow verified
 * before the refused step, which it persists at once) may have moved to a newer version; every other
 * file is unchanged byte for byte, so nothing the attack crafted was kept.
 */
export function assertOnlyKept(t: ExecutionContext, before: Record<string, string>, after: Record<string, string>, kept: readonly string[], what = 'trusted state'): void {
  const version = (text: string | undefined) => (text === undefined ? 0 : (JSON.parse(text) as { signed: { version: number } }).signed.version);
  const strict = (state: Record<string, string>) => Object.fromEntries(Object.entries(state).filter(([name]) => !kept.includes(name)));
  t.deepEqual(strict(after), strict(before), `${what}: only ${kept.join(', ') || 'nothing'} may change`);
  for (const name of kept) t.true(version(after[name]) >= version(before[name]), `${what}: ${name} did not go back`);
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

/** Exit codes of the CLI per error code, as docs/exit-codes.md documents them. */
export const EXIT = {
  NOT_FOUND: 5,
  NOT_SIGNED: 6,
  NETWORK: 9,
  SERVER: 9,
  TIMEOUT: 10,
  TOO_LARGE: 11,
  ROLLBACK: 20,
  EXPIRED: 21,
  BAD_SIGNATURE: 22,
  MISMATCH: 23,
  SUBSTITUTION: 24,
  UNTRUSTED_ROOT: 25,
  MALFORMED_METADATA: 26,
  BAD_VERSION: 27,
  IMMUTABLE_TAG: 28,
  POLICY_WEAKENED: 29,
  LOG_INCONSISTENT: 30,
} as const;

export interface RefusalExpectation {
  errorClass: ErrorClass;
  code: keyof typeof EXIT;
  message?: RegExp;
  /** Puller options for the library call. */
  options?: Partial<PullerOptions>;
  /** Extra CLI arguments for `tagtrust resolve` (e.g. --max-age). */
  cliArgs?: string[];
  /** Files verified before the refused step, which the update keeps (see assertOnlyKept); default none. */
  kept?: string[];
}

/**
 * The attack is refused by the library and by `tagtrust resolve` (one-line message, the class's exit
 * code); the trusted state keeps nothing the attack crafted (only `kept` files, verified before the
 * refused step, may advance), a second refusal changes nothing, and no update directory is left behind.
 */
export async function assertRefusedEverywhere(t: ExecutionContext, fx: AttackFixtureLike, expect: RefusalExpectation): Promise<TagTrustError> {
  const before = await trustState(fx.home, fx.gun);
  const err = await assertRefused(t, fx.puller(expect.options).resolve(fx.ref), expect.errorClass, expect.code, expect.message);
  t.regex(err.message, new RegExp(fx.gun.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'the message names the collection');
  const afterLibrary = await trustState(fx.home, fx.gun);
  assertOnlyKept(t, before, afterLibrary, expect.kept ?? [], 'library');
  const cli = await fx.cli(['resolve', fx.ref, ...(expect.cliArgs ?? [])]);
  t.is(cli.code, EXIT[expect.code], cli.stderr);
  t.is(cli.stdout, '');
  const lines = cli.stderr.split('\n').filter((line) => line !== '' && !/ on first use /.test(line));
  t.is(lines.length, 1, `one error line on stderr besides a first-use notice: ${cli.stderr}`);
  t.true(lines[0]!.startsWith('tagtrust: '));
  t.deepEqual(await trustState(fx.home, fx.gun), afterLibrary, 'CLI: trusted state unchanged');
  t.deepEqual(await leftovers(fx.home), []);
  return err;
}

/** After honest metadata is served again, the client resolves `ref` to `digest`. */
export async function assertRecovers(t: ExecutionContext, fx: AttackFixtureLike, digest: string, options?: Partial<PullerOptions>): Promise<void> {
  const resolution = await fx.puller(options).resolve(fx.ref);
  t.is(resolution.digest, digest);
}

interface AttackFixtureLike {
  home: string;
  gun: string;
  ref: string;
  puller(options?: Partial<PullerOptions>): Puller;
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
}
