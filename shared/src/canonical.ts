import { canonicalize } from '@tufjs/canonical-json';

/**
 * The bytes TUF signatures cover: OLPC canonical JSON of `signed`, UTF-8 encoded.
 * Throws a TypeError on floats and `undefined`, which canonical JSON cannot express.
 */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
