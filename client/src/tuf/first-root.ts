/**
 * The first root of a collection without trusted state, in order: the caller's `rootFile`, the root
 * pinned for the collection, or the server's `root.json` (trust on first use, said in a notice). A
 * pin by root key ID must be met by whichever root is used. With `tofu: false`, an unpinned
 * collection without a root file is refused. Whatever its source, the root goes through the strict
 * parser (parseRootDocument) and the verified object is stored, never the raw text.
 */
import { METADATA_LIMITS } from './download-limits.js';
import { checkLooksLikeTagtrust, serverFailed } from './first-contact.js';
import { notTagtrustServer } from '../http/foreign-server.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import { NotFoundError, UntrustedRootError, tufBasePath } from '@tagtrust/shared';
import { checkRootAgainstPin, findPin, parseRootDocument } from '../trust/pin-policy.js';
import { loadPins } from '../trust/pin-store.js';
import { accessDenied, mapTufError } from './error-map.js';
import type { DeadlineFetcher } from './fetcher.js';
import type { UpdateContext } from './trusted-types.js';

/**
 * Writes the first root to trust into `work/root.json`.
 * @throws UntrustedRootError, NotFoundError, and download errors
 */
export async function bootstrapRoot(context: UpdateContext, work: string, fetcher: DeadlineFetcher): Promise<void> {
  const pin = findPin(await loadPins(context.home), context.gun);
  let text: string;
  let source: string;
  if (context.rootFile) {
    source = context.rootFile;
    text = await readFile(context.rootFile, 'utf8').catch((err: Error) => {
      throw new UntrustedRootError(`cannot read root file ${context.rootFile}: ${err.message}`);
    });
  } else if (pin?.root) {
    source = `the pin for ${pin.pattern}`;
    text = JSON.stringify(pin.root);
  } else {
    if (!pin && context.policy?.tofu === false) {
      throw new UntrustedRootError(
        `${context.gun} is not pinned and trust on first use is off (--no-tofu / TAGTRUST_NO_TOFU): ` +
          `pin its root with \`tagtrust trust pin ${context.gun} --root-file FILE\` or --root-keyid ID, or pass --root-file`,
      );
    }
    const path = `${tufBasePath(context.gun)}/root.json`;
    source = `${context.server}${path}`;
    text = await downloadRoot(source, context, fetcher);
    checkLooksLikeTagtrust(text, context.server, path, context.mirror);
  }
  const root = parseRootDocument(text, source, context.gun);
  if (pin) checkRootAgainstPin(root, pin, context.gun, source);
  if (!context.rootFile && !pin) {
    const keyIds = root.signed.roles.root.keyids.map((id) => id.slice(0, 8)).join(', ');
    context.warn(
      `trusting root v${root.signed.version} of ${context.gun} on first use (root keys ${keyIds}); pin it with \`tagtrust trust pin\` or --root-file to avoid trust on first use`,
    );
  }
  await writeFileAtomic(join(work, 'root.json'), JSON.stringify(root), 0o600);
}

async function downloadRoot(url: string, context: UpdateContext, fetcher: DeadlineFetcher): Promise<string> {
  try {
    return (await fetcher.downloadBytes(url, METADATA_LIMITS.root)).toString('utf8');
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    // From a tagtrust server, a 404 with its JSON error body (any other 404 is refused by the fetcher).
    if (status === 404) {
      throw new NotFoundError(`collection ${context.gun} does not exist on ${context.server}: check the name, or create it with \`tagtrust init ${context.gun}\``);
    }
    if (status === undefined || context.deadline.expired) throw mapTufError(err, context.gun, context.deadline);
    if (status >= 500) throw serverFailed(status, context.server, context.gun, err);
    throw accessDenied(status, context.gun, 'root', err) ?? notTagtrustServer(context.server, url.slice(context.server.length), 'an unexpected answer', { status, mirror: context.mirror });
  }
}
