/**
 * What every `tagtrust` command shares: the Command shape and the library objects built from the
 * global options. The library modules are imported only when a command runs, to keep start-up short.
 */
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '@tagtrust/shared';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  usage: string;
  summary: string;
  details: string;
  options: Options;
  positionals: number;
  run(args: string[], values: Values, out: Output): Promise<void>;
}

export interface Output {
  print(line: string): void;
  json(value: unknown): void;
}

export const clientOptions = async (values: Values) => {
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout "${values.timeout}" must be a positive number of seconds`);
  return {
    server: values.server as string | undefined,
    home: values.home as string | undefined,
    token: values.token as string | undefined,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
  };
};

export const publisher = async (values: Values) => {
  const [{ Publisher }, { terminalPassphrases }] = await Promise.all([import('../publisher.js'), import('./prompt.js')]);
  return new Publisher({ ...(await clientOptions(values)), passphrases: terminalPassphrases });
};

export const puller = async (values: Values) => {
  const { Puller } = await import('../puller.js');
  return new Puller({ ...(await clientOptions(values)), rootFile: values['root-file'] as string | undefined });
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
