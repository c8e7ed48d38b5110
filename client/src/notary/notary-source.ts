/**
 * Where Notary metadata is read from: a Notary server (`GET <url>/v2/<gun>/_trust/tuf/<role>.json`,
 * the same layout tagtrust serves) or a local Notary trust directory (`~/.notary`, holding
 * `tuf/<gun>/metadata/<role>.json`). Every file is bounded in size; a missing file is `undefined`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NetworkError, NotFoundError, TooLargeError } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import { httpRequest, readBody } from '../http/transport.js';

/** Largest Notary metadata file read (Notary's own client allows 5 MiB for targets). */
export const NOTARY_FILE_LIMIT = 5 * 1024 * 1024;

export interface NotarySource {
  /** Where the files come from, for messages. */
  describe: string;
  /** The bytes of `<role>.json` (role: root, timestamp, snapshot, targets, targets/releases …), or undefined when absent. */
  read(role: string): Promise<Buffer | undefined>;
}

export function notaryServerSource(server: string, gun: string, deadline: Deadline, ca?: string | Buffer): NotarySource {
  const base = `${server.replace(/\/+$/, '')}/v2/${gun}/_trust/tuf`;
  return {
    describe: `Notary server ${server}`,
    async read(role) {
      const url = `${base}/${role}.json`;
      let response;
      try {
        response = await httpRequest(url, { signal: deadline.signal }, ca === undefined ? {} : { ca });
      } catch (err) {
        if (deadline.expired) throw deadline.error(`reading ${url}`);
        throw new NetworkError(`cannot read ${url}: ${(err as Error).message}; check --notary-server (and --notary-ca for a self-signed certificate)`, { cause: err });
      }
      if (response.status === 404) {
        response.body.resume();
        return undefined;
      }
      if (response.status !== 200) {
        response.body.resume();
        throw new NetworkError(`${url} answered HTTP ${response.status}: check --notary-server and that the Notary server is healthy`);
      }
      return readBody(response.body, NOTARY_FILE_LIMIT, () => new TooLargeError(`${url} is larger than ${NOTARY_FILE_LIMIT} bytes: refusing it`));
    },
  };
}

export function notaryTrustDirSource(trustDir: string, gun: string): NotarySource {
  const dir = join(trustDir, 'tuf', gun, 'metadata');
  return {
    describe: `Notary trust directory ${trustDir}`,
    async read(role) {
      const path = join(dir, `${role}.json`);
      try {
        const bytes = await readFile(path);
        if (bytes.length > NOTARY_FILE_LIMIT) throw new TooLargeError(`${path} is larger than ${NOTARY_FILE_LIMIT} bytes: refusing it`);
        return bytes;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          if (role === 'root') throw new NotFoundError(`no Notary metadata for ${gun} in ${trustDir} (looked for ${path}): run \`notary pull\`/\`docker trust inspect\` first, or check --trust-dir`);
          return undefined;
        }
        throw err;
      }
    },
  };
}
