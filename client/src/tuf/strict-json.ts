/**
 * Strict JSON for metadata: JSON.parse silently keeps the last of duplicate object keys, so two
 * parsers can read different values from the same signed bytes. Metadata with a duplicate key is
 * refused instead, and so is metadata past the JSON shape limits (depth, string length, entries;
 * shared json-shape.ts), before it is parsed, so it never reaches tuf-js's recursive code.
 */
import { jsonShapeProblem } from '@tagtrust/shared';

/** Parses `text`; throws SyntaxError for invalid JSON, past the shape limits, and for an object with a repeated key. */
export function parseStrictJson(text: string): unknown {
  const shape = jsonShapeProblem(text);
  if (shape !== undefined) throw new SyntaxError(shape);
  const value: unknown = JSON.parse(text);
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) throw new SyntaxError(`duplicate object key ${JSON.stringify(duplicate.slice(0, 60))}`);
  return value;
}

interface ObjectFrame {
  keys: Set<string>;
  expectKey: boolean;
}

/** The first repeated key of any object in `text`, which must be valid JSON; undefined if none. */
export function findDuplicateKey(text: string): string | undefined {
  // Frames for the open containers: an ObjectFrame per object, null per array.
  const stack: (ObjectFrame | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    }
    i += 1;
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return text.length - 1;
    let backslashes = 0;
    for (let j = quote - 1; text[j] === '\\'; j -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}
