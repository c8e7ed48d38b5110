/**
 * `tagtrust-server export`: writes collections of a running server as static files in the server's
 * own URL layout, `DIR/v2/<gun>/_trust/tuf/<file>`, so that any static web server, CDN or object
 * store serving DIR is a mirror pullers can use (`tagtrust --mirror URL`).
 *
 * Rules:
 * - What is written per collection: every root version (`<N>.root.json`, for clients walking
 *   rotations) and `root.json`; the versions of the snapshot and of every targets role it lists
 *   (`<N>.<role>.json`); then `timestamp.json` last. A client reading the mirror in the middle of an
 *   export sees either the old timestamp or a new one whose files are all there already.
 * - Every file is written under a temporary name and renamed (atomic replacement); versioned files
 *   never change, so one already exported is not fetched again.
 * - Reading `timestamp.json` makes the server renew it when due, so `--watch` keeps the mirror's
 *   timestamps fresh; a mirror that stops being refreshed goes stale, and pullers refuse it then.
 * - Paths come from names the server serves; a role name with an empty, `.` or `..` segment, or a
 *   path that would leave DIR, is refused.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InvalidInputError, NetworkError, errorFromApi } from '@tagtrust/shared';
import { gunPatternMatches } from '../auth.js';

export interface ExportOptions {
  server: string;
  token: string;
  out: string;
  /** Only collections matching this pattern (`*` within a segment, `**` anything). */
  gun?: string;
}

export interface ExportResult {
  collections: number;
  /** Files written in this pass (timestamps included). */
  written: number;
}

export class MirrorExporter {
  private readonly out: string;
  /** Last exported timestamp text per collection: an unchanged timestamp means nothing to do. */
  private readonly lastTimestamp = new Map<string, string>();

  constructor(private readonly options: ExportOptions) {
    this.out = resolve(options.out);
  }

  /** One pass over every (matching) collection. */
  async exportAll(): Promise<ExportResult> {
    const { collections } = await this.getJson<{ collections: { gun: string }[] }>('/_admin/collections');
    const guns = collections.map((c) => c.gun).filter((gun) => this.options.gun === undefined || gunPatternMatches(this.options.gun, gun));
    let written = 0;
    for (const gun of guns) written += await this.exportCollection(gun);
    return { collections: guns.length, written };
  }

  /** Exports one collection; returns how many files were written. */
  async exportCollection(gun: string): Promise<number> {
    // A name that is not a plain path is refused before any request or write uses it.
    this.pathOf(gun, 'timestamp.json');
    const timestampText = await this.getText(gun, 'timestamp.json');
    if (this.lastTimestamp.get(gun) === timestampText) return 0;
    const timestamp = JSON.parse(timestampText) as { signed: { meta: Record<string, { version: number }> } };
    let written = 0;
    const root = JSON.parse(await this.getText(gun, 'root.json')) as { signed: { version: number } };
    for (let version = 1; version <= root.signed.version; version += 1) written += await this.ensureVersion(gun, 'root', version);
    const snapshotVersion = timestamp.signed.meta['snapshot.json']!.version;
    written += await this.ensureVersion(gun, 'snapshot', snapshotVersion);
    const snapshot = JSON.parse(await this.readLocal(gun, `${snapshotVersion}.snapshot.json`)) as { signed: { meta: Record<string, { version: number }> } };
    for (const [file, { version }] of Object.entries(snapshot.signed.meta)) {
      written += await this.ensureVersion(gun, file.replace(/\.json$/, ''), version);
    }
    await this.writeAtomic(gun, 'root.json', await this.readLocal(gun, `${root.signed.version}.root.json`));
    await this.writeAtomic(gun, 'timestamp.json', timestampText);
    this.lastTimestamp.set(gun, timestampText);
    return written + 2;
  }

  private async ensureVersion(gun: string, role: string, version: number): Promise<number> {
    const file = `${version}.${role}.json`;
    if (await exists(this.pathOf(gun, file))) return 0;
    await this.writeAtomic(gun, file, await this.getText(gun, file));
    return 1;
  }

  private pathOf(gun: string, file: string): string {
    const segments = [...gun.split('/'), ...file.split('/')];
    if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new InvalidInputError(`refusing to export ${gun} ${file}: not a plain path`);
    const path = join(this.out, 'v2', gun, '_trust', 'tuf', file);
    if (relative(this.out, path).startsWith(`..${sep}`)) throw new InvalidInputError(`refusing to export ${gun} ${file}: it would leave ${this.out}`);
    return path;
  }

  private async writeAtomic(gun: string, file: string, text: string): Promise<void> {
    const path = this.pathOf(gun, file);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, path);
  }

  private readLocal(gun: string, file: string): Promise<string> {
    return readFile(this.pathOf(gun, file), 'utf8');
  }

  private async getText(gun: string, file: string): Promise<string> {
    return (await this.request(`/v2/${gun}/_trust/tuf/${file}`, `reading ${file} of ${gun}`)).text();
  }

  private async getJson<T>(path: string): Promise<T> {
    return (await (await this.request(path, 'listing collections')).json()) as T;
  }

  private async request(path: string, what: string): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.options.server}${path}`, { headers: { authorization: `Bearer ${this.options.token}` }, signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      throw new NetworkError(`${what} failed: cannot reach ${this.options.server} (${(err as Error).cause ?? (err as Error).message}); check --server`, { cause: err });
    }
    if (!response.ok) throw errorFromApi(response.status, await response.json().catch(() => undefined), what);
    return response;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
