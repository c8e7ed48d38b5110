/**
 * JSON.parse for request bodies that gives the event loop back while it works. V8's JSON.parse of a
 * body within the size limit can still take seconds (a few microseconds per distinct object key:
 * 10 MiB of short keys is about a million), and every other request waits meanwhile. This parser
 * reads the same grammar (RFC 8259, as JSON.parse) with an explicit stack, and after every slice of
 * `SLICE_MS` of work awaits `setImmediate`, so a read of another collection waits at most one slice.
 *
 * Differences from JSON.parse, both refusals: an object that repeats a key is refused (JSON.parse
 * keeps the last value, so two readers could see different values in the same signed bytes), and so
 * is a document nested deeper than `maxDepth`.
 * @throws SyntaxError naming the position
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest run of parsing between two turns of the event loop, in ms. */
const SLICE_MS = 4;
/** Values parsed between two looks at the clock. */
const CHECK_EVERY = 2048;

const STRING = /"((?:[^"\\\u0000-\u001f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*)"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

interface Frame {
  container: Record<string, unknown> | unknown[];
  /** The key whose value is being read, for objects. */
  key?: string;
}

export async function parseJsonYielding(text: string, maxDepth = 64): Promise<unknown> {
  const stack: Frame[] = [];
  let position = 0;
  let sliceStart = performance.now();
  let parsed = 0;
  let root: unknown;

  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${position}`);
  };
  const skipWhitespace = () => {
    WHITESPACE.lastIndex = position;
    WHITESPACE.exec(text);
    position = WHITESPACE.lastIndex;
  };
  const readString = (): string => {
    STRING.lastIndex = position;
    const match = STRING.exec(text);
    if (!match) fail('invalid string');
    position = STRING.lastIndex;
    const body = match![1]!;
    return body.includes('\\') ? (JSON.parse(match![0]) as string) : body;
  };
  /** Stores a finished value in the open container (or as the document). */
  const store = (value: unknown) => {
    const top = stack[stack.length - 1];
    if (!top) root = value;
    else if (Array.isArray(top.container)) top.container.push(value);
    else if (top.key === '__proto__') Object.defineProperty(top.container, '__proto__', { value, writable: true, enumerable: true, configurable: true });
    else top.container[top.key!] = value;
  };
  /** Reads `"key":` of an object whose `{` or `,` was just read. */
  const readKey = (frame: Frame) => {
    skipWhitespace();
    if (text[position] !== '"') fail('expected a string key');
    const key = readString();
    if (Object.prototype.hasOwnProperty.call(frame.container, key)) fail(`duplicate object key ${JSON.stringify(key.slice(0, 60))}`);
    skipWhitespace();
    if (text[position] !== ':') fail('expected ":"');
    position += 1;
    frame.key = key;
  };

  for (;;) {
    // A value starts here.
    skipWhitespace();
    const c = text[position];
    let opened = false;
    if (c === '{' || c === '[') {
      if (stack.length >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      position += 1;
      const frame: Frame = { container: c === '{' ? {} : [] };
      skipWhitespace();
      const close = c === '{' ? '}' : ']';
      if (text[position] === close) {
        position += 1;
        store(frame.container);
      } else {
        stack.push(frame);
        if (c === '{') readKey(frame);
        opened = true;
      }
    } else if (c === '"') store(readString());
    else if (c === 't' && text.startsWith('true', position)) (position += 4), store(true);
    else if (c === 'f' && text.startsWith('false', position)) (position += 5), store(false);
    else if (c === 'n' && text.startsWith('null', position)) (position += 4), store(null);
    else {
      NUMBER.lastIndex = position;
      const match = NUMBER.exec(text);
      if (!match || match[0] === '') fail(c === undefined ? 'unexpected end of input' : `unexpected ${JSON.stringify(c)}`);
      position = NUMBER.lastIndex;
      store(Number(match![0]));
    }
    if (!opened) {
      // Close every container that ends here; stop at one that continues with ",".
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) {
          skipWhitespace();
          if (position !== text.length) fail('unexpected text after the document');
          return root;
        }
        skipWhitespace();
        const next = text[position];
        const isObject = !Array.isArray(top.container);
        if (next === ',') {
          position += 1;
          if (isObject) readKey(top);
          break;
        }
        if (next === (isObject ? '}' : ']')) {
          position += 1;
          stack.pop();
          store(top.container);
          continue;
        }
        fail(next === undefined ? 'unexpected end of input' : `expected "," or "${isObject ? '}' : ']'}"`);
      }
    }
    parsed += 1;
    if (parsed % CHECK_EVERY === 0 && performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}
