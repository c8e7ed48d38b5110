/**
 * The latest targets roles of recently published collections, parsed, with their canonical form
 * (targets-update.ts), so a publish neither parses nor canonicalises the current version again: the
 * top-level targets, and (in a cache of their own) delegated roles and hashed bins.
 *
 * Rules:
 * - An entry is returned only for the exact PreparedFile it was made for (the same object), under
 *   the collection and role it was made for. The read cache makes a new PreparedFile for every
 *   commit, so an entry never outlives its version.
 * - The metadata is either JSON.parse of the file's bytes or the verified object those bytes were
 *   serialised from (JSON.stringify), which is the same JSON value.
 * - Entries are shared: callers must not modify them.
 * - At most `maxBytes` of file bodies are described (default 8 MiB; parsed objects and canonical
 *   members took about 4 times their bodies in memory at 1,000 tags), least recently used
 *   roles first out; a larger file is not kept. A miss only costs a parse and a full
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
  /** [gun, role] as JSON -> entry; Map order is least recently used first. */
  private readonly entries = new Map<string, ParsedTargets & { gun: string; file: PreparedFile }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  /** The parsed form of `file`, the latest version of its role in `gun`: from memory, or parsed (and remembered). */
  get(gun: string, file: PreparedFile): ParsedTargets {
    const key = keyOf(gun, file.role);
    const entry = this.entries.get(key);
    if (entry?.file === file) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry;
    }
    const parsed: ParsedTargets = { metadata: JSON.parse(file.body.toString('utf8')) as Metadata<TargetsSigned> };
    this.set(gun, file, parsed);
    return parsed;
  }

  /** Remembers `parsed` as the parsed form of `file` (whose bytes are JSON.stringify(parsed.metadata)). */
  set(gun: string, file: PreparedFile, parsed: ParsedTargets): void {
    const key = keyOf(gun, file.role);
    this.remove(key);
    if (file.body.length > this.maxBytes) return;
    this.entries.set(key, { ...parsed, gun, file });
    this.bytes += file.body.length;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.file.body.length;
    }
  }

  /** Forgets every role of collection `gun`. */
  delete(gun: string): void {
    for (const [key, entry] of this.entries) if (entry.gun === gun) this.remove(key);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.file.body.length;
  }
}

function keyOf(gun: string, role: string): string {
  return JSON.stringify([gun, role]);
}
