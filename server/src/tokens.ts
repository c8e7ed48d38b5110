/**
 * Token management: create (the secret is returned once and stored only as its sha256), list,
 * revoke. Names are unique and short; scopes are validated (auth.ts). Creation and revocation are
 * recorded in the server's audit trail (`GET /_admin/changefeed`) with the acting token's name.
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '@tagtrust/shared';
import { parseScope, tokenSha256 } from './auth.js';
import type { AuditEntry, AuditRecord, MetadataStore, TokenRecord } from './storage/store.js';
import { SERVER_AUDIT, TokenExistsError } from './storage/store.js';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const RESERVED = new Set(['admin', 'anonymous']);

/** A token as listed: everything but the digest. */
export interface TokenInfo {
  name: string;
  scopes: string[];
  created: string;
  /** When it stops working (ISO time); absent: never. */
  expires?: string;
  /** When it was last used (ISO time, to about a minute); absent: never used. */
  lastUsed?: string;
}

/** The fields a token request may have; anything else is refused, not ignored. */
const REQUEST_FIELDS = new Set(['name', 'scopes', 'expires']);

export interface CreatedToken extends TokenInfo {
  /** The secret: shown once, never stored. */
  token: string;
}

export class Tokens {
  constructor(
    private readonly store: MetadataStore,
    private readonly now: () => Date,
  ) {}

  /**
   * Creates a token from a request body `{name, scopes, expires?}` (`expires`: a future ISO time).
   * @param actor the token name recorded in the server's audit trail
   * @throws InvalidInputError for an unknown field, a bad name, scope or expiry, or a name in use
   */
  async create(request: unknown, actor: string): Promise<CreatedToken> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new InvalidInputError('a token request is a JSON object {"name", "scopes", "expires"?}');
    const unknown = Object.keys(request).filter((key) => !REQUEST_FIELDS.has(key));
    if (unknown.length > 0) {
      throw new InvalidInputError(`unknown field(s) in the token request: ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; the fields are name, scopes and expires`);
    }
    const { name, scopes, expires } = request as { name?: unknown; scopes?: unknown; expires?: unknown };
    if (typeof name !== 'string' || !NAME.test(name) || RESERVED.has(name)) {
      throw new InvalidInputError(`token name ${JSON.stringify(String(name).slice(0, 80))} must be 1-64 letters, digits, and . _ @ - (not admin or anonymous)`);
    }
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string')) {
      throw new InvalidInputError('a token needs at least one scope: admin, push:<gun or glob> or pull:<gun or glob>');
    }
    const now = this.now();
    if (expires !== undefined && (typeof expires !== 'string' || !ISO_TIME.test(expires) || !(Date.parse(expires) > now.getTime()))) {
      throw new InvalidInputError(`expires ${JSON.stringify(String(expires).slice(0, 40))} must be a future ISO time like 2030-01-31T12:00:00Z`);
    }
    const token = `tt_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = { name, scopes: [...new Set(scopes.map(parseScope))], sha256: tokenSha256(token), created: now.toISOString() };
    if (expires !== undefined) record.expires = new Date(Date.parse(expires)).toISOString();
    try {
      const audit: AuditEntry = { time: record.created, actor, action: 'create-token', token: { name, scopes: record.scopes } };
      await this.store.putToken(record, audit);
    } catch (err) {
      if (err instanceof TokenExistsError) throw new InvalidInputError(`a token named ${name} exists: revoke it first or pick another name`, { cause: err });
      throw err;
    }
    return { ...info(record), token };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.listTokens()).map(info);
  }

  /** @throws NotFoundError when there is no token of that name */
  async revoke(name: string, actor: string): Promise<void> {
    const audit: AuditEntry = { time: this.now().toISOString(), actor, action: 'revoke-token', token: { name } };
    if (!(await this.store.deleteToken(name, audit))) throw new NotFoundError(`no token named ${name}`);
  }

  /** A page of the server's audit trail (token changes), oldest first. */
  async changefeed(after: number, limit: number): Promise<{ records: AuditRecord[]; next?: number }> {
    const records = await this.store.listAudit(SERVER_AUDIT, after, limit + 1);
    const page: { records: AuditRecord[]; next?: number } = { records: records.slice(0, limit) };
    if (records.length > limit) page.next = records[limit - 1]!.seq;
    return page;
  }
}

function info({ name, scopes, created, expires, lastUsed }: TokenRecord): TokenInfo {
  return { name, scopes, created, ...(expires === undefined ? {} : { expires }), ...(lastUsed === undefined ? {} : { lastUsed }) };
}
