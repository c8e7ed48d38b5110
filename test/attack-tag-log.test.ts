/**
 * The tag transparency log (server/src/tag-log/, client/src/audit/): an honest server's log is
 * audited and proved; a server that rewrites an old entry, drops one, or shows two pullers different
 * histories is caught (LogInconsistentError, exit 30). The dishonest server is a MaliciousServer
 * replaying a real collection, with the real online timestamp key stolen, so its heads are validly signed.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { LogInconsistentError, auditLog, verifyTagHistory } from '@tagtrust/client';
import { LOG_HEAD_FIELD } from '@tagtrust/shared';
import type { LogEntry, LogLeaf, Metadata, TimestampSigned } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { ForgedLog } from './harness/forged-log.js';
import { captureCollection, parseFile, stealOnlineKeys } from './harness/real-collection.js';

const GUN = 'registry.example.com/team/app';
const size = 100;

async function realCollection(t: ExecutionContext) {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size });
  await owner.sign(`${GUN}:v2`, { digest: digestOf('b'), size });
  await owner.sign(`${GUN}:latest`, { digest: digestOf('a'), size });
  await owner.sign(`${GUN}:latest`, { digest: digestOf('c'), size });
  return { server, owner };
}

async function logLeaves(url: string): Promise<LogLeaf[]> {
  const body = (await (await fetch(`${url}/v2/${GUN}/_trust/log/entries?start=0&end=1000`)).json()) as { entries: LogEntry[] };
  return body.entries.map(({ index: _index, ...leaf }) => leaf);
}

/** A malicious server replaying the real collection with `log` and a timestamp signed (stolen key) over its head. */
async function evilServer(t: ExecutionContext, server: Awaited<ReturnType<typeof startTestServer>>, log: ForgedLog | undefined, api: ForgedLog) {
  const keys = await stealOnlineKeys(server, GUN);
  const files = await captureCollection(server.url, GUN);
  if (log) files.set('timestamp.json', log.signTimestamp(parseFile<Metadata<TimestampSigned>>(files, 'timestamp.json'), keys.timestamp));
  const evil = await MaliciousServer.start();
  t.teardown(() => evil.close());
  evil.serve(GUN, files);
  evil.serveApi(GUN, (path, query) => api.answer(path, query));
  return evil;
}

const cliIn = (url: string, home: string) => (args: string[]) => runCli(args, { TAGTRUST_SERVER: url, TAGTRUST_HOME: home });

test('an honest log: the head is signed into the timestamp, audits stay consistent, history is proved', async (t) => {
  const { server, owner } = await realCollection(t);
  const timestamp = (await (await fetch(`${server.url}/v2/${GUN}/_trust/tuf/timestamp.json`)).json()) as Metadata<TimestampSigned>;
  t.is(timestamp.signed[LOG_HEAD_FIELD]?.size, 4);
  const leaves = await logLeaves(server.url);
  t.deepEqual(leaves.map((l) => [l.tag, l.digest, l.role, l.version]), [
    ['v1', digestOf('a'), 'targets', 2],
    ['v2', digestOf('b'), 'targets', 3],
    ['latest', digestOf('a'), 'targets', 4],
    ['latest', digestOf('c'), 'targets', 5],
  ]);
  t.deepEqual(new ForgedLog(leaves).head(), timestamp.signed[LOG_HEAD_FIELD], 'the signed head is the RFC 6962 root of the listed entries');

  const home = await tempHome();
  const cli = cliIn(server.url, home);
  const first = await cli(['audit', GUN]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /Tag log of .* OK: 4 entries \(first audit, 4 checked now\)/);
  await owner.unsign(`${GUN}:v2`);
  await server.restart();
  const second = await runCli(['audit', GUN], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /OK: 5 entries \(consistent with the 4 entries audited before, 1 checked now\)/);

  const history = await runCli(['history', `${GUN}:latest`, '--verify'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(history.code, 0, history.stderr);
  t.deepEqual(history.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/).slice(0, 1).concat(line.trim().split(/\s+/).slice(2, 5))), [
    ['2', 'targets', 'v4', digestOf('a')],
    ['3', 'targets', 'v5', digestOf('c')],
  ]);
  const removed = await verifyTagHistory(`${GUN}:v2`, { server: server.url, home, warn: () => {} });
  t.deepEqual(removed.map((c) => c.digest), [digestOf('b'), null]);
});

test('log_rewritten: the server rewrites an old entry; a puller that audited before catches it, even a plain pull', async (t) => {
  const { server } = await realCollection(t);
  const home = await tempHome();
  t.is((await cliIn(server.url, home)(['audit', GUN])).code, 0);
  const leaves = await logLeaves(server.url);
  // Same size, another history: every update refuses it at once (two heads for one size).
  const sameSize = new ForgedLog(leaves.map((l, i) => (i === 0 ? { ...l, digest: digestOf('e') } : l)));
  const evil = await evilServer(t, server, sameSize, sameSize);
  const pull = await cliIn(evil.url, home)(['resolve', `${GUN}:v1`]);
  t.is(pull.code, 30, pull.stderr);
  t.regex(pull.stderr, /^tagtrust: .*the tag log of .* has two different heads for 4 entries: the server forked its history/);
  // Rewritten and grown by one entry: the consistency proof fails.
  const grown = new ForgedLog([...leaves.map((l, i) => (i === 0 ? { ...l, digest: digestOf('e') } : l)), { ...leaves[3]!, tag: 'v3' }]);
  const evil2 = await evilServer(t, server, grown, grown);
  const err = await t.throwsAsync(auditLog(GUN, { server: evil2.url, home, warn: () => {} }));
  t.true(err instanceof LogInconsistentError, err?.message);
  t.regex(err!.message, /does not extend the 4 entries this client audited before: the server rewrote or forked its history/);
  const cli = await cliIn(evil2.url, home)(['audit', GUN]);
  t.is(cli.code, 30, cli.stderr);
  t.is(cli.stderr.trim().split('\n').length, 1);
});

test('log_entry_dropped: the server lists its entries without one; the signed head gives it away', async (t) => {
  const { server } = await realCollection(t);
  const leaves = await logLeaves(server.url);
  const evil = await evilServer(t, server, undefined, new ForgedLog(leaves.filter((_, i) => i !== 1)));
  const home = await tempHome();
  const audit = await cliIn(evil.url, home)(['audit', GUN]);
  t.is(audit.code, 30, audit.stderr);
  t.regex(audit.stderr, /entries were (rewritten or )?dropped/);
  const history = await cliIn(evil.url, home)(['history', `${GUN}:v2`, '--verify']);
  t.is(history.code, 30, history.stderr);
});

test('log_split_view: two pullers shown different histories find the fork by comparing heads', async (t) => {
  const { server } = await realCollection(t);
  const honestHome = await tempHome();
  const honest = await cliIn(server.url, honestHome)(['audit', GUN, '--json']);
  t.is(honest.code, 0, honest.stderr);
  const honestHead = (JSON.parse(honest.stdout) as { head: string }).head;
  const leaves = await logLeaves(server.url);
  const fork = new ForgedLog([...leaves.slice(0, 2), { ...leaves[2]!, digest: digestOf('e') }, leaves[3]!, { ...leaves[3]!, tag: 'v9' }]);
  const evil = await evilServer(t, server, fork, fork);
  const victimHome = await tempHome();
  const victim = cliIn(evil.url, victimHome);
  t.is((await victim(['audit', GUN])).code, 0, 'alone, the forked history is self-consistent');
  const compared = await victim(['audit', GUN, '--compare', honestHead]);
  t.is(compared.code, 30, compared.stderr);
  t.regex(compared.stderr, /does not extend the head another puller saw \(4 entries\)/);
  const forkHead = `${fork.head().size}:${fork.head().root_hash}`;
  const back = await runCli(['audit', GUN, '--compare', forkHead], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: honestHome, TAGTRUST_TOKEN: ADMIN_TOKEN });
  t.is(back.code, 30, back.stderr);
});

test('log_entry_malformed: an entry that is not a log entry is refused, not crashed on', async (t) => {
  const { server } = await realCollection(t);
  const honest = new ForgedLog(await logLeaves(server.url));
  const evil = await evilServer(t, server, undefined, honest);
  evil.serveApi(GUN, (path, query) => {
    const answer = honest.answer(path, query) as { entries?: unknown[] };
    if (path === 'log/entries') answer.entries = answer.entries!.map((entry, i) => (i === 0 ? { ...(entry as object), version: 1.5 } : entry));
    return answer;
  });
  const audit = await cliIn(evil.url, await tempHome())(['audit', GUN]);
  t.is(audit.code, 30, audit.stderr);
  t.regex(audit.stderr, /\ntagtrust: the server sent a malformed tag log entry for /);
});
