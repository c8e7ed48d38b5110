/**
 * Bearer-token authorisation for writes. Reads are public. The authoriser answers who the caller
 * is, or throws: 401 for a missing or unknown token, 403 for a token without the needed scope.
 * Checks happen before any lookup, so failed auth never reveals whether a collection exists.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '@tagtrust/shared';

export type Permission = { action: 'push'; gun: string } | { action: 'admin' };

export interface Authorizer {
  /** @returns the name of the token's holder. @throws UnauthorizedError, ForbiddenError */
  authorize(authorizationHeader: string | undefined, permission: Permission): string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** One admin token that may do everything. */
export class AdminTokenAuthorizer implements Authorizer {
  private readonly tokenDigest: Buffer;

  constructor(token: string) {
    this.tokenDigest = digest(token);
  }

  authorize(authorizationHeader: string | undefined, permission: Permission): string {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorizationHeader ?? '');
    const what = permission.action === 'push' ? `publishing to ${permission.gun}` : 'admin requests';
    if (!match) {
      throw new UnauthorizedError(`${what} needs a bearer token: pass --token or set TAGTRUST_TOKEN`);
    }
    if (!timingSafeEqual(digest(match[1]!), this.tokenDigest)) {
      throw new UnauthorizedError(`the token is not valid for ${what}: check TAGTRUST_TOKEN against the server's admin token`);
    }
    return 'admin';
  }
}
