/**
 * Maps failures inside tuf-js to tagtrust's typed errors.
 *
 * tuf-js exports no error classes from its index and wraps snapshot/targets failures in RuntimeErrors
 * that keep the cause only as text. So the original failure is captured where it happens:
 * - the fetcher records download failures and the guard's refusals (already typed);
 * - `watchTrustedSet` wraps the four update methods of tuf-js's TrustedMetadataStore and records the
 *   error each throws, with the role and the versions involved.
 * A successful step clears the log, so the last entry is the failure that ended the update. Each entry
 * is mapped by the error's class name (tuf-js and @tufjs/models define plain subclasses of Error) and,
 * where one class covers several cases, its message. Text rules on the thrown error are only the
 * fallback. The attack tests (test/attack-*.test.ts) and test/tuf-error-map.test.ts pin each rule to a
 * real failure, so a tuf-js upgrade that changes a class or message fails a test, not a user.
 */
import {
  BadVersionError,
  ExpiredMetadataError,
  ForbiddenError,
  MalformedMetadataError,
  MismatchError,
  NotFoundError,
  RollbackError,
  ServerError,
  SignatureError,
  TagTrustError,
  TimeoutError,
  UnauthorizedError,
  UntrustedRootError,
  delegatorOf,
} from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import { revokedKeyError, unlistedSigners } from './revoked-signers.js';

/** What the trusted set held when a step failed: version and expiry per role, and listed versions. */
export interface TrustedVersions {
  root?: RoleVersion;
  timestamp?: RoleVersion;
  snapshot?: RoleVersion;
  targets?: RoleVersion;
  /** The snapshot version the trusted timestamp lists. */
  listedSnapshot?: number;
}

export interface RoleVersion {
  version: number;
  expires: string;
}

export interface Failure {
  /** Role of the file being downloaded or verified. */
  role: string;
  error: unknown;
  /** Version and expiry read from the incoming file, when it parses. */
  incoming?: Partial<RoleVersion>;
  trusted?: TrustedVersions;
  /** For a delegated role: key IDs that signed it but that its delegator does not list (revoked keys). */
  unlistedSigners?: string[];
  /** Whether the delegator's previously trusted metadata listed one of them: a revocation seen. */
  revoked?: boolean;
}

/** The failures of one update; the latest one explains why it ended. */
export class FailureLog {
  private last?: Failure;
  /** The role -> key IDs the top-level targets this client trusted before the update listed (to tell a revoked key). */
  previouslyListed: (role: string) => string[] = () => [];

  get latest(): Failure | undefined {
    return this.last;
  }

  record(failure: Failure): void {
    this.last = failure;
  }

  clear(): void {
    this.last = undefined;
  }
}

/** The part of tuf-js's TrustedMetadataStore the watcher relies on. */
interface TrustedSetLike {
  root?: { signed: { version: number; expires: string } };
  timestamp?: { signed: { version: number; expires: string; snapshotMeta?: { version: number } } };
  snapshot?: { signed: { version: number; expires: string } };
  targets?: { signed: { version: number; expires: string } };
  updateRoot(bytes: Buffer): unknown;
  updateTimestamp(bytes: Buffer): unknown;
  updateSnapshot(bytes: Buffer, trusted?: boolean): unknown;
  updateDelegatedTargets(bytes: Buffer, roleName: string, delegatorName: string): unknown;
}

/**
 * Records every failure of the trusted set inside `updater` (a tuf-js 5 Updater) in `log`.
 * @throws Error when the Updater no longer has the expected shape (a tuf-js upgrade: fix this module)
 */
export function watchTrustedSet(updater: object, log: FailureLog): void {
  const set = Reflect.get(updater, 'trustedSet') as TrustedSetLike | undefined;
  const methods = ['updateRoot', 'updateTimestamp', 'updateSnapshot', 'updateDelegatedTargets'] as const;
  if (!set || methods.some((m) => typeof set[m] !== 'function')) {
    throw new Error('tuf-js Updater has no trustedSet with update methods: the tuf-js version is not the one tagtrust supports');
  }
  const roleOf: Record<(typeof methods)[number], (args: unknown[]) => string> = {
    updateRoot: () => 'root',
    updateTimestamp: () => 'timestamp',
    updateSnapshot: () => 'snapshot',
    updateDelegatedTargets: (args) => String(args[1]),
  };
  for (const method of methods) {
    const original = (set[method] as (...args: unknown[]) => unknown).bind(set);
    (set as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const trusted = trustedVersions(set);
      try {
        const result = original(...args);
        log.clear();
        return result;
      } catch (error) {
        const role = roleOf[method](args);
        const unlisted = method === 'updateDelegatedTargets' ? unlistedSigners(args[0], Reflect.get(Reflect.get(set, 'trustedSet') ?? {}, String(args[2])), role) : [];
        const revoked = unlisted.some((id) => log.previouslyListed(role).includes(id));
        log.record({ role, error, incoming: incomingVersion(args[0]), trusted, ...(unlisted.length > 0 ? { unlistedSigners: unlisted, revoked } : {}) });
        throw error;
      }
    };
  }
}

function trustedVersions(set: TrustedSetLike): TrustedVersions {
  const pick = (m?: { signed: { version: number; expires: string } }) => (m ? { version: m.signed.version, expires: m.signed.expires } : undefined);
  return {
    root: pick(set.root),
    timestamp: pick(set.timestamp),
    snapshot: pick(set.snapshot),
    targets: pick(set.targets),
    listedSnapshot: set.timestamp?.signed.snapshotMeta?.version,
  };
}

function incomingVersion(bytes: unknown): Partial<RoleVersion> | undefined {
  if (!Buffer.isBuffer(bytes)) return undefined;
  try {
    const signed = (JSON.parse(bytes.toString('utf8')) as { signed?: { version?: unknown; expires?: unknown } }).signed;
    return {
      ...(typeof signed?.version === 'number' ? { version: signed.version } : {}),
      ...(typeof signed?.expires === 'string' ? { expires: signed.expires } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The typed error for a failed update: the deadline's TimeoutError if it passed, a TagTrustError
 * as is, else the mapped latest failure, else a text rule on the thrown error.
 */
export function mapTufError(err: unknown, gun: string, deadline: Deadline, log?: FailureLog): TagTrustError {
  if (deadline.expired) {
    const recorded = log?.latest?.error;
    return recorded instanceof TimeoutError ? recorded : deadline.error();
  }
  if (err instanceof TagTrustError) return err;
  const failure = log?.latest;
  if (failure) return mapFailure(failure, gun);
  return mapByText(err, gun);
}

/** 401/403 on a download: the server requires pull scopes (`--require-pull-token`). */
export function accessDenied(status: number | undefined, gun: string, role: string, cause: unknown): TagTrustError | undefined {
  if (status === 401) {
    return new UnauthorizedError(`reading ${gun} needs a token: the server requires pull scopes; pass --token or set TAGTRUST_TOKEN`, { cause });
  }
  if (status === 403) {
    return new ForbiddenError(`reading ${role} of ${gun} was refused (HTTP 403): the token has no pull scope for this collection; ask the operator`, { cause });
  }
  return undefined;
}

const TOP_LEVEL = new Set(['root', 'timestamp', 'snapshot', 'targets']);

const v = (n: number | undefined) => (n === undefined ? '' : ` v${n}`);

/** Maps one recorded failure to a typed error whose message names the collection, role and versions. */
export function mapFailure(failure: Failure, gun: string): TagTrustError {
  const { error, role, incoming, trusted } = failure;
  if (error instanceof TagTrustError) return error;
  const kind = (error as Error)?.constructor?.name ?? 'Error';
  const message = String((error as Error)?.message ?? error);
  const cause = { cause: error };
  let m: RegExpExecArray | null;

  switch (kind) {
    case 'DownloadHTTPError': {
      const status = (error as { statusCode?: number }).statusCode;
      const denied = accessDenied(status, gun, role, error);
      if (denied) return denied;
      if (role === 'timestamp' && status === 404) {
        return new NotFoundError(`collection ${gun} has no timestamp on the server: check the name, or initialise it with \`tagtrust init ${gun}\``, cause);
      }
      if (status !== undefined && status >= 500) {
        return new ServerError(
          `downloading ${role} of ${gun} failed: the server answered HTTP ${status} (a server error, not a problem with the metadata); retry later, and tell the operator if it persists`,
          cause,
        );
      }
      return new ServerError(`downloading ${role} of ${gun} failed (${message}): the server lacks a file its metadata lists; ask the operator`, cause);
    }
    case 'ExpiredMetadataError': {
      const expiredRole = /^Final (\w+)\.json is expired/.exec(message)?.[1] ?? /^(.+)\.json is expired/.exec(message)?.[1] ?? role;
      const known = expiredRole === role && incoming?.expires ? incoming : trusted?.[expiredRole as keyof Omit<TrustedVersions, 'listedSnapshot'>];
      return new ExpiredMetadataError(
        `${expiredRole}${v(known?.version)} of ${gun} expired${known?.expires ? ` at ${known.expires}` : ''} (now ${new Date().toISOString()}): ` +
          'the server or a mirror serves stale metadata (freeze attack) or has stopped re-signing it; retry later, and tell the operator if it persists',
        cause,
      );
    }
    case 'BadVersionError':
    case 'EqualVersionError': {
      if ((m = /^New timestamp version (\d+) is less than current version (\d+)/.exec(message))) {
        return rollback(gun, 'timestamp', m[1]!, m[2]!, error);
      }
      if ((m = /^New snapshot version (\d+) is less than current version (\d+)/.exec(message))) {
        return rollback(gun, `snapshot (listed by timestamp${v(incoming?.version)})`, m[1]!, m[2]!, error);
      }
      if ((m = /^New version (\d+) of (.+)\.json is less than current version (\d+)/.exec(message))) {
        return rollback(gun, `${m[2]} (listed by snapshot${v(incoming?.version)})`, m[1]!, m[3]!, error);
      }
      if ((m = /^Expected version (\d+), got (\d+)/.exec(message))) {
        const [expected, got] = [Number(m[1]), Number(m[2])];
        if (got < expected) {
          return new RollbackError(
            `the server offers root v${got} of ${gun} as ${expected}.root.json, but this client already trusts root v${expected - 1}: ` +
              'refusing a rollback; the server, a mirror or the network replays an old root',
            cause,
          );
        }
        return new BadVersionError(`the server served root v${got} of ${gun} as ${expected}.root.json: the root chain is broken; ask the operator`, cause);
      }
      if ((m = /^Version (\d+) of (.+) does not match snapshot version (\d+)/.exec(message))) {
        return new MismatchError(
          `${m[2]} v${m[1]} of ${gun} is not the version snapshot${v(trusted?.snapshot?.version)} lists (v${m[3]}): mix-and-match of metadata versions; refusing it; retry, and tell the operator of the server if it persists`,
          cause,
        );
      }
      if (/^Snapshot version doesn't match timestamp/.test(message)) {
        return new MismatchError(
          `snapshot${v(trusted?.snapshot?.version ?? incoming?.version)} of ${gun} is not the version timestamp${v(trusted?.timestamp?.version)} lists` +
            `${trusted?.listedSnapshot === undefined ? '' : ` (v${trusted.listedSnapshot})`}: mix-and-match of metadata versions; refusing it; retry, and tell the operator of the server if it persists`,
          cause,
        );
      }
      return new BadVersionError(`${role} of ${gun} has an unexpected version (${message}); refusing it; do not pull, and tell the operator of the server`, cause);
    }
    case 'UnsignedMetadataError': {
      const counted = /was signed by (\d+\/\d+) keys/.exec(message)?.[1];
      if (role === 'root') {
        return new UntrustedRootError(
          `root${v(incoming?.version)} of ${gun} is not signed by the threshold of root${v(trusted?.root?.version)}'s keys and its own${counted ? ` (${counted})` : ''}: ` +
            'refusing the new root; the server or network is forging a root rotation, or the publisher signed it incompletely',
          cause,
        );
      }
      const keyHolder = TOP_LEVEL.has(role) ? `root${v(trusted?.root?.version)}` : delegatorOf(role);
      if (!TOP_LEVEL.has(role) && failure.unlistedSigners) return revokedKeyError(role, v(incoming?.version), gun, keyHolder, failure.unlistedSigners, failure.revoked === true, error);
      return new SignatureError(
        `${role}${v(incoming?.version)} of ${gun} is not signed by enough of the keys ${keyHolder} trusts for it${counted ? ` (${counted})` : ''}: ` +
          'refusing it; the server or network is forging metadata (or serving another collection\'s). Do not pull; tell the operator',
        cause,
      );
    }
    case 'LengthOrHashMismatchError':
      return new MismatchError(
        `${role}${v(incoming?.version)} of ${gun} does not match the length and hash its parent role lists (${message}): ` +
          'mix-and-match or corrupted download; refusing it. Retry; tell the operator if it persists',
        cause,
      );
    case 'RepositoryError':
      if ((m = /^Missing file (.+) in new snapshot/.exec(message))) {
        return new RollbackError(`snapshot${v(incoming?.version)} of ${gun} no longer lists ${m[1]}, which snapshot${v(trusted?.snapshot?.version)} listed: refusing a rollback`, cause);
      }
      return new MalformedMetadataError(`${role}${v(incoming?.version)} of ${gun} is not acceptable metadata (${message}); refusing it; do not pull, and tell the operator of the server`, cause);
    case 'ValueError':
    case 'TypeError':
    case 'SyntaxError':
      return new MalformedMetadataError(`${role} of ${gun} is not valid TUF metadata (${message}); refusing it; do not pull, and tell the operator of the server`, cause);
    default:
      return mapByText(error, gun);
  }
}

function rollback(gun: string, what: string, offered: string, trusted: string, cause: unknown): RollbackError {
  return new RollbackError(
    `the server offers ${what} v${offered} of ${gun}, older than v${trusted} which this client already trusts: ` +
      'refusing a rollback; the server, a mirror or the network replays old metadata. Do not pull; retry later or tell the operator',
    { cause },
  );
}

interface TextRule {
  test: RegExp;
  make: (detail: string, gun: string, cause: unknown) => TagTrustError;
}

/** Fallback when no failure was recorded: rules on the thrown error's text (and causes). */
const TEXT_RULES: TextRule[] = [
  { test: /is expired/, make: (d, gun, cause) => new ExpiredMetadataError(`metadata of ${gun} has expired (${d}): the server serves stale metadata (freeze attack); retry later`, { cause }) },
  { test: /is less than current version/, make: (d, gun, cause) => new RollbackError(`metadata of ${gun} is older than what this client trusts (${d}): refusing a rollback`, { cause }) },
  { test: /does not match snapshot version|doesn't match timestamp|Expected (hash|length)/, make: (d, gun, cause) => new MismatchError(`metadata of ${gun} does not match what its parent role lists (${d}): refusing it`, { cause }) },
  { test: /signed by \d+\/\d+ keys/, make: (d, gun, cause) => new SignatureError(`metadata of ${gun} is not signed by enough trusted keys (${d}): refusing it`, { cause }) },
];

function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth += 1) {
    const e = current as Error;
    parts.push(`${e.constructor?.name ?? 'Error'}: ${e.message ?? String(e)}`);
    current = e.cause;
  }
  return parts.join(' <- ');
}

function mapByText(err: unknown, gun: string): TagTrustError {
  const text = describe(err);
  const detail = text.replace(/^(RuntimeError|Error): /, '').slice(0, 300);
  for (const rule of TEXT_RULES) if (rule.test.test(text)) return rule.make(detail, gun, err);
  return new MalformedMetadataError(`verifying metadata of ${gun} failed: ${detail}`, { cause: err });
}
