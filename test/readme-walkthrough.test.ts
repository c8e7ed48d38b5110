/**
 * The README's contract with a new user, walked as written: the packages are built (`npm run package`)
 * and installed the documented way (`npm install -g` of the two tarballs, into a temp prefix), the
 * installed tagtrust-server starts in an empty directory, and every shell block of the Walk-through runs
 * in order in one bash session; each output block the README shows must match what the commands print
 * (key IDs, digests, paths and the port may differ).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { installedBin, installedPath, startInstalledServer } from './helpers/installed.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Step {
  script: string;
  expected?: string;
}

/** The shell blocks of a README section, each with the output block that follows it (if any). */
function stepsOf(markdown: string, heading: string): Step[] {
  const start = markdown.indexOf(`### ${heading}\n`);
  const next = /\n#{2,3} /g;
  next.lastIndex = start + 1;
  const end = next.exec(markdown)?.index ?? markdown.length;
  const blocks = [...markdown.slice(start, end).matchAll(/```(\w*)\n([\s\S]*?)```\n/g)].map((m) => ({ lang: m[1], text: m[2]! }));
  const steps: Step[] = [];
  for (const block of blocks) {
    if (block.lang === 'sh') steps.push({ script: block.text });
    else if (steps.length > 0 && steps[steps.length - 1]!.expected === undefined) steps[steps.length - 1]!.expected = block.text;
  }
  return steps;
}

/** What may differ between runs: key IDs and digests, absolute paths, the port. */
const normalise = (text: string) =>
  text
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TIME')
    .replace(/[0-9a-f]{8,}/g, 'HEX')
    .replace(/\/[^\s)]+/g, 'PATH')
    .trimEnd();

test('the README walk-through runs as written with the packages installed the documented way', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const bin = await installedBin();
  const work = await mkdtemp(join(tmpdir(), 'tagtrust-readme-'));
  const env = { PATH: installedPath(bin), HOME: work };
  const server = await startInstalledServer(bin, work, env);
  t.teardown(() => server.stop());
  const { url, startup } = server;
  const firstStart = /On its first start[\s\S]*?```\n([\s\S]*?)```/.exec(readme)![1]!;
  t.is(normalise(startup), normalise(firstStart), 'the first start prints what the Quickstart shows');

  const steps = stepsOf(readme, 'Walk-through');
  t.true(steps.length >= 5);
  const script = steps.map((step, i) => `echo '@@@ ${i}'\n{\n${step.script.replaceAll('http://127.0.0.1:4443', url)}\n} 2>&1`).join('\n');
  const { stdout } = await run('bash', ['-c', script], { cwd: work, env, timeout: 120_000 });
  const outputs = stdout.split(/^@@@ \d+\n/m).slice(1);
  t.is(outputs.length, steps.length);
  steps.forEach((step, i) => {
    if (step.expected !== undefined) t.is(normalise(outputs[i]!), normalise(step.expected), `output of:\n${step.script}`);
  });
});
