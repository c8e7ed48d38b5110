/**
 * Passphrases for the CLI: the TAGTRUST_<ROLE>_PASSPHRASE environment variable, or a prompt on the
 * terminal with echo off (asked twice for a new key). Without either, a clear error.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { KeyNotFoundError, UsageError } from '@tagtrust/shared/errors';
import type { PassphraseProvider } from '../keystore.js';
import { passphraseEnvName } from '../keystore.js';

function ask(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

export const terminalPassphrases: PassphraseProvider = async (request) => {
  const envName = passphraseEnvName(request.role);
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const what = `${request.role} key ${request.keyId.slice(0, 8)}${request.gun ? ` of ${request.gun}` : ''}`;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    // A key being created has no file yet, so its ID would mean nothing to the user.
    const key = request.purpose === 'new' ? `a new ${request.role} key${request.gun ? ` of ${request.gun}` : ''}` : `the ${what}`;
    throw new KeyNotFoundError(`no passphrase for ${key}: set ${envName} or run on a terminal`);
  }
  if (request.purpose === 'unlock') return ask(`Passphrase for the ${what}: `);
  return promptNewPassphrase(what);
};

/** Asks twice on the terminal for a new passphrase of `what` (at least 8 characters). */
export async function promptNewPassphrase(what: string): Promise<string> {
  const first = await ask(`New passphrase for the ${what}: `);
  if (first.length < 8) throw new UsageError('the passphrase must be at least 8 characters');
  const second = await ask('Repeat it: ');
  if (first !== second) throw new UsageError('the passphrases do not match; run the command again');
  return first;
}
