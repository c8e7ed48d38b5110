/** docs/delegations.md "Team setup, step by step" as written: owner, CI and three release managers, each their own home. */
import test from 'ava';
import { walkDoc } from './helpers/doc-walkthrough.js';

test('the delegations walk-through runs as written with the installed packages', async (t) => {
  const { steps } = await walkDoc(t, 'docs/delegations.md', 'http://127.0.0.1:4488');
  t.true(steps.length >= 25, `${steps.length} commands`);
});
