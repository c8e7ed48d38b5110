/**
 * The bytes TUF signatures cover: OLPC canonical JSON of `signed`, UTF-8 encoded.
 *
 * Same output as @tufjs/canonical-json (test/canonical.test.ts checks it): object keys sorted by
 * UTF-16 code units, no whitespace, integers only, and in strings only `"` and `\` escaped. Built
 * with plain string concatenation instead of arrays and joins: targets with thousands of entries
 * are canonicalised on every publish (client signing, server verification).
 */
const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

function canonicalString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPE, '\\$&')}"` : `"${text}"`;
}

function canonical(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return canonicalString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (Number.isInteger(value)) return JSON.stringify(value);
      break;
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i += 1) out += (i === 0 ? '' : ',') + canonical(value[i]);
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i += 1) {
        const key = keys[i]!;
        out += `${i === 0 ? '' : ','}${canonicalString(key)}:${canonical(record[key])}`;
      }
      return `${out}}`;
    }
    default:
      break;
  }
  throw new TypeError(`cannot encode ${String(value)} as canonical JSON`);
}

/**
 * The bytes TUF signatures cover: OLPC canonical JSON of `signed`, UTF-8 encoded.
 * Throws a TypeError on floats and `undefined`, which canonical JSON cannot express.
 */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonical(value), 'utf8');
}
