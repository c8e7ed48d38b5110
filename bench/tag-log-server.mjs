#!/usr/bin/env node
// A tagtrust server for bench/tag-log.mjs: `node bench/tag-log-server.mjs PORT DATA_DIR [no-log]`
// (TAGTRUST_ADMIN_TOKEN in the environment). With `no-log` it is the same server with the tag
// transparency log switched off, to measure what the log adds to a publish: the repository's TagLog
// prepares no append (nothing hashed, no log keys in the commit) and the timestamp carries no head.
// The publish still derives its tag changes (tag-log/role-changes.ts), so that part of the log's
// cost is counted on both sides. Stops on SIGTERM.
import { startServer } from '../server/dist/index.js';

const [port, dataDir, mode] = process.argv.slice(2);
const running = await startServer({ listen: `127.0.0.1:${port}`, dataDir, adminToken: process.env.TAGTRUST_ADMIN_TOKEN, log: () => {} });
if (mode === 'no-log') {
  const log = running.repository.tagLog;
  log.prepare = async () => ({ head: undefined, edge: undefined });
  log.committed = () => {};
}
process.once('SIGTERM', () => void running.close().then(() => process.exit(0)));
