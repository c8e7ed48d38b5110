/** docs/immutability.md as written: a signed policy, a refused move (exit 28), the tag log audited twice and a verified history. */
import test from 'ava';
import { walkDoc } from './helpers/doc-walkthrough.js';

test('the immutability walk-through runs as written with the installed packages', async (t) => {
  const { steps } = await walkDoc(t, 'docs/immutability.md', 'http://127.0.0.1:4443');
  t.is(steps.length, 10);
});
