/** `tagtrust audit` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { clientOptions } from '../command.js';

export const auditCommand: Command = {
  name: 'audit',
  usage: 'tagtrust audit <gun> [--compare SIZE:ROOT] [--json]',
  summary: "check a collection's tag transparency log: consistent since the last audit, no entry rewritten or dropped, no fork",
  details: [
    'Verifies the log head signed into the timestamp, proves the log extends the head this home audited last',
    '(RFC 9162 consistency proof), and recomputes the head from the entries appended since (the first audit',
    'reads every entry). --compare SIZE:ROOT checks another puller\'s head (from its `tagtrust audit --json`)',
    'lies on the same history. A rewritten, dropped or forked history exits 30. See docs/immutability.md.',
  ].join('\n'),
  options: { compare: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 1,
  async run([gun], values, out) {
    const { auditLog, parseLogHead } = await import('../../audit/log-audit.js');
    const compare = values.compare === undefined ? undefined : parseLogHead(String(values.compare));
    if (values.compare !== undefined && !compare) throw new UsageError(`--compare "${values.compare}" must be SIZE:ROOT, e.g. 42:<64 hex> from another puller's \`tagtrust audit --json\``);
    const report = await auditLog(gun!, { ...(await clientOptions(values)), ...(compare ? { compare } : {}) });
    if (values.json) return out.json({ gun: report.gun, size: report.head.size, root_hash: report.head.root_hash, head: `${report.head.size}:${report.head.root_hash}`, checked: report.checked });
    const since = report.previous ? `consistent with the ${report.previous.size} entries audited before, ` : 'first audit, ';
    const compared = report.compared ? `; on one history with ${report.compared.size}:${report.compared.root_hash.slice(0, 12)}` : '';
    out.print(`Tag log of ${report.gun} OK: ${report.head.size} entries (${since}${report.checked} checked now), head ${report.head.root_hash.slice(0, 16)}${compared}`);
  },
};
