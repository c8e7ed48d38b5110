/**
 * The latest top-level targets of recently published collections, parsed, with their canonical form
 * (targets-update.ts), so a publish neither parses nor canonicalises the current version again.
 *
 * Rules:
 * - An entry is returned only for the exact PreparedFile it was made for (the same object). The read
 *   cache makes a new PreparedFile for every commit, so an entry never outlives its version.
 * - The metadata is either JSON.parse of the file's bytes or the verified object those bytes were
 *   serialised from (JSON.stringify), which is the same JSON value.
 * - Entries are shared: callers must not modify them.
 * - At most `maxBytes` of file bodies are described (default 8 MiB; parsed objects and canonical
 *   members took about 4 times their bodies in memory at 1,000 tags), least recently used
 *   collections first out; a larger file is not kept. A miss only costs a parse and a full
 *   canonicalisation.
 */
import type { Metadata, TargetsSigned } from '@tagtrust/shared';
import type { PreparedFile } from './read-cache.js';
import type { CanonicalTargets } from './targets-update.js';

export interface ParsedTargets {
  metadata: Metadata<TargetsSigned>;
  canonical?: CanonicalTargets;
}

export class ParsedTargetsCache {
  /** gun -> entry; Map order is least recently used first. */
  private readonly entries = new Map<string, ParsedTargets & { file: PreparedFile }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  /** The parsed form of `file`, the latest targets of `gun`: from memory, or parsed (and remembered). */
  get(gun: string, file: PreparedFile): ParsedTargets {
    const entry = this.entries.get(gun);
    if (entry?.file === file) {
      this.entries.delete(gun);
      this.entries.set(gun, entry);
      return entry;
    }
    const parsed: ParsedTargets = { metadata: JSON.parse(file.body.toString('utf8')) as Metadata<TargetsSigned> };
    this.set(gun, file, parsed);
    return parsed;
  }

  /** Remembers `parsed` as the parsed form of `file` (whose bytes are JSON.stringify(parsed.metadata)). */
  set(gun: string, file: PreparedFile, parsed: ParsedTargets): void {
    this.delete(gun);
    if (file.body.length > this.maxBytes) return;
    this.entries.set(gun, { ...parsed, file });
    this.bytes += file.body.length;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.file.body.length;
    }
  }

  delete(gun: string): void {
    const entry = this.entries.get(gun);
    if (!entry) return;
    this.entries.delete(gun);
    this.bytes -= entry.file.body.length;
  }
}
