/**
 * One docs walk-through as a test: the installed packages (helpers/installed.ts), a fresh directory
 * with the installed tagtrust-server running in it, and the doc's marked blocks run in order
 * (helpers/walkthrough.ts) with the doc's server URL replaced by the real one.
 */
import type { ExecutionContext } from 'ava';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedBin, installedPath, startInstalledServer } from './installed.js';
import type { StepResult } from './walkthrough.js';
import { runWalkthrough, walkthroughBlocks } from './walkthrough.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WALK_TIMEOUT_MS = 300_000;

export interface DocRun {
  steps: StepResult[];
  /** The directory the walk-through ran in. */
  work: string;
}

export interface WalkOptions {
  /** Extra arguments of tagtrust-server. */
  serverArgs?: string[];
  /** More text to replace in the doc's commands (e.g. another service's URL the doc names). */
  replace?: Record<string, string>;
  /** Puts into the directory what the doc says exists before its first command (e.g. a CA file it was handed). */
  prepare?: (work: string) => Promise<void>;
}

/**
 * Runs the marked blocks of `doc` (a path under docs/) and fails `t` on any difference.
 * @param serverUrl the server URL the doc's commands use
 */
export async function walkDoc(t: ExecutionContext, doc: string, serverUrl: string, options: WalkOptions = {}): Promise<DocRun> {
  // A long session under load outlasts ava's 60 s without a result (a test's own timeout replaces it).
  t.timeout(WALK_TIMEOUT_MS);
  const blocks = walkthroughBlocks(await readFile(join(ROOT, doc), 'utf8'));
  t.true(blocks.length > 0, `${doc} has no <!-- walkthrough --> blocks`);
  const bin = await installedBin();
  const work = await mkdtemp(join(tmpdir(), 'tagtrust-doc-'));
  await options.prepare?.(work);
  const env = { PATH: installedPath(bin), HOME: work };
  const server = await startInstalledServer(bin, work, env, options.serverArgs);
  t.teardown(() => server.stop());
  const { steps, mismatches } = await runWalkthrough(blocks, work, env, { [serverUrl]: server.url, ...options.replace });
  t.deepEqual(mismatches, [], mismatches.join('\n\n'));
  return { steps, work };
}
