/**
 * Options shared by the puller and publisher APIs, with defaults from the environment the CLI and
 * library users expect (TAGTRUST_SERVER, TAGTRUST_HOME, TAGTRUST_TOKEN).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '@tagtrust/shared';

export interface ClientOptions {
  /** Server base URL, e.g. http://127.0.0.1:4443 (env TAGTRUST_SERVER). */
  server?: string;
  /** Directory for keys and trusted metadata (env TAGTRUST_HOME, default ~/.tagtrust). */
  home?: string;
  /** Bearer token for publishing, and for reading from servers that require pull scopes (env TAGTRUST_TOKEN). */
  token?: string;
  /** Deadline for one whole operation, in ms (default 30 s). */
  timeoutMs?: number;
  /** Called with one-line notices (e.g. trust on first use); default: stderr. */
  warn?: (message: string) => void;
  /** PEM CA certificate(s) to trust for an https server, besides the system's and NODE_EXTRA_CA_CERTS. */
  ca?: string | Buffer;
}

export interface ResolvedOptions {
  server: string;
  home: string;
  token?: string;
  timeoutMs: number;
  warn: (message: string) => void;
  ca?: string | Buffer;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** The home directory: the option, else TAGTRUST_HOME, else ~/.tagtrust. */
export function resolveHome(home?: string): string {
  return resolve(home ?? process.env.TAGTRUST_HOME ?? join(homedir(), '.tagtrust'));
}

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const server = options.server ?? process.env.TAGTRUST_SERVER;
  if (!server) throw new UsageError('no server URL: pass --server URL or set TAGTRUST_SERVER (e.g. http://127.0.0.1:4443)');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`server URL "${server}" is not a URL: use e.g. http://127.0.0.1:4443`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`server URL "${server}" must start with http:// or https://`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new UsageError(`timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  return {
    server: url.toString().replace(/\/+$/, ''),
    home: resolveHome(options.home),
    token: options.token ?? process.env.TAGTRUST_TOKEN,
    timeoutMs,
    warn: options.warn ?? ((message) => process.stderr.write(`tagtrust: ${message}\n`)),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };
}
