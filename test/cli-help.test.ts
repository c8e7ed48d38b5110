/**
 * `--help` on every command of both binaries (issue 15): each command and sub-command that the
 * top-level help lists prints its usage on stdout and exits 0, with or without other arguments.
 */
import test from 'ava';
import { runServerCli } from './helpers/admin.js';
import { runCli } from './helpers/client.js';

/** `tagtrust <command>` and `tagtrust <command> <action>` from the usage lines of each command's help. */
async function clientCommands(): Promise<string[][]> {
  const top = await runCli(['--help']);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]+) {2,}/gm)].map((m) => m[1]!);
  const all: string[][] = [];
  for (const command of commands) {
    all.push([command]);
    const help = await runCli([command, '--help']);
    const actions = new Set([...help.stdout.matchAll(new RegExp(`^(?:Usage:)? +tagtrust ${command} ([a-z][a-z-]+)\\b`, 'gm'))].map((m) => m[1]!));
    for (const action of actions) all.push([command, action]);
  }
  return all;
}

test('tagtrust: every command and action answers --help with its usage, exit 0', async (t) => {
  const commands = await clientCommands();
  t.true(commands.length >= 30, commands.map((c) => c.join(' ')).join(', '));
  for (const known of ['key generate', 'delegation add', 'trust pin', 'bins enable', 'history']) t.true(commands.some((c) => c.join(' ') === known), known);
  for (const command of commands) {
    for (const flag of ['--help', '-h']) {
      const result = await runCli([...command, flag]);
      t.is(result.code, 0, `tagtrust ${command.join(' ')} ${flag}: ${result.stderr}`);
      t.regex(result.stdout, new RegExp(`^Usage: tagtrust ${command[0]}`), `tagtrust ${command.join(' ')} ${flag}`);
      t.is(result.stderr, '');
    }
  }
});

test('tagtrust-server: every command answers --help with its usage, exit 0 (token --help used to fail)', async (t) => {
  const top = await runServerCli(['--help']);
  t.is(top.code, 0);
  const commands = new Set([...top.stdout.matchAll(/tagtrust-server ([a-z][a-z-]+)/g)].map((m) => m[1]!));
  t.deepEqual([...commands].sort(), ['backup', 'collections', 'export', 'migrate', 'migrate-data', 'restore', 'tls', 'token', 'verify-backup']);
  for (const command of commands) {
    for (const args of [[command, '--help'], [command, '-h'], [command, 'list', '--help']]) {
      const result = await runServerCli(args);
      t.is(result.code, 0, `tagtrust-server ${args.join(' ')}: ${result.stderr}`);
      t.regex(result.stdout, new RegExp(`tagtrust-server ${command}\\b`), `tagtrust-server ${args.join(' ')}`);
      t.is(result.stderr, '');
    }
  }
  const unknown = await runServerCli(['token', 'create', '--bogus']);
  t.is(unknown.code, 2, 'other options are still refused');
});
