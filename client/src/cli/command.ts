/**
 * What every `tagtrust` command shares: the Command shape and the library objects built from the
 * global options. The library modules are imported only when a command runs, to keep start-up short.
 */
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '@tagtrust/shared/errors';
import type { PassphraseProvider } from '../keystore.js';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  usage: string;
  summary: string;
  details: string;
  options: Options;
  /** How many positional arguments: exactly N, or [min, max]. */
  positionals: number | [number, number];
  run(args: string[], values: Values, out: Output): Promise<void>;
}

export interface Output {
  print(line: string): void;
  json(value: unknown): void;
}

export const clientOptions = async (values: Values) => {
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout "${values.timeout}" must be a positive number of seconds`);
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    const { readFile } = await import('node:fs/promises');
    ca = await readFile(values.ca as string).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`--ca ${values.ca}: cannot read it (${err.code ?? err.message})`);
    });
  }
  return {
    ...(ca === undefined ? {} : { ca }),
    server: values.server as string | undefined,
    home: values.home as string | undefined,
    token: values.token as string | undefined,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
  };
};

/**
 * The publisher for a command. With `changing` (the reference that a sign or unsign without --role
 * changes), decrypting the targets key starts before the publisher's modules load (early-unlock.ts).
 */
export const publisher = async (values: Values, changing?: string) => {
  // TAGTRUST_BINS_THRESHOLD: tags before `sign` moves a flat collection to hashed bins (0: never).
  const threshold = process.env.TAGTRUST_BINS_THRESHOLD;
  if (threshold !== undefined && !/^\d+$/.test(threshold)) throw new UsageError(`TAGTRUST_BINS_THRESHOLD "${threshold}" must be a whole number of tags (0 turns it off)`);
  const options = await clientOptions(values);
  const [{ KeyStore }, { terminalPassphrases }, { resolveHome }, { parseTaggedReference }, { unlockTargetsKeyEarly }] = await Promise.all([
    import('../keystore.js'),
    import('./prompt.js'),
    import('../options.js'),
    import('./lazy.js'),
    import('./early-unlock.js'),
  ]);
  let answered = () => {};
  const passphraseGiven = new Promise<void>((resolve) => (answered = resolve));
  const passphrases: PassphraseProvider = (request) => terminalPassphrases(request).finally(answered);
  const home = resolveHome(options.home);
  const keyStore = new KeyStore(home, passphrases, (message) => process.stderr.write(`tagtrust: ${message}\n`));
  if (changing !== undefined) {
    // An invalid reference is reported by the publisher, with its usual message.
    const gun = (() => {
      try {
        return parseTaggedReference(changing).gun;
      } catch {
        return undefined;
      }
    })();
    if (gun !== undefined) await unlockTargetsKeyEarly(keyStore, home, gun, passphraseGiven);
  }
  const { Publisher } = await import('../publisher.js');
  return new Publisher({ ...options, passphrases, keyStore, ...(threshold === undefined ? {} : { binsThreshold: Number(threshold) }) });
};

/** Options of the commands that verify metadata (resolve, list, verify). */
export const PULL_OPTIONS = {
  'root-file': { type: 'string' },
  'no-tofu': { type: 'boolean' },
  'max-age': { type: 'string' },
  'max-root-rotations': { type: 'string' },
  mirror: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

export const PULL_HELP = `  --root-file FILE    root to start from for a collection never seen before (instead of trust on first use)
  --no-tofu           refuse collections that are neither pinned nor trusted yet (env TAGTRUST_NO_TOFU=1)
  --max-age DURATION  refuse a timestamp signed longer ago than this (e.g. 3h, 90m), even if not expired
  --max-root-rotations N  most new root versions one update accepts (default 256)
  --mirror URL        a static mirror (tagtrust-server export), tried in order when the server
                      fails; repeatable (env TAGTRUST_MIRRORS, comma-separated)`;

export const puller = async (values: Values) => {
  const { Puller } = await import('../puller.js');
  return new Puller(await pullerOptions(values));
};

/** The Puller options of the PULL_OPTIONS flags and the global options. */
export const pullerOptions = async (values: Values) => {
  const { parseDuration } = await import('./lazy.js');
  let maxAgeMs: number | undefined;
  if (values['max-age'] !== undefined) {
    maxAgeMs = parseDuration(values['max-age'] as string);
    if (maxAgeMs === undefined) throw new UsageError(`--max-age "${values['max-age']}" must be a duration like 90s, 30m, 3h or 1d`);
  }
  const rotations = values['max-root-rotations'] as string | undefined;
  if (rotations !== undefined && !/^\d{1,6}$/.test(rotations)) throw new UsageError(`--max-root-rotations "${rotations}" must be a whole number`);
  return {
    ...(await clientOptions(values)),
    ...(rotations === undefined ? {} : { maxRootRotations: Number(rotations) }),
    rootFile: values['root-file'] as string | undefined,
    ...(values['no-tofu'] ? { tofu: false } : {}),
    maxAgeMs,
    ...(values.mirror === undefined ? {} : { mirrors: values.mirror as unknown as string[] }),
  };
};


/** A positive integer option, or undefined when absent. */
export function integerOption(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} "${String(value)}" must be a positive whole number`);
  }
  return n;
}
