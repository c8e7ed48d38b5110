import { canonicalize } from '@tufjs/canonical-json';

/**
 * OLPC canonical JSON of `value` (keys sorted by UTF-16 code units, only `"` and `\` escaped), as
 * TUF signatures cover it. Throws a TypeError on floats and `undefined`, which it cannot express.
 */
export function canonicalJson(value: unknown): string {
  return canonicalize(value);
}

/** The bytes TUF signatures cover: canonicalJson(`signed`), UTF-8 encoded. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
