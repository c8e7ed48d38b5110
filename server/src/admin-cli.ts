/**
 * `tagtrust-server token ...` and `tagtrust-server collections ...`: admin commands that talk to a
 * running server over its admin HTTP endpoints, so they work without stopping it (level locks the
 * database to one process). The admin token comes from --token, TAGTRUST_ADMIN_TOKEN, or the
 * data directory's admin.token file; it is sent only in the Authorization header, never printed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NetworkError, UsageError, errorFromApi, formatDuration, parseDuration } from '@tagtrust/shared';
import type { CollectionSummary } from './repository.js';
import type { AuditRecord } from './storage/store.js';
import type { CreatedToken, TokenInfo } from './tokens.js';

export const ADMIN_HELP = `Admin commands (talk to a running server; need the admin token):
  tagtrust-server token create --name NAME --scope SCOPE [--scope SCOPE...] [--expires 30d|ISO-TIME] [--json]
  tagtrust-server token list [--json]
  tagtrust-server token revoke NAME
  tagtrust-server token history [--json]       who created and revoked which tokens
  tagtrust-server collections list [--json]
  tagtrust-server collections delete GUN

  Scopes: admin | push:<gun or glob> | pull:<gun or glob>   (* = one path segment, ** = anything)
  --server URL      the server (env TAGTRUST_SERVER, default http://127.0.0.1:4443)
  --token TOKEN     admin token (env TAGTRUST_ADMIN_TOKEN, else DIR/admin.token with --data DIR)
  --data DIR        data directory to read admin.token from (env TAGTRUST_DATA)
`;

export interface AdminOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

export async function runAdminCommand(argv: string[], env: NodeJS.ProcessEnv, output: AdminOutput): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      data: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      expires: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [group, action, ...rest] = positionals;
  const server = (values.server ?? env.TAGTRUST_SERVER ?? 'http://127.0.0.1:4443').replace(/\/+$/, '');
  const token = values.token ?? env.TAGTRUST_ADMIN_TOKEN ?? (await tokenFromDataDir(values.data ?? env.TAGTRUST_DATA));
  const call = <T>(method: string, path: string, what: string, body?: unknown) => request<T>(server, token, method, path, what, body);
  const print = (value: unknown) => output.out(JSON.stringify(value, null, 2));
  const expect = (n: number) => {
    if (rest.length !== n) throw new UsageError(`wrong number of arguments for \`${group} ${action}\`\n${ADMIN_HELP}`);
  };

  if (group === 'token' && action === 'create') {
    expect(0);
    if (!values.name || !values.scope?.length) throw new UsageError('token create needs --name NAME and at least one --scope SCOPE');
    const expires = values.expires === undefined ? undefined : expiryTime(values.expires);
    const created = await call<CreatedToken>('POST', '/_admin/tokens', 'creating a token', { name: values.name, scopes: values.scope, ...(expires ? { expires } : {}) });
    if (values.json) return print(created);
    const until = created.expires ? `, expires ${created.expires}` : '';
    output.err(`Created token ${created.name} (${created.scopes.join(' ')}${until}). It is shown only now; store it in a secret store:`);
    output.out(created.token);
    return;
  }
  if (group === 'token' && action === 'list') {
    expect(0);
    const { tokens } = await call<{ tokens: TokenInfo[] }>('GET', '/_admin/tokens', 'listing tokens');
    if (values.json) return print(tokens);
    if (tokens.length === 0) return output.out('No tokens (only the bootstrap admin token)');
    const width = Math.max(4, ...tokens.map((t) => t.name.length));
    output.out(`${'NAME'.padEnd(width)}  ${'CREATED'.padEnd(24)}  ${'EXPIRES'.padEnd(24)}  ${'LAST USED'.padEnd(24)}  SCOPES`);
    for (const t of tokens) {
      output.out(`${t.name.padEnd(width)}  ${t.created.padEnd(24)}  ${(t.expires ?? 'never').padEnd(24)}  ${(t.lastUsed ?? 'never').padEnd(24)}  ${t.scopes.join(' ')}`);
    }
    return;
  }
  if (group === 'token' && action === 'revoke') {
    expect(1);
    await call('DELETE', `/_admin/tokens/${encodeURIComponent(rest[0]!)}`, `revoking token ${rest[0]}`);
    output.out(`Revoked token ${rest[0]}`);
    return;
  }
  if (group === 'token' && action === 'history') {
    expect(0);
    const records: AuditRecord[] = [];
    for (let after = 0; ; ) {
      const page = await call<{ records: AuditRecord[]; next?: number }>('GET', `/_admin/changefeed?after=${after}&limit=1000`, 'reading the token history');
      records.push(...page.records);
      if (page.next === undefined) break;
      after = page.next;
    }
    if (values.json) return print(records);
    if (records.length === 0) return output.out('No token changes recorded');
    for (const r of records) {
      const scopes = r.token?.scopes ? ` (${r.token.scopes.join(' ')})` : '';
      output.out(`${String(r.seq).padStart(4)}  ${r.time}  ${r.actor}  ${r.action} ${r.token?.name ?? '?'}${scopes}`);
    }
    return;
  }
  if (group === 'collections' && action === 'list') {
    expect(0);
    const { collections } = await call<{ collections: CollectionSummary[] }>('GET', '/_admin/collections', 'listing collections');
    if (values.json) return print(collections);
    if (collections.length === 0) return output.out('No collections');
    output.out(`${'COLLECTION'.padEnd(40)}  ${'ROLE'.padEnd(9)}  ${'VERSION'.padStart(7)}  ${'EXPIRES'.padEnd(20)}  LEFT`);
    for (const c of collections) {
      for (const [role, state] of Object.entries(c.roles)) {
        const left = state.remainingMs <= 0 ? 'EXPIRED' : formatDuration(state.remainingMs);
        output.out(`${c.gun.padEnd(40)}  ${role.padEnd(9)}  ${String(state.version).padStart(7)}  ${state.expires.padEnd(20)}  ${left}`);
      }
    }
    return;
  }
  if (group === 'collections' && action === 'delete') {
    expect(1);
    await call('DELETE', `/v2/${rest[0]}/_trust/tuf/`, `deleting ${rest[0]}`);
    output.out(`Deleted ${rest[0]} (its audit trail is kept)`);
    return;
  }
  throw new UsageError(`unknown admin command "${positionals.join(' ')}"\n${ADMIN_HELP}`);
}

/** `--expires`: a duration from now (30d, 12h) or an ISO time, as an ISO time. */
function expiryTime(value: string): string {
  const ms = parseDuration(value);
  if (ms !== undefined) return new Date(Date.now() + ms).toISOString();
  if (!Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value)) return value;
  throw new UsageError(`--expires "${value}" is not a duration like 30d or 12h, nor an ISO time like 2030-01-31T12:00:00Z`);
}

/** The admin token in DIR/admin.token, if there is one. */
export async function tokenFromDataDir(dataDir: string | undefined): Promise<string | undefined> {
  if (!dataDir) return undefined;
  try {
    return (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function request<T>(server: string, token: string | undefined, method: string, path: string, what: string, body?: unknown): Promise<T> {
  if (!token) throw new UsageError(`${what} needs the admin token: pass --token, set TAGTRUST_ADMIN_TOKEN, or --data DIR holding admin.token`);
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new NetworkError(`${what} failed: cannot reach ${server} (${(err as Error).cause ?? (err as Error).message}); check --server`, { cause: err });
  }
  const parsed: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw errorFromApi(response.status, parsed, what);
  return parsed as T;
}
