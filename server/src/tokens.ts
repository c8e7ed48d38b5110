/**
 * Token management: create (the secret is returned once and stored only as its sha256), list,
 * revoke. Names are unique and short; scopes are validated (auth.ts).
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '@tagtrust/shared';
import { parseScope, tokenSha256 } from './auth.js';
import type { MetadataStore, TokenRecord } from './storage/store.js';
import { TokenExistsError } from './storage/store.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const RESERVED = new Set(['admin', 'anonymous']);

/** A token as listed: everything but the digest. */
export interface TokenInfo {
  name: string;
  scopes: string[];
  created: string;
}

export interface CreatedToken extends TokenInfo {
  /** The secret: shown once, never stored. */
  token: string;
}

export class Tokens {
  constructor(
    private readonly store: MetadataStore,
    private readonly now: () => Date,
  ) {}

  /** @throws InvalidInputError for a bad name or scope, or a name in use */
  async create(name: unknown, scopes: unknown): Promise<CreatedToken> {
    if (typeof name !== 'string' || !NAME.test(name) || RESERVED.has(name)) {
      throw new InvalidInputError(`token name ${JSON.stringify(String(name).slice(0, 80))} must be 1-64 letters, digits, and . _ @ - (not admin or anonymous)`);
    }
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string')) {
      throw new InvalidInputError('a token needs at least one scope: admin, push:<gun or glob> or pull:<gun or glob>');
    }
    const token = `tt_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = { name, scopes: [...new Set(scopes.map(parseScope))], sha256: tokenSha256(token), created: this.now().toISOString() };
    try {
      await this.store.putToken(record);
    } catch (err) {
      if (err instanceof TokenExistsError) throw new InvalidInputError(`a token named ${name} exists: revoke it first or pick another name`, { cause: err });
      throw err;
    }
    return { name, scopes: record.scopes, created: record.created, token };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.listTokens()).map(({ name, scopes, created }) => ({ name, scopes, created }));
  }

  /** @throws NotFoundError when there is no token of that name */
  async revoke(name: string): Promise<void> {
    if (!(await this.store.deleteToken(name))) throw new NotFoundError(`no token named ${name}`);
  }
}
