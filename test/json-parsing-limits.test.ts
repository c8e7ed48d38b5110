/**
 * The server's yielding JSON parser reads exactly what JSON.parse reads (except that it refuses
 * repeated keys), and the shape scanner finds each limit whether the document arrives whole or in
 * 4 KiB chunks.
 */
import test from 'ava';
import { JSON_LIMITS, JsonShapeScanner, jsonShapeProblem } from '@tagtrust/shared';
import { parseJsonYielding } from '../server/src/http/yielding-json.js';

async function sameAsJsonParse(t: import('ava').ExecutionContext, text: string): Promise<void> {
  let expected: string;
  try {
    expected = JSON.stringify(JSON.parse(text));
  } catch {
    expected = 'SyntaxError';
  }
  let actual: string;
  try {
    actual = JSON.stringify(await parseJsonYielding(text));
  } catch (err) {
    actual = (err as Error).name;
  }
  t.is(actual, expected, JSON.stringify(text));
}

const CASES = [
  '{}', '[]', '1', '-0', '1.5e10', '1e400', '"a\\u00e9\\n\\"\\\\"', '"\\ud800"', ' [ 1 , 2 ] ', '{"a":[1,2,{"b":null}],"c":true,"d":false}',
  '{"":""}', '[[[[]]]]', '{"a":{}}', '{"a":[]  ,"b":{ }}', '{"a":1}\n',
  '', '  ', '[1,]', '{"a":1,}', '01', '1.', '.5', '-', '"\u0001"', '[1 2]', '{"a" 1}', 'nul', '[1]x', '{"a":"\\x"}', '"abc', '[', '\ufeff{}', 'true false', "{'a':1}", '[1,,2]',
];

test('the yielding parser agrees with JSON.parse on valid and invalid documents', async (t) => {
  for (const text of CASES) await sameAsJsonParse(t, text);
});

test('the yielding parser agrees with JSON.parse on random documents', async (t) => {
  const leaves = [1, -2.5e3, 'x"\\y\u2028', true, null, 'é', '', 0.1];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const random = (depth: number): unknown => {
    const r = next();
    if (depth > 4 || r < 0.3) return leaves[Math.floor(next() * leaves.length)];
    if (r < 0.65) return Array.from({ length: Math.floor(next() * 4) }, () => random(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, (_, i) => [`k${i}`, random(depth + 1)]));
  };
  for (let i = 0; i < 500; i += 1) await sameAsJsonParse(t, JSON.stringify(random(0), null, i % 2 === 0 ? undefined : 1));
});

test('the yielding parser refuses repeated keys and over-deep documents, and keeps "__proto__" an own key', async (t) => {
  await t.throwsAsync(parseJsonYielding('{"a":1,"b":{"c":1,"c":2}}'), { name: 'SyntaxError', message: /duplicate object key "c"/ });
  await t.throwsAsync(parseJsonYielding(`${'['.repeat(33)}${']'.repeat(33)}`, 32), { message: /nesting deeper than 32/ });
  const value = (await parseJsonYielding('{"__proto__":{"polluted":1}}')) as Record<string, unknown>;
  t.deepEqual(Object.keys(value), ['__proto__']);
  t.is(Object.getPrototypeOf(value), Object.prototype);
});

test('the shape scanner finds each limit, whole or in 4 KiB chunks', (t) => {
  const documents: Array<[string, RegExp | undefined]> = [
    [`${'['.repeat(JSON_LIMITS.depth)}${']'.repeat(JSON_LIMITS.depth)}`, undefined],
    [`${'{"a":'.repeat(JSON_LIMITS.depth + 1)}1${'}'.repeat(JSON_LIMITS.depth + 1)}`, /deeper than 32 levels/],
    ['"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["', undefined],
    [`"${'x'.repeat(JSON_LIMITS.stringBytes)}"`, undefined],
    [`{"${'k'.repeat(JSON_LIMITS.stringBytes + 1)}":1}`, /a string longer than 16384 bytes/],
    [`"${'\\"'.repeat(JSON_LIMITS.stringBytes)}"`, /a string longer/],
    [`[${'1,'.repeat(JSON_LIMITS.entries - 1)}1]`, undefined],
    [`[${'1,'.repeat(JSON_LIMITS.entries)}1]`, /more than 200000 entries/],
    [`[${'"a,b",'.repeat(JSON_LIMITS.entries - 1)}1]`, undefined],
  ];
  for (const [document, problem] of documents) {
    const whole = jsonShapeProblem(document);
    const scanner = new JsonShapeScanner();
    let byByte: string | undefined;
    const bytes = Buffer.from(document);
    for (let i = 0; i < bytes.length && byByte === undefined; i += 4096) byByte = scanner.scan(bytes.subarray(i, i + 4096));
    if (problem === undefined) t.is(whole, undefined, document.slice(0, 40));
    else t.regex(whole ?? '', problem, document.slice(0, 40));
    t.is(byByte, whole, 'the same answer in chunks');
  }
});
