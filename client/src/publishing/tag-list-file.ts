/**
 * The tag list `tagtrust sign --from-file FILE` reads (docs/signing.md): one tag per line,
 *
 *     <gun>:<tag> <sha256:digest> [<size in bytes>]
 *
 * separated by spaces or tabs; blank lines and lines starting with `#` are skipped. Without a size
 * the CLI reads the manifest from the registry by its digest. All tags must be in one collection.
 */
import { readFile, stat } from 'node:fs/promises';
import { InvalidInputError, TooLargeError, UsageError, parseDigest, parseTaggedReference } from '@tagtrust/shared';

/** Largest tag list read. */
export const MAX_TAG_LIST_BYTES = 1024 * 1024;
/** Most tags one list may name (one publish signs them all). */
export const MAX_TAG_LIST_ENTRIES = 10_000;

export interface TagListEntry {
  reference: string;
  digest: string;
  size?: number;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** Reads and parses a tag list file. @throws UsageError (unreadable), TooLargeError, InvalidInputError (a bad line: file:line in the message) */
export async function readTagList(path: string): Promise<TagListEntry[]> {
  const size = await stat(path).then(
    (s) => s.size,
    (err: NodeJS.ErrnoException) => {
      throw new UsageError(`--from-file ${path}: cannot read it (${err.code ?? err.message})`);
    },
  );
  if (size > MAX_TAG_LIST_BYTES) throw new TooLargeError(`--from-file ${path} is ${size} bytes, over the ${MAX_TAG_LIST_BYTES} a tag list may have: split it`);
  return parseTagList(await readFile(path, 'utf8'), path);
}

/** Parses tag list text; `source` names it in messages. */
export function parseTagList(text: string, source: string): TagListEntry[] {
  const entries: TagListEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const at = (why: string) => new InvalidInputError(`${source}:${line}: ${why}; each line is "<gun>:<tag> <sha256:digest> [<size>]"`);
    const fields = trimmed.split(/[ \t]+/);
    if (fields.length < 2 || fields.length > 3) throw at(`expected 2 or 3 fields, got ${fields.length}`);
    const [reference, digest, sizeText] = fields as [string, string, string | undefined];
    try {
      const parsed = parseTaggedReference(reference);
      if (parsed.digest !== undefined && parsed.digest !== digest) throw new Error(`the reference says ${parsed.digest} but the line says ${digest}`);
      parseDigest(digest);
    } catch (err) {
      throw at((err as Error).message);
    }
    let size: number | undefined;
    if (sizeText !== undefined) {
      size = Number(sizeText);
      if (!/^\d+$/.test(sizeText) || !Number.isSafeInteger(size) || size < 1) throw at(`size "${sizeText}" is not a positive whole number of bytes`);
    }
    if (entries.length === MAX_TAG_LIST_ENTRIES) throw new TooLargeError(`${source} names more than ${MAX_TAG_LIST_ENTRIES} tags: split it`);
    entries.push({ reference, digest, ...(size === undefined ? {} : { size }), line });
  }
  if (entries.length === 0) throw new UsageError(`${source} names no tag: each line is "<gun>:<tag> <sha256:digest> [<size>]"`);
  return entries;
}
