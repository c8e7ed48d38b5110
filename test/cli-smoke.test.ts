import test from 'ava';
import { startTestServer } from './helpers/server.js';
import { digestOf, runCli, tempHome } from './helpers/client.js';

test('publisher and puller drive the real CLI end to end', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const gun = 'registry.example.com/team/app';

  const init = await runCli(['init', gun], env);
  t.is(init.code, 0, init.stderr);
  t.regex(init.stdout, /^Initialised registry\.example\.com\/team\/app: root key [0-9a-f]{8}, targets key [0-9a-f]{8}/);

  const sign = await runCli(['sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '1234'], env);
  t.is(sign.code, 0, sign.stderr);

  const pullerEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const resolve = await runCli(['resolve', `${gun}:v1`], pullerEnv);
  t.is(resolve.code, 0, resolve.stderr);
  t.is(resolve.stdout, `${gun}@${digestOf('a')}\n`);
  t.regex(resolve.stderr, /trusting root v1 of registry\.example\.com\/team\/app on first use/);

  const missing = await runCli(['resolve', `${gun}:v2`], pullerEnv);
  t.is(missing.code, 6);
  t.regex(missing.stderr, /^tagtrust: registry\.example\.com\/team\/app:v2 is not signed/);
  t.is(missing.stderr.split('\n').filter(Boolean).length, 1);
});
