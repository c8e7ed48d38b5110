/**
 * `--json` on the commands that change something: what scripts and CI read instead of the text lines.
 */
import test from 'ava';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, runCli, tempHome } from './helpers/client.js';

let server: TestServer;
test.before(async () => {
  server = await startTestServer();
});
test.after.always(async () => {
  await server?.close();
});

test('init, unsign and key rotate print JSON with --json', async (t) => {
  const gun = 'registry.example.com/json/app';
  const home = await tempHome();
  const cli = async (args: string[]) => {
    const result = await runCli([...args, '--json', '--server', server.url, '--home', home]);
    t.is(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };
  const init = await cli(['init', gun]);
  t.is(init.gun, gun);
  t.regex(String(init.targetsKeyId), /^[0-9a-f]{64}$/);
  t.is((await runCli(['sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '3', '--server', server.url, '--home', home])).code, 0);
  const unsign = await cli(['unsign', `${gun}:v1`]);
  t.like(unsign, { reference: `${gun}:v1`, role: 'targets', targetsVersion: 3 });
  const rotated = await cli(['key', 'rotate', gun, 'targets']);
  t.like(rotated, { gun, rootVersion: 2 });
  t.false('proposal' in rotated, 'a summary, not the signed root');
});
