/**
 * The token table of the level store, one sublevel each:
 * - `tokens`: `<name>` -> token record JSON; `tokenHashes`: `<sha256 hex>` -> name
 * - `tokenUse`: `<name>` -> ISO time of the last recorded use
 * Token changes go to the audit trail under the empty GUN (SERVER_AUDIT), in the same write.
 *
 * Rules:
 * - Read-then-write operations run one at a time (the `exclusive` the store passes in, on one scope).
 * - Found tokens are remembered (at most MAX_REMEMBERED_TOKENS); unknown ones are not, so random
 *   guesses cannot fill the memory. Every token deletion goes through this one instance (level locks
 *   the directory) and forgets the token before and after its write, so a revoked token is refused
 *   as soon as `delete` returns.
 */
import type { AuditEntry, TokenRecord } from './store.js';
import { TokenExistsError } from './store.js';
import { setBounded } from '../bounded-map.js';
import type { DurableLevel, Sublevel, WriteOp } from './durable-level.js';

const MAX_REMEMBERED_TOKENS = 1_000;

export interface LevelTokensAccess {
  durable: DurableLevel;
  /** Runs a read-then-write operation on the token table alone. */
  exclusive: <T>(task: () => Promise<T>) => Promise<T>;
  /** Writes `batch` with the next server audit record (call inside `exclusive`). */
  writeAudited: (batch: WriteOp[], audit: AuditEntry) => Promise<void>;
}

export class LevelTokens {
  private readonly tokens: Sublevel;
  private readonly hashes: Sublevel;
  private readonly use: Sublevel;
  /** Tokens found by their sha256, so an authorised request reads no level (see `bySha256`). */
  private readonly known = new Map<string, TokenRecord>();
  /** Counts token deletions, before and after each write: a lookup that raced one remembers nothing. */
  private deletions = 0;

  constructor(private readonly access: LevelTokensAccess) {
    this.tokens = access.durable.sublevel('tokens');
    this.hashes = access.durable.sublevel('tokenHashes');
    this.use = access.durable.sublevel('tokenUse');
  }

  /** @throws TokenExistsError */
  put(token: TokenRecord, audit: AuditEntry): Promise<void> {
    return this.access.exclusive(async () => {
      if ((await this.tokens.get(token.name)) !== undefined) throw new TokenExistsError(token.name);
      await this.access.writeAudited([put(this.tokens, token.name, JSON.stringify(token)), put(this.hashes, token.sha256, token.name)], audit);
    });
  }

  async bySha256(sha256: string): Promise<TokenRecord | undefined> {
    const known = this.known.get(sha256);
    if (known) return known;
    const deletions = this.deletions;
    const name = await this.hashes.get(sha256);
    if (name === undefined) return undefined;
    const text = await this.tokens.get(name);
    if (text === undefined) return undefined;
    const token = JSON.parse(text) as TokenRecord;
    if (deletions === this.deletions) setBounded(this.known, sha256, token, MAX_REMEMBERED_TOKENS);
    return token;
  }

  async list(): Promise<TokenRecord[]> {
    const tokens: TokenRecord[] = [];
    for await (const text of this.tokens.values()) tokens.push(JSON.parse(text) as TokenRecord);
    const used = await this.use.getMany(tokens.map((t) => t.name));
    tokens.forEach((token, i) => {
      if (used[i] !== undefined) token.lastUsed = used[i];
    });
    return tokens;
  }

  recordUse(name: string, time: string): Promise<void> {
    return this.access.exclusive(async () => {
      if ((await this.tokens.get(name)) !== undefined) await this.access.durable.write([put(this.use, name, time)]);
    });
  }

  delete(name: string, audit: AuditEntry): Promise<boolean> {
    return this.access.exclusive(async () => {
      const text = await this.tokens.get(name);
      if (text === undefined) return false;
      const { sha256 } = JSON.parse(text) as TokenRecord;
      const batch = [del(this.tokens, name), del(this.hashes, sha256), del(this.use, name)];
      this.forget(sha256);
      try {
        await this.access.writeAudited(batch, audit);
      } finally {
        this.forget(sha256);
      }
      return true;
    });
  }

  /** Forgets every remembered token (after a reopen of the database). */
  forgetAll(): void {
    this.forget('');
    this.known.clear();
  }

  private forget(sha256: string): void {
    this.deletions += 1;
    this.known.delete(sha256);
  }
}

const put = (sublevel: Sublevel, key: string, value: string): WriteOp => ({ type: 'put', sublevel, key, value });
const del = (sublevel: Sublevel, key: string): WriteOp => ({ type: 'del', sublevel, key });
