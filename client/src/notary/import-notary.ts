/**
 * Moving a collection off Notary v1 / Docker Content Trust: read the Notary collection, verified with
 * its own trust data (notary-collection.ts), compare its tag -> digest mappings with what the tagtrust
 * collection signs now, and sign what differs with this home's keys (a dry run only reports).
 * Tags that are not valid tag names for tagtrust are reported and skipped; nothing is unsigned.
 */
import { InvalidReferenceError, NotFoundError, parseGun, targetName } from '@tagtrust/shared';
import type { Publisher } from '../publisher.js';
import type { Puller } from '../puller.js';
import type { NotaryCollection, NotaryReadOptions, NotaryTag } from './notary-collection.js';
import { readNotaryCollection } from './notary-collection.js';
import type { NotarySource } from './notary-source.js';

export type ImportAction = 'add' | 'move' | 'same' | 'skip';

export interface ImportEntry extends NotaryTag {
  /** `<tagtrust gun>:<tag>` */
  reference: string;
  action: ImportAction;
  /** The digest tagtrust signs for the tag now, when it signs one. */
  current?: string;
  /** Why a tag is skipped. */
  reason?: string;
}

export interface ImportResult {
  notary: Pick<NotaryCollection, 'gun' | 'rootKeyIds'>;
  gun: string;
  dryRun: boolean;
  entries: ImportEntry[];
  /** Tags signed by this run (0 for a dry run). */
  signed: number;
}

export interface ImportOptions extends NotaryReadOptions {
  source: NotarySource;
  /** The Notary collection's GUN. */
  notaryGun: string;
  /** The tagtrust collection to sign into (default: the same GUN). */
  gun?: string;
  dryRun?: boolean;
  puller: Puller;
  publisher: Publisher;
}

export async function importFromNotary(options: ImportOptions): Promise<ImportResult> {
  const gun = parseGun(options.gun ?? options.notaryGun);
  const collection = await readNotaryCollection(options.source, options.notaryGun, options);
  const current = new Map(
    (
      await options.puller.list(gun).catch((err: unknown) => {
        if (err instanceof NotFoundError) throw new NotFoundError(`the tagtrust collection ${gun} does not exist: create it with \`tagtrust init ${gun}\`, then import`, { cause: err });
        throw err;
      })
    ).map((t) => [t.tag, t]),
  );
  const entries = collection.tags.map((tag): ImportEntry => {
    let reference: string;
    try {
      reference = targetName(gun, tag.tag);
    } catch (err) {
      if (!(err instanceof InvalidReferenceError)) throw err;
      return { ...tag, reference: `${gun}:${tag.tag}`, action: 'skip', reason: err.message };
    }
    const signed = current.get(tag.tag);
    if (!signed) return { ...tag, reference, action: 'add' };
    const action = signed.digest === tag.digest && signed.size === tag.size ? 'same' : 'move';
    return { ...tag, reference, action, current: signed.digest };
  });
  let signedCount = 0;
  if (!options.dryRun) {
    for (const entry of entries) {
      if (entry.action !== 'add' && entry.action !== 'move') continue;
      await options.publisher.sign(entry.reference, { digest: entry.digest, size: entry.size });
      signedCount += 1;
    }
  }
  return { notary: { gun: collection.gun, rootKeyIds: collection.rootKeyIds }, gun, dryRun: options.dryRun ?? false, entries, signed: signedCount };
}
