/**
 * Tag drift: every signed tag of a collection compared with what its registry serves for the tag now.
 * A tag is `ok` (the registry serves the signed digest), `moved` (it serves another digest),
 * `missing` (the registry does not have the tag) or `unsigned` (the registry has a tag nobody signed).
 */
import type { SignedTag } from '../puller.js';
import type { RegistryClient } from './registry-client.js';

export interface DriftReport {
  gun: string;
  registry: string;
  ok: { tag: string; digest: string }[];
  moved: { tag: string; signed: string; served: string }[];
  missing: { tag: string; signed: string }[];
  unsigned: { tag: string; served?: string }[];
}

/** Look-ups run this many at a time. */
const CONCURRENCY = 8;

export async function checkDrift(gun: string, signed: SignedTag[], client: RegistryClient, name: string, signal: AbortSignal): Promise<DriftReport> {
  const report: DriftReport = { gun, registry: `${client.url}/v2/${name}`, ok: [], moved: [], missing: [], unsigned: [] };
  const signedTags = new Set(signed.map((s) => s.tag));
  const listed = await client.tags(name, { signal });
  const unsignedTags = [...new Set(listed)].filter((tag) => !signedTags.has(tag)).sort();
  const served = await eachLimited([...signed.map((s) => s.tag), ...unsignedTags], (tag) => client.tagDigest(name, tag, { signal }));
  signed.forEach((s, i) => {
    const now = served[i];
    if (now === undefined) report.missing.push({ tag: s.tag, signed: s.digest });
    else if (now === s.digest) report.ok.push({ tag: s.tag, digest: s.digest });
    else report.moved.push({ tag: s.tag, signed: s.digest, served: now });
  });
  unsignedTags.forEach((tag, i) => {
    const now = served[signed.length + i];
    report.unsigned.push({ tag, ...(now ? { served: now } : {}) });
  });
  return report;
}

export const hasDrift = (report: DriftReport): boolean => report.moved.length + report.missing.length + report.unsigned.length > 0;

async function eachLimited<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}
