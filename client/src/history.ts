/**
 * The audit trail of a collection, from the server's changefeed: who changed what and when. It is
 * the server's record (not signed TUF metadata): use it to investigate, and `resolve` to verify.
 */
import { parseGun, parseTaggedReference } from '@tagtrust/shared';
import { Deadline } from './deadline.js';
import type { ClientOptions } from './options.js';
import { resolveOptions } from './options.js';
import type { ChangeRecord } from './server-api.js';
import { ServerApi } from './server-api.js';

/**
 * Every recorded change of `<gun>`, oldest first; for `<gun>:<tag>` only the changes of that tag
 * (each record then lists only that tag's change).
 */
export async function readHistory(reference: string, options: ClientOptions = {}): Promise<ChangeRecord[]> {
  const resolved = resolveOptions(options);
  const { gun, tag } = parseHistoryReference(reference);
  const deadline = new Deadline(resolved.timeoutMs, `reading the history of ${gun}`);
  try {
    const api = new ServerApi(resolved.server, resolved.token, deadline, { ca: resolved.ca });
    const records: ChangeRecord[] = [];
    for (let after = 0; ; ) {
      const page = await api.changefeed(gun, after);
      records.push(...page.records);
      if (page.next === undefined) break;
      after = page.next;
    }
    if (tag === undefined) return records;
    return records
      .map((record) => ({ ...record, tags: (record.tags ?? []).filter((change) => change.tag === tag) }))
      .filter((record) => record.tags.length > 0);
  } finally {
    deadline.dispose();
  }
}

function parseHistoryReference(reference: string): { gun: string; tag?: string } {
  try {
    return { gun: parseGun(reference) };
  } catch (err) {
    try {
      const { gun, tag, digest } = parseTaggedReference(reference);
      if (digest === undefined) return { gun, tag };
    } catch {
      // fall through to the error about the whole reference
    }
    throw err;
  }
}
