/**
 * The server's one logger (pino): JSON lines, or one readable line per entry on a terminal
 * (pretty.ts). Every entry logged while a request is being handled carries its `requestId`
 * (request-context.ts), whichever module logs it.
 *
 * What is never logged: tokens (the Authorization header), keys, passphrases, query strings and the
 * database URL's password. Callers never pass them; as a backstop, `redact` censors fields of those
 * names, and a `user:password@` in a postgres:// URL inside a message is masked.
 */
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { currentRequestId } from './request-context.js';
import { prettyDestination } from './pretty.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field names whose values are never written, wherever a caller put them (one level deep too). */
const SECRET_FIELDS = ['authorization', 'token', 'passphrase', 'password', 'key', 'privateKey', 'masterKey', 'adminToken', 'databaseUrl', 'cookie'];
const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((field) => `*.${field}`), 'req.headers.authorization', 'req.headers.cookie'];

/** `postgres://user:password@` in text: the password is replaced. */
const URL_PASSWORD = /(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s]*@/gi;

export interface LoggerOptions {
  level?: LogLevel;
  /**
   * Where the lines go: each call gets one JSON line (without its newline). Default: stderr, as JSON,
   * or readable lines when stderr is a terminal.
   */
  sink?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: maskedError },
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((arg) => (typeof arg === 'string' ? maskUrlPasswords(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
    },
    destination(options.sink),
  );
}

function destination(sink: LoggerOptions['sink']): DestinationStream {
  if (sink) return { write: (line: string) => sink(line.endsWith('\n') ? line.slice(0, -1) : line) };
  // Synchronous: the last lines before an exit are never lost.
  return process.stderr.isTTY ? prettyDestination(process.stderr) : pino.destination({ dest: 2, sync: true });
}

/** pino's error serializer (message, stack, code, cause), with URL passwords masked. */
function maskedError(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const serialized = pino.stdSerializers.err(err);
  serialized.message = maskUrlPasswords(serialized.message);
  if (serialized.stack) serialized.stack = maskUrlPasswords(serialized.stack);
  return serialized;
}

export function maskUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1:[redacted]@');
}

/**
 * A `(line) => void` for modules that report in plain lines (storage, renewal): the line becomes the
 * entry's message without the `tagtrust-server: ` prefix, at error level when it reports a failure
 * ("failed", "failing", "cannot"), else at info (recoveries: "works again", "reopened").
 */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => {
    const message = line.replace(/^tagtrust-server: /, '');
    if (/\b(?:failed|failing|cannot)\b/.test(message)) logger.error(message);
    else logger.info(message);
  };
}
