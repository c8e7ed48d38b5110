/**
 * Log entries for a person at a terminal: `HH:MM:SS.mmm LEVEL message key=value …`, one line each,
 * the level coloured. Fed the JSON lines pino writes; a line that is not JSON is passed through.
 */
import type { DestinationStream } from 'pino';

const COLOURS: Record<string, string> = { fatal: '35', error: '31', warn: '33', info: '32', debug: '36', trace: '90' };
/** Fields shown in the head of the line, not as key=value. */
const HEAD = new Set(['time', 'level', 'msg']);

export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = String(entry.level ?? '');
  const colour = COLOURS[level] ?? '0';
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [time, `\u001b[${colour}m${level.toUpperCase().padEnd(5)}\u001b[0m`, String(entry.msg ?? ''), ...fields].join(' ');
}

export function prettyDestination(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => out.write(`${prettyLine(line.trimEnd())}\n`) };
}
