/**
 * Reads a JSON request body without ever buffering more than `limit` bytes: a declared
 * Content-Length over the limit is refused before reading, and a chunked body is no longer read as
 * soon as it passes the limit. The request is left unread, not destroyed (destroying it would reset
 * the socket before the 413 is sent); the error middleware closes the connection after the answer.
 * Each chunk is scanned against the JSON shape limits (depth, string length, entries; shared
 * json-shape.ts) as it arrives, so an over-deep or oversized body is refused (400) before JSON.parse
 * and the scan never holds the event loop for more than one chunk. The body is then parsed by
 * yielding-json.ts, which gives the event loop back every few milliseconds (a body of a million short
 * keys held JSON.parse, and every other request, for seconds) and refuses repeated object keys.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidInputError, JSON_LIMITS, JsonShapeScanner, TooLargeError } from '@tagtrust/shared';
import { parseJsonYielding } from './yielding-json.js';

export async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  const shape = new JsonShapeScanner();
  let size = 0;
  for await (const chunk of request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      request.pause();
      throw tooLarge(limit);
    }
    const problem = shape.scan(chunk);
    if (problem !== undefined) {
      request.pause();
      throw new InvalidInputError(`the request body is refused: ${problem}; tagtrust metadata never does`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new InvalidInputError('the request body is empty: send signed metadata as JSON');
  try {
    return await parseJsonYielding(text, JSON_LIMITS.depth);
  } catch (err) {
    throw new InvalidInputError(`the request body is not valid JSON (${(err as Error).message})`);
  }
}

function tooLarge(limit: number): TooLargeError {
  return new TooLargeError(`the request body is larger than the server's limit of ${limit} bytes`);
}
