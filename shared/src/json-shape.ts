/**
 * Limits on the shape of every JSON document tagtrust reads from another party: request bodies on
 * the server, metadata on the client. Checked on the bytes before JSON.parse, so an over-deep or
 * oversized document costs one linear pass and never reaches a recursive parser, validator or
 * canonicaliser (a 3,000-deep field overflowed tuf-js's stack; a 10 MiB deeply nested body held the
 * server's event loop for seconds). The scanner is incremental: the server feeds it each chunk as it
 * arrives, so scanning never blocks other requests for longer than one chunk.
 *
 * Limits (for the whole document, envelope included; tagtrust's own metadata nests at most 6 deep):
 * - depth: at most 32 nested objects and arrays;
 * - strings (keys and values): at most 16,384 bytes each, as UTF-8 in the document (escapes count
 *   as written);
 * - entries: at most 200,000 members per object or items per array (a flat targets file of 16 MiB,
 *   the client's cap, holds about 115,000 tags; one object of a million keys costs V8 a rehash of
 *   the whole object in one step, which held the server's event loop for about a second).
 * The scanner assumes nothing about validity: JSON.parse still decides that afterwards.
 */

export const JSON_LIMITS = {
  depth: 32,
  stringBytes: 16_384,
  entries: 200_000,
} as const;

export type JsonLimits = typeof JSON_LIMITS;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Scans a JSON document chunk by chunk against the limits; the first problem found sticks. */
export class JsonShapeScanner {
  private inString = false;
  private escaped = false;
  private stringBytes = 0;
  /** Commas seen in each open container, innermost last (its length is the depth). */
  private readonly commas: number[] = [];
  private failure: string | undefined;

  constructor(private readonly limits: JsonLimits = JSON_LIMITS) {}

  /** Scans the next bytes of the document. @returns the problem, once a limit is passed */
  scan(chunk: Uint8Array): string | undefined {
    if (this.failure !== undefined) return this.failure;
    const { depth, stringBytes, entries } = this.limits;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) {
          this.inString = false;
          continue;
        }
        this.stringBytes += 1;
        if (this.stringBytes > stringBytes) return (this.failure = `it has a string longer than ${stringBytes} bytes`);
      } else if (byte === QUOTE) {
        this.inString = true;
        this.stringBytes = 0;
      } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
        this.commas.push(0);
        if (this.commas.length > depth) return (this.failure = `it nests objects and arrays deeper than ${depth} levels`);
      } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        this.commas.pop();
      } else if (byte === COMMA && this.commas.length > 0) {
        const top = this.commas.length - 1;
        this.commas[top]! += 1;
        if (this.commas[top]! >= entries) return (this.failure = `it has an object or array with more than ${entries} entries`);
      }
    }
    return undefined;
  }
}

/** The first limit `document` passes, or undefined when it is within all of them. */
export function jsonShapeProblem(document: string | Uint8Array, limits: JsonLimits = JSON_LIMITS): string | undefined {
  return new JsonShapeScanner(limits).scan(typeof document === 'string' ? Buffer.from(document, 'utf8') : document);
}
