/**
 * The options of the long-running server, in one table: each has a flag, an environment variable
 * and a config-file key (the flag's name), and is taken from the first of flags > environment >
 * config file (`--config FILE`, JSON) > default. Unknown config keys are refused, and relative
 * paths in a config file are relative to the file. Secrets (master key, admin token) are not
 * options: they come from the environment or files in the data directory, never from a config file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError, formatDuration, parseDuration } from '@tagtrust/shared';
import { defaultConfig } from '../server.js';
import type { ServerConfig } from '../server.js';
import { databaseLocation } from '../storage/open-store.js';
import { LOG_LEVELS } from '../logging/logger.js';
import type { LogLevel } from '../logging/logger.js';

type Kind = 'text' | 'path' | 'listen' | 'duration' | 'bytes' | 'count' | 'boolean' | 'log-level';

interface OptionSpec {
  flag: string;
  env: string;
  kind: Kind;
  value?: string;
  help: string;
  /** The default as shown in help; undefined: unset. */
  shownDefault?: string;
}

export const SERVER_OPTIONS: readonly OptionSpec[] = [
  { flag: 'listen', env: 'TAGTRUST_LISTEN', kind: 'listen', value: 'HOST:PORT', help: 'where to listen', shownDefault: defaultConfig.listen },
  { flag: 'data', env: 'TAGTRUST_DATA', kind: 'path', value: 'DIR', help: 'data directory: level database, master key, admin token', shownDefault: defaultConfig.dataDir },
  { flag: 'body-limit', env: 'TAGTRUST_BODY_LIMIT', kind: 'bytes', value: 'BYTES', help: 'largest accepted publish body', shownDefault: String(defaultConfig.bodyLimit) },
  { flag: 'timestamp-lifetime', env: 'TAGTRUST_TIMESTAMP_LIFETIME', kind: 'duration', value: 'DUR', help: 'lifetime of signed timestamps', shownDefault: formatDuration(defaultConfig.timestampLifetime) },
  { flag: 'snapshot-lifetime', env: 'TAGTRUST_SNAPSHOT_LIFETIME', kind: 'duration', value: 'DUR', help: 'lifetime of signed snapshots', shownDefault: formatDuration(defaultConfig.snapshotLifetime) },
  { flag: 'pending-lifetime', env: 'TAGTRUST_PENDING_LIFETIME', kind: 'duration', value: 'DUR', help: 'how long a change awaiting approvals stays open', shownDefault: formatDuration(defaultConfig.pendingLifetime) },
  { flag: 'require-pull-token', env: 'TAGTRUST_REQUIRE_PULL_TOKEN', kind: 'boolean', help: 'reads need a token with a pull:, push: or admin scope', shownDefault: 'false' },
  { flag: 'tls-cert', env: 'TAGTRUST_TLS_CERT', kind: 'path', value: 'FILE', help: 'serve HTTPS with this PEM certificate (chain); needs tls-key' },
  { flag: 'tls-key', env: 'TAGTRUST_TLS_KEY', kind: 'path', value: 'FILE', help: 'PEM private key of the certificate' },
  { flag: 'log-level', env: 'TAGTRUST_LOG_LEVEL', kind: 'log-level', value: 'LEVEL', help: `least level logged on stderr (JSON lines; readable on a terminal): ${LOG_LEVELS.join(', ')}`, shownDefault: 'info' },
  { flag: 'access-log', env: 'TAGTRUST_ACCESS_LOG', kind: 'boolean', help: 'log every request at info (without it, successful reads are logged at debug)', shownDefault: 'false' },
  { flag: 'drain-timeout', env: 'TAGTRUST_DRAIN_TIMEOUT', kind: 'duration', value: 'DUR', help: 'on SIGTERM/SIGINT, how long requests in flight may take to finish before the server exits anyway (exit 1)', shownDefault: formatDuration(defaultConfig.drainTimeout) },
  { flag: 'max-connections', env: 'TAGTRUST_MAX_CONNECTIONS', kind: 'count', value: 'N', help: 'most open connections; past it the oldest idle or still-sending-headers one is closed', shownDefault: String(defaultConfig.maxConnections) },
  { flag: 'headers-timeout', env: 'TAGTRUST_HEADERS_TIMEOUT', kind: 'duration', value: 'DUR', help: 'time a client has to send its request headers', shownDefault: formatDuration(defaultConfig.headersTimeout) },
  { flag: 'request-timeout', env: 'TAGTRUST_REQUEST_TIMEOUT', kind: 'duration', value: 'DUR', help: 'time a client has to send its whole request, body included', shownDefault: formatDuration(defaultConfig.requestTimeout) },
  { flag: 'metrics-listen', env: 'TAGTRUST_METRICS_LISTEN', kind: 'listen', value: 'HOST:PORT', help: 'serve GET /metrics there without a token, not on listen (default: /metrics on listen; admin-only with require-pull-token)' },
  { flag: 'database-url', env: 'TAGTRUST_DATABASE_URL', kind: 'text', value: 'URL', help: 'keep metadata in PostgreSQL (postgres://HOST/DB; the password from PGPASSWORD or ~/.pgpass) instead of DIR; replicas share one database' },
];

/** Options for node:util parseArgs: every server option, plus --config, --version and --help. */
export function serverParseOptions() {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    version: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const spec of SERVER_OPTIONS) options[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  return options;
}

/** The help lines of the server options. */
export function serverOptionsHelp(): string {
  const lines = [`  --config FILE               JSON config file with any of the options below as keys (env TAGTRUST_CONFIG)`];
  for (const spec of SERVER_OPTIONS) {
    const head = `  --${spec.flag}${spec.value ? ` ${spec.value}` : ''}`;
    const fallback = spec.shownDefault === undefined ? '' : `; default ${spec.shownDefault}`;
    lines.push(`${head.padEnd(30)}${spec.help} (env ${spec.env}${spec.kind === 'boolean' ? '=1' : ''}${fallback})`);
  }
  return lines.join('\n');
}

/** What the options resolve to: the server config (without secrets), plus the TLS files to read. */
export interface ResolvedServerOptions {
  config: Partial<ServerConfig>;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

/**
 * Resolves every option: flags > env > config file > default.
 * @throws UsageError naming the option, its source and the expected form
 */
export async function resolveServerOptions(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Promise<ResolvedServerOptions> {
  const configFile = (flags.config as string | undefined) ?? env.TAGTRUST_CONFIG;
  const file = configFile === undefined ? {} : await loadConfigFile(configFile);
  const configDir = configFile === undefined ? undefined : dirname(resolve(configFile));
  const values: Record<string, unknown> = {};
  for (const spec of SERVER_OPTIONS) {
    const fromFlag = flags[spec.flag];
    const fromEnv = env[spec.env];
    if (fromFlag !== undefined) values[spec.flag] = parseValue(spec, fromFlag, `--${spec.flag}`);
    else if (fromEnv !== undefined && fromEnv !== '') values[spec.flag] = parseValue(spec, fromEnv, spec.env);
    else if (spec.flag in file) values[spec.flag] = parseValue(spec, file[spec.flag], `"${spec.flag}" in ${configFile}`, configDir);
  }
  const config: Partial<ServerConfig> = {};
  const set = <K extends keyof ServerConfig>(key: K, flag: string) => {
    if (values[flag] !== undefined) config[key] = values[flag] as ServerConfig[K];
  };
  set('listen', 'listen');
  set('dataDir', 'data');
  set('databaseUrl', 'database-url');
  // A malformed URL is refused before anything is created.
  if (config.databaseUrl !== undefined) databaseLocation(config.databaseUrl);
  set('bodyLimit', 'body-limit');
  set('timestampLifetime', 'timestamp-lifetime');
  set('snapshotLifetime', 'snapshot-lifetime');
  set('pendingLifetime', 'pending-lifetime');
  set('requirePullScope', 'require-pull-token');
  set('metricsListen', 'metrics-listen');
  set('maxConnections', 'max-connections');
  set('headersTimeout', 'headers-timeout');
  set('requestTimeout', 'request-timeout');
  set('drainTimeout', 'drain-timeout');
  set('logLevel', 'log-level');
  set('accessLog', 'access-log');
  // Node requires the headers to be due no later than the whole request.
  const headersTimeout = config.headersTimeout ?? defaultConfig.headersTimeout;
  const requestTimeout = config.requestTimeout ?? defaultConfig.requestTimeout;
  if (headersTimeout > requestTimeout) {
    throw new UsageError(`headers-timeout (${formatDuration(headersTimeout)}) must not be longer than request-timeout (${formatDuration(requestTimeout)})`);
  }
  return { config, tlsCertFile: values['tls-cert'] as string | undefined, tlsKeyFile: values['tls-key'] as string | undefined };
}

async function loadConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config ${file} must hold a JSON object of options`);
  const known = new Set(SERVER_OPTIONS.map((s) => s.flag));
  const unknown = Object.keys(parsed).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new UsageError(`--config ${file}: unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the keys are ${[...known].join(', ')} (secrets stay in the environment)`);
  }
  return parsed as Record<string, unknown>;
}

/** @param relativeTo the config file's directory, for paths read from it */
function parseValue(spec: OptionSpec, raw: unknown, where: string, relativeTo?: string): unknown {
  const bad = (expected: string) => new UsageError(`${where} ${JSON.stringify(raw)} must be ${expected}`);
  if (spec.kind === 'boolean') {
    if (raw === true || raw === '1' || raw === 'true') return true;
    if (raw === false || raw === '0' || raw === 'false') return false;
    throw bad('true or false (1 or 0 in the environment)');
  }
  if ((spec.kind === 'bytes' || spec.kind === 'count') && typeof raw === 'number') raw = String(raw);
  if (typeof raw !== 'string' || raw === '') throw bad('a non-empty string');
  switch (spec.kind) {
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) throw bad('a duration like 90s, 30m, 6h or 7d');
      return ms;
    }
    case 'bytes':
    case 'count': {
      const n = Number(raw);
      if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw bad(`a positive number${spec.kind === 'bytes' ? ' of bytes' : ''}`);
      return n;
    }
    case 'listen':
      if (!/^(?:\[[^\]]+\]|[^:]+):\d{1,5}$/.test(raw)) throw bad('host:port (e.g. 127.0.0.1:4443)');
      return raw;
    case 'log-level':
      if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw bad(`one of ${LOG_LEVELS.join(', ')}`);
      return raw as LogLevel;
    case 'path':
      return relativeTo === undefined ? raw : resolve(relativeTo, raw);
    default:
      return raw;
  }
}
