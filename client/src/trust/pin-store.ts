/**
 * Pins on disk: TAGTRUST_HOME/pins.json (mode 0600), written atomically. See pin-policy.ts for what
 * a pin means.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import { MalformedMetadataError } from '@tagtrust/shared';
import { ensurePrivateDir } from '../home.js';
import type { Pin } from './pin-policy.js';

interface PinFile {
  version: 1;
  pins: Pin[];
}

export const pinsPath = (home: string) => join(home, 'pins.json');

/** The pins of a home; none when the file does not exist. @throws MalformedMetadataError for a corrupt file */
export async function loadPins(home: string): Promise<Pin[]> {
  let text: string;
  try {
    text = await readFile(pinsPath(home), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const file = JSON.parse(text) as PinFile;
    if (file.version !== 1 || !Array.isArray(file.pins)) throw new Error('unknown format');
    return file.pins;
  } catch (err) {
    throw new MalformedMetadataError(`${pinsPath(home)} is not a tagtrust pin file (${(err as Error).message}): fix or remove it`, { cause: err });
  }
}

/** Adds or replaces the pin with the same pattern. */
export async function savePin(home: string, pin: Pin): Promise<void> {
  const pins = (await loadPins(home)).filter((p) => p.pattern !== pin.pattern);
  pins.push(pin);
  pins.sort((a, b) => (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
  await ensurePrivateDir(home);
  const file: PinFile = { version: 1, pins };
  await writeFileAtomic(pinsPath(home), `${JSON.stringify(file, null, 2)}\n`, 0o600);
}
