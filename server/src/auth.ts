/**
 * Bearer-token authorisation. The authoriser answers who the caller is, or throws: 401 for a missing
 * or unknown token, 403 for a token without the needed scope.
 *
 * Rules:
 * - Scopes: `admin` (everything: rotation, deletion, tokens, collection listing, and push/pull to any
 *   collection), `push:<pattern>` (publish to matching collections, and read them), `pull:<pattern>`
 *   (read matching collections). A pattern is a GUN where `*` matches within one path segment
 *   (no `/`) and `**` matches anything, e.g. `push:registry.example.com/team-a/*`.
 * - Reads are public unless `requirePullScope` is set.
 * - Checks happen before any lookup, and messages do not depend on the collection, so failed auth
 *   never reveals whether a collection exists.
 * - Tokens are compared by their sha256; the secret is never stored or logged.
 * - A token past its `expires` time is refused like an unknown one (401), with its name and expiry.
 * - Each named token's use is recorded (last-used time) at most once per USE_RECORD_INTERVAL_MS,
 *   in the background: authorisation never waits for that write.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, InvalidInputError, UnauthorizedError } from '@tagtrust/shared';
import type { MetadataStore } from './storage/store.js';
import { setBounded } from './bounded-map.js';

/** Last-used times are recorded to about this precision. */
const USE_RECORD_INTERVAL_MS = 60_000;
const MAX_REMEMBERED_USES = 1_000;

export type Permission = { action: 'push'; gun: string } | { action: 'pull'; gun: string } | { action: 'admin' };

export interface Caller {
  /** Token name, recorded in the audit trail; `admin` for the bootstrap admin token, `anonymous` for public reads. */
  name: string;
}

export interface Authorizer {
  /** @throws UnauthorizedError, ForbiddenError */
  authorize(authorizationHeader: string | undefined, permission: Permission): Promise<Caller>;
}

/** The sha256 (hex) a token is stored and looked up by. */
export const tokenSha256 = (token: string) => createHash('sha256').update(token).digest('hex');

const SCOPE = /^(admin|(push|pull):([^\s:]+))$/;

/** Validates a scope string. @throws InvalidInputError */
export function parseScope(scope: string): string {
  const match = SCOPE.exec(scope);
  if (!match) {
    throw new InvalidInputError(`scope "${String(scope).slice(0, 80)}" is not admin, push:<gun or glob> or pull:<gun or glob>`);
  }
  return scope;
}

function patternRegExp(pattern: string): RegExp {
  const source = pattern
    .split('**')
    .map((part) => part.split('*').map((text) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

/** True when `gun` matches a scope pattern (`*` within one path segment, `**` anything). */
export function gunPatternMatches(pattern: string, gun: string): boolean {
  return patternRegExp(pattern).test(gun);
}

/** True when one of `scopes` grants `permission`. */
export function scopesAllow(scopes: readonly string[], permission: Permission): boolean {
  for (const scope of scopes) {
    if (scope === 'admin') return true;
    if (permission.action === 'admin') continue;
    const match = SCOPE.exec(scope);
    if (!match || !match[3]) continue;
    const kind = match[2];
    if (kind === 'pull' && permission.action !== 'pull') continue;
    if (patternRegExp(match[3]).test(permission.gun)) return true;
  }
  return false;
}

export interface TokenAuthorizerOptions {
  store: MetadataStore;
  /** The bootstrap admin token (TAGTRUST_ADMIN_TOKEN or DIR/admin.token). */
  adminToken: string;
  /** When true, reads need a token with a matching pull (or push, or admin) scope. */
  requirePullScope?: boolean;
  now?: () => Date;
  /** Told when recording a token's last use failed (default: ignored; the next use retries). */
  onUseRecordFailed?: (err: Error) => void;
}

/** Tokens from the store plus the bootstrap admin token. */
export class TokenAuthorizer implements Authorizer {
  private readonly adminDigest: Buffer;
  private readonly store: MetadataStore;
  private readonly requirePullScope: boolean;
  private readonly now: () => Date;
  private readonly onUseRecordFailed: (err: Error) => void;
  /** Token name -> when its use was last recorded (ms). */
  private readonly recordedUse = new Map<string, number>();

  constructor(options: TokenAuthorizerOptions) {
    this.adminDigest = createHash('sha256').update(options.adminToken).digest();
    this.store = options.store;
    this.requirePullScope = options.requirePullScope ?? false;
    this.now = options.now ?? (() => new Date());
    this.onUseRecordFailed = options.onUseRecordFailed ?? (() => {});
  }

  async authorize(authorizationHeader: string | undefined, permission: Permission): Promise<Caller> {
    if (permission.action === 'pull' && !this.requirePullScope) return { name: 'anonymous' };
    const what = describe(permission);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorizationHeader ?? '');
    if (!match) throw new UnauthorizedError(`${what} needs a bearer token: pass --token or set TAGTRUST_TOKEN`);
    const digest = createHash('sha256').update(match[1]!).digest();
    if (timingSafeEqual(digest, this.adminDigest)) return { name: 'admin' };
    const token = await this.store.getTokenBySha256(digest.toString('hex'));
    if (!token) throw new UnauthorizedError(`the token is not valid for ${what}: it is unknown or revoked; check TAGTRUST_TOKEN or ask the operator for a token`);
    const now = this.now();
    if (token.expires !== undefined && now.getTime() >= Date.parse(token.expires)) {
      throw new UnauthorizedError(`token ${token.name} expired at ${token.expires}: ask the operator for a new token`);
    }
    this.recordUse(token.name, now);
    if (!scopesAllow(token.scopes, permission)) {
      throw new ForbiddenError(`token ${token.name} has no scope for ${what}: its scopes are ${token.scopes.join(' ') || 'none'}`);
    }
    return { name: token.name };
  }

  private recordUse(name: string, now: Date): void {
    const last = this.recordedUse.get(name);
    if (last !== undefined && now.getTime() - last < USE_RECORD_INTERVAL_MS) return;
    setBounded(this.recordedUse, name, now.getTime(), MAX_REMEMBERED_USES);
    this.store.recordTokenUse(name, now.toISOString()).catch((err: Error) => {
      this.recordedUse.delete(name);
      this.onUseRecordFailed(err);
    });
  }
}

function describe(permission: Permission): string {
  switch (permission.action) {
    case 'push':
      return `publishing to ${permission.gun}`;
    case 'pull':
      return `reading ${permission.gun}`;
    case 'admin':
      return 'an admin request';
  }
}
