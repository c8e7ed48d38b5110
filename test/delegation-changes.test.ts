/**
 * Delegation changes never surprise (issue 15): `delegation add` on a delegated role adds keys and
 * paths (Notary semantics), replacing needs --replace, lowering a threshold needs --lower-threshold,
 * and every change is shown before -> after (and with --json) through the real CLI and server.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdOf } from '@tagtrust/keys';
import type { TufKey } from '@tagtrust/shared';
import { startTestServer } from './helpers/server.js';
import { runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';
const ROLE = 'targets/release';

interface Setup {
  owner: Record<string, string>;
  pubs: string[];
  ids: string[];
}

async function setup(t: import('ava').ExecutionContext): Promise<Setup> {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  t.is((await runCli(['init', GUN], owner)).code, 0);
  const signerHome = await tempHome();
  const pubs: string[] = [];
  const ids: string[] = [];
  for (const name of ['alice', 'bob', 'carol']) {
    const pub = join(signerHome, `${name}.pub`);
    const generated = await runCli(['key', 'generate', '--name', name, '--out', pub], { TAGTRUST_HOME: signerHome, [`TAGTRUST_${name.toUpperCase()}_PASSPHRASE`]: `${name}-passphrase` });
    t.is(generated.code, 0, generated.stderr);
    pubs.push(pub);
    ids.push(keyIdOf(JSON.parse(await readFile(pub, 'utf8')) as TufKey));
  }
  return { owner, pubs, ids };
}

const json = (stdout: string) => JSON.parse(stdout) as { role: string; version: number; change: { role: string; before?: { keyIds: string[]; threshold: number; paths: string[] }; after?: { keyIds: string[]; threshold: number; paths: string[] } } };

test('delegation add on a delegated role adds keys and paths; --replace replaces them; each change is shown before -> after', async (t) => {
  const { owner, pubs, ids } = await setup(t);
  const created = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[0]!, '--paths', 'v*', '--json'], owner);
  t.is(created.code, 0, created.stderr);
  t.like(json(created.stdout), { role: 'targets', version: 2, change: { role: ROLE, before: undefined, after: { keyIds: [ids[0]], threshold: 1, paths: [`${GUN}:v*`] } } });

  // Adding bob adds him beside alice (it used to replace alice), and adds the path.
  const added = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[1]!, '--paths', 'latest'], owner);
  t.is(added.code, 0, added.stderr);
  const short = ids.map((id) => id.slice(0, 8));
  t.is(
    added.stdout,
    [
      `${ROLE} in ${GUN}: changed`,
      `  keys:      ${short[0]} -> ${short[0]} ${short[1]}`,
      '  threshold: 1 of 1 -> 1 of 2',
      `  paths:     ${GUN}:v* -> ${GUN}:v* ${GUN}:latest`,
      `Delegated ${ROLE} in ${GUN}: 1 of 2 keys (targets v3)`,
      '',
    ].join('\n'),
  );

  // Raising the threshold needs no flag; the keys stay.
  const raised = await runCli(['delegation', 'add', GUN, ROLE, '--threshold', '2', '--json'], owner);
  t.is(raised.code, 0, raised.stderr);
  t.like(json(raised.stdout).change, { before: { threshold: 1 }, after: { threshold: 2, keyIds: [ids[0], ids[1]] } });

  // --replace swaps the keys and paths for the given ones; a lower threshold still needs its flag.
  const replaceLower = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[2]!, '--paths', 'v*', '--replace'], owner);
  t.is(replaceLower.code, 2);
  t.is(replaceLower.stderr, `tagtrust: this lowers the threshold of ${ROLE} from 2 to 1: add --lower-threshold if that is what you want\n`);
  const replaced = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[2]!, '--paths', 'v*', '--replace', '--lower-threshold', '--json'], owner);
  t.is(replaced.code, 0, replaced.stderr);
  t.like(json(replaced.stdout), { version: 5, change: { before: { keyIds: [ids[0], ids[1]], threshold: 2 }, after: { keyIds: [ids[2]], threshold: 1, paths: [`${GUN}:v*`] } } });

  const list = await runCli(['delegation', 'list', GUN, '--json'], owner);
  t.like((JSON.parse(list.stdout) as unknown[])[0], { role: ROLE, keyIds: [ids[2]], threshold: 1, paths: [`${GUN}:v*`] });
});

test('lowering a threshold is refused without --lower-threshold, by add and by remove --key, and nothing is published', async (t) => {
  const { owner, pubs, ids } = await setup(t);
  const created = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[0]!, '--key', pubs[1]!, '--threshold', '2', '--paths', 'v*'], owner);
  t.is(created.code, 0, created.stderr);

  const lower = await runCli(['delegation', 'add', GUN, ROLE, '--threshold', '1'], owner);
  t.is(lower.code, 2);
  t.is(lower.stderr, `tagtrust: this lowers the threshold of ${ROLE} from 2 to 1: add --lower-threshold if that is what you want\n`);

  // remove --key on a 2-of-2 role used to leave it 1-of-1 silently.
  const remove = await runCli(['delegation', 'remove', GUN, ROLE, '--key', ids[1]!.slice(0, 10)], owner);
  t.is(remove.code, 2);
  t.is(
    remove.stderr,
    `tagtrust: removing ${ids[1]!.slice(0, 8)} leaves ${ROLE} 1 key, below its threshold of 2: add --lower-threshold to lower it to 1, or add a key first (\`tagtrust delegation add\`)\n`,
  );
  const unchanged = await runCli(['delegation', 'list', GUN, '--json'], owner);
  t.like((JSON.parse(unchanged.stdout) as unknown[])[0], { keyIds: [ids[0], ids[1]], threshold: 2 });

  const removed = await runCli(['delegation', 'remove', GUN, ROLE, '--key', ids[1]!.slice(0, 10), '--lower-threshold'], owner);
  t.is(removed.code, 0, removed.stderr);
  t.regex(removed.stdout, /  threshold: 2 of 2 -> 1 of 1\n/);
  t.true(removed.stdout.endsWith(`Revoked key ${ids[1]!.slice(0, 10)} of ${ROLE} in ${GUN} (targets v3)\n`), removed.stdout);

  // Adding carol back with a threshold of 2 raises it again: no flag needed.
  const carol = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[2]!, '--threshold', '2', '--json'], owner);
  t.is(carol.code, 0, carol.stderr);
  t.like(json(carol.stdout).change, { before: { keyIds: [ids[0]], threshold: 1 }, after: { keyIds: [ids[0], ids[2]], threshold: 2 } });
});

test('delegation add with nothing to change, or a new role without paths, is a usage error', async (t) => {
  const { owner, pubs } = await setup(t);
  const nothing = await runCli(['delegation', 'add', GUN, ROLE], owner);
  t.is(nothing.code, 2);
  t.is(nothing.stderr, 'tagtrust: delegation add needs at least one --key PUBFILE, --paths PATTERN, --threshold N or --terminating\n');
  const noPaths = await runCli(['delegation', 'add', GUN, ROLE, '--key', pubs[0]!], owner);
  t.is(noPaths.code, 2);
  t.is(noPaths.stderr, `tagtrust: delegating ${ROLE} for the first time needs at least one --paths PATTERN\n`);
});
