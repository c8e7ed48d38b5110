/**
 * Runs the walk-throughs of docs/*.md as written. A block runs when the line before its fence is
 * `<!-- walkthrough -->`:
 * - a ```sh block is run as is (setup: exports, files), its output not compared;
 * - a ```console block is a session: `who$ command` lines (continued by a trailing `\`), each
 *   followed by the output the doc shows (stdout and stderr together) and `(exit N)` when the command
 *   fails. `who$` runs with TAGTRUST_HOME=home-<who>, relative: each person their own machine; a
 *   bare `$` runs in the shell's own environment. A line `...` in an output stands for any lines;
 *   the trust-on-first-use notice is left out of outputs, as the docs say.
 * Every block of a doc runs in order in one bash session, in one directory (so `VAR=$(...)` in one
 * command is there for the next), and each command within COMMAND_TIMEOUT_MS. Outputs are compared
 * after `normalise` (IDs, digests, times, ports and absolute paths may differ); the IDs a doc shows
 * (key IDs, pending change IDs) are learned from the real output where the doc shows them and put
 * into later commands that use them, so a doc can say `--id 61febdc598c70085`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export interface Command {
  who?: string;
  command: string;
  expected: string[];
  exit: number;
}

export type Block = { kind: 'sh'; script: string } | { kind: 'console'; commands: Command[] };

const MARKER = '<!-- walkthrough -->';

/** The marked blocks of `markdown`, in order. */
export function walkthroughBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i]!.trim() !== MARKER) continue;
    const fence = /^```(sh|console)$/.exec(lines[i + 1] ?? '');
    if (!fence) throw new Error(`line ${i + 1}: ${MARKER} must be followed by a \`\`\`sh or \`\`\`console fence`);
    const end = lines.indexOf('```', i + 2);
    const body = lines.slice(i + 2, end);
    blocks.push(fence[1] === 'sh' ? { kind: 'sh', script: body.join('\n') } : { kind: 'console', commands: parseSession(body) });
    i = end;
  }
  return blocks;
}

const PROMPT = /^([a-z][a-z0-9-]*)?\$ (.*)$/;

function parseSession(lines: string[]): Command[] {
  const commands: Command[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const prompt = PROMPT.exec(lines[i]!);
    if (!prompt) {
      const current = commands[commands.length - 1];
      if (!current) throw new Error(`console block starts with output, not a command: ${lines[i]}`);
      const exit = /^\(exit (\d+)\)$/.exec(lines[i]!);
      if (exit) current.exit = Number(exit[1]);
      else current.expected.push(lines[i]!);
      continue;
    }
    let command = prompt[2]!;
    while (command.endsWith('\\')) command = `${command}\n${lines[++i]}`;
    commands.push({ ...(prompt[1] ? { who: prompt[1] } : {}), command, expected: [], exit: 0 });
  }
  for (const command of commands) while (command.expected.length > 0 && command.expected[command.expected.length - 1] === '') command.expected.pop();
  return commands;
}

/** IDs and digests (full or shortened `b22c…0405`), times, ports and absolute paths. */
const VARIABLE = /[0-9a-f]{4}…[0-9a-f]{4}|[0-9a-f]{8,}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z|127\.0\.0\.1:\d+|(?<![\w.-])\/[^\s)`'"]+/g;

export function normalise(line: string): string {
  return line.replace(VARIABLE, (m) => (m.startsWith('127.') ? '127.0.0.1:PORT' : m.startsWith('/') ? 'PATH' : /T\d\d:/.test(m) ? 'TIME' : 'HEX')).trimEnd();
}

const COMMAND_TIMEOUT_MS = 60_000;
/** The exit code reported for a command that did not end in time (as timeout(1)). */
const TIMED_OUT = 124;

const TOFU = /^tagtrust: trusting root v\d+ of \S+ on first use/;

export interface StepResult {
  command: Command;
  output: string[];
  exit: number;
}

/** One bash process: what a script exports stays for the next one. */
class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private buffer = '';
  private waiting?: { marker: string; resolve: (text: string) => void };

  constructor(cwd: string, env: Record<string, string>) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env });
    this.bash.stdout.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      this.deliver();
    });
    this.bash.stderr.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
    });
  }

  /**
   * Runs `script` in the shell itself; its output (2>&1) and exit code. A script that does not end
   * within COMMAND_TIMEOUT_MS gets exit code TIMED_OUT, and the shell takes no more scripts.
   */
  run(script: string): Promise<{ output: string; exit: number }> {
    const marker = `@@done-${Math.random().toString(36).slice(2)}`;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<string>((resolve) => {
      this.waiting = { marker, resolve };
      timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(`${this.buffer}(no answer within ${COMMAND_TIMEOUT_MS / 1000} s)\n${marker} ${TIMED_OUT}\n`);
      }, COMMAND_TIMEOUT_MS);
    });
    this.bash.stdin.write(`{\n${script}\n} 2>&1 </dev/null; echo "${marker} $?"\n`);
    this.deliver();
    return done.then((text) => {
      clearTimeout(timer);
      const match = new RegExp(`${marker} (\\d+)\n$`).exec(text)!;
      return { output: text.slice(0, match.index), exit: Number(match[1]) };
    });
  }

  private deliver(): void {
    if (!this.waiting) return;
    const at = this.buffer.indexOf(`${this.waiting.marker} `);
    const end = at < 0 ? -1 : this.buffer.indexOf('\n', at);
    if (end < 0) return;
    const text = this.buffer.slice(0, end + 1);
    this.buffer = this.buffer.slice(end + 1);
    const { resolve } = this.waiting;
    this.waiting = undefined;
    resolve(text);
  }

  /** Ends the shell, and first the background jobs a walk-through left running (e.g. after a failed step). */
  async close(): Promise<void> {
    if (this.bash.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.bash.once('exit', () => resolve()));
    this.bash.stdin.end('kill $(jobs -p) 2>/dev/null\n');
    const stuck = setTimeout(() => this.bash.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(stuck);
  }
}

/**
 * Runs the blocks in `cwd` with `env`, replacing `replace` (e.g. the doc's server URL) in scripts.
 * @returns every console command with what it printed and its exit code, and the comparison failures
 */
export async function runWalkthrough(
  blocks: Block[],
  cwd: string,
  env: Record<string, string>,
  replace: Record<string, string>,
): Promise<{ steps: StepResult[]; mismatches: string[] }> {
  const learned = new Map<string, string>();
  const substitute = (text: string) => {
    let out = text;
    for (const [from, to] of Object.entries(replace)) out = out.replaceAll(from, to);
    return out.replace(/[0-9a-f]{8,}/g, (id) => learned.get(id) ?? id);
  };
  const steps: StepResult[] = [];
  const mismatches: string[] = [];
  const shell = new Shell(cwd, env);
  try {
    for (const block of blocks) {
      if (block.kind === 'sh') {
        const { output, exit } = await shell.run(substitute(block.script));
        if (exit !== 0) mismatches.push(`setup block exited ${exit}:\n${block.script}\n${output}`);
        if (exit === TIMED_OUT) break;
        continue;
      }
      for (const command of block.commands) {
        // In the shell itself, so that `VAR=$(...)` stays for later commands; the person's home only for this command.
        const script = command.who
          ? `__home=\${TAGTRUST_HOME-}; export TAGTRUST_HOME=home-${command.who}\n${substitute(command.command)}\n__rc=$?; export TAGTRUST_HOME=$__home; [ -n "$__home" ] || unset TAGTRUST_HOME; (exit $__rc)`
          : substitute(command.command);
        const result = await shell.run(script);
        const output = result.output.replace(/\n$/, '').split('\n').filter((line) => !TOFU.test(line));
        if (output.length === 1 && output[0] === '') output.pop();
        steps.push({ command, output, exit: result.exit });
        const where = `${command.who ?? ''}$ ${command.command}`;
        if (result.exit !== command.exit) mismatches.push(`${where}\nexited ${result.exit}, the doc says ${command.exit}; it printed:\n${output.join('\n')}`);
        const problem = compare(command.expected, output, learned);
        if (problem) mismatches.push(`${where}\n${problem}`);
        if (result.exit === TIMED_OUT) return { steps, mismatches };
      }
    }
  } finally {
    await shell.close();
  }
  return { steps, mismatches };
}

/** Compares output lines with the doc's (`...` = any lines), learning the doc's IDs; a message when they differ. */
function compare(expected: string[], actual: string[], learned: Map<string, string>): string | undefined {
  let a = 0;
  for (let e = 0; e < expected.length; e += 1) {
    const want = expected[e]!;
    if (want.trim() === '...') {
      const next = expected[e + 1];
      if (next === undefined) return undefined;
      while (a < actual.length && normalise(actual[a]!) !== normalise(next)) a += 1;
      continue;
    }
    const got = actual[a];
    if (got === undefined || normalise(got) !== normalise(want)) {
      return `line ${e + 1} differs:\n  doc:    ${want}\n  actual: ${got ?? '(no more output)'}\nwhole output:\n${actual.join('\n')}`;
    }
    learn(want, got, learned);
    a += 1;
  }
  if (a < actual.length) return `more output than the doc shows, from:\n${actual.slice(a).join('\n')}`;
  return undefined;
}

function learn(doc: string, real: string, learned: Map<string, string>): void {
  const ids = (text: string) => [...text.matchAll(/[0-9a-f]{4}…[0-9a-f]{4}|[0-9a-f]{8,}/g)].map((m) => m[0]);
  const [docIds, realIds] = [ids(doc), ids(real)];
  docIds.forEach((id, i) => {
    const value = realIds[i];
    if (value !== undefined && !id.includes('…') && !learned.has(id)) learned.set(id, value.slice(0, id.length));
  });
}
