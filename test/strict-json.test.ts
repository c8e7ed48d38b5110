import test from 'ava';
import { findDuplicateKey, parseStrictJson } from '../client/src/tuf/strict-json.js';

test('duplicate keys are found at any depth, after escapes, and by decoded value', (t) => {
  t.is(findDuplicateKey('{"a":1,"b":{"c":[{"d":1,"d":2}]}}'), 'd');
  t.is(findDuplicateKey('{"a":"x\\"","a":1}'), 'a');
  t.is(findDuplicateKey('{"a\\u0062":1,"ab":2}'), 'ab');
  t.is(findDuplicateKey('{"a":"\\\\","b":{"a":1},"c":["a","a"]}'), undefined, 'same key in sibling objects, or strings in arrays, are fine');
  t.is(findDuplicateKey('[{"a":1},{"a":2}]'), undefined);
  t.is(findDuplicateKey('{"":1,"":2}'), '');
});

test('parseStrictJson refuses invalid JSON and duplicate keys with a SyntaxError', (t) => {
  t.deepEqual(parseStrictJson('{"a":[1,{"b":"}"}]}'), { a: [1, { b: '}' }] });
  t.throws(() => parseStrictJson('{"a":'), { instanceOf: SyntaxError });
  t.throws(() => parseStrictJson('{"signed":{"version":1,"version":2}}'), { instanceOf: SyntaxError, message: 'duplicate object key "version"' });
});
