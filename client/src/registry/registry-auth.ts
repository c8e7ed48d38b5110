/**
 * Registry credentials and the token dance of the distribution auth spec: a 401 carries
 * `WWW-Authenticate: Bearer realm=...,service=...,scope=...` (or `Basic`); the client fetches a
 * token from the realm with its credentials (anonymously without) and sends it as a bearer token.
 *
 * Rules:
 * - Credentials never appear in an error message or log line.
 * - Tokens are kept per realm+service+scope until shortly before `expires_in` (default 60 s), at most
 *   MAX_TOKENS of them.
 */
import { UnauthorizedError, UsageError } from '@tagtrust/shared';
import { httpRequest, readBody } from '../http/transport.js';
import type { TransportOptions } from '../http/transport.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const MAX_TOKENS = 1_024;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** `user:password` (the first colon splits), as in a credentials file. */
export function parseCredentials(text: string, source: string): RegistryCredentials {
  const line = text.trim();
  const colon = line.indexOf(':');
  if (colon < 1 || line.includes('\n')) throw new UsageError(`${source} must hold one line "user:password"`);
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

/** The first challenge of a WWW-Authenticate header, or undefined when there is none we can parse. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  const match = header?.match(/^\s*(\w+)\s*(.*)$/s);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[key!.toLowerCase()] = quoted === undefined ? bare! : quoted.replace(/\\(.)/g, '$1');
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

export const basicAuthorization = (credentials: RegistryCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

export class TokenCache {
  private readonly tokens = new Map<string, { authorization: string; until: number }>();

  constructor(
    private readonly credentials: RegistryCredentials | undefined,
    private readonly transport: TransportOptions,
  ) {}

  /**
   * The Authorization header that answers `challenge`.
   * @throws UnauthorizedError when the realm refuses the credentials or answers no token
   */
  async answer(challenge: Challenge, signal: AbortSignal): Promise<string> {
    if (challenge.scheme === 'basic') {
      if (!this.credentials) throw new UnauthorizedError('the registry asks for a user name and password: configure registry credentials');
      return basicAuthorization(this.credentials);
    }
    const { realm, service, scope } = challenge.params;
    if (challenge.scheme !== 'bearer' || !realm) throw new UnauthorizedError(`the registry asks for "${challenge.scheme}" authentication, which tagtrust does not speak`);
    const key = `${realm}\u0000${service ?? ''}\u0000${scope ?? ''}`;
    const cached = this.tokens.get(key);
    if (cached && cached.until > Date.now()) return cached.authorization;
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials) headers.authorization = basicAuthorization(this.credentials);
    const response = await httpRequest(url.toString(), { headers, signal }, this.transport);
    const body = await readBody(response.body, MAX_TOKEN_RESPONSE_BYTES, () => new UnauthorizedError(`the token service ${url.origin} answered more than 64 KiB`));
    if (response.status !== 200) {
      throw new UnauthorizedError(`the token service ${url.origin} refused ${this.credentials ? 'the configured credentials' : 'an anonymous token'} (HTTP ${response.status}) for ${scope ?? 'the registry'}`);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new UnauthorizedError(`the token service ${url.origin} answered something that is not JSON`);
    }
    const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') throw new UnauthorizedError(`the token service ${url.origin} answered no token`);
    const lifetimeS = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value!);
    const authorization = `Bearer ${token}`;
    this.tokens.set(key, { authorization, until: Date.now() + Math.max(0, lifetimeS - 10) * 1000 });
    return authorization;
  }
}
