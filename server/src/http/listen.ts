/**
 * The listening socket of the server: binding `host:port` with a one-line error, and the answer
 * while the services behind it are still opening.
 */
import type { Server, ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { UsageError } from '@tagtrust/shared';
import type { ApiErrorBody } from '@tagtrust/shared';
import { requestIdOf } from '../logging/request-context.js';

/**
 * Listens on `address` (host:port).
 * @throws UsageError in one line when the address is taken or not allowed
 */
export async function listen(server: Server, address: string): Promise<void> {
  const { host, port } = parseListen(address);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'EADDRINUSE' ? 'the address is already in use (another tagtrust-server?)' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
    throw new UsageError(`cannot listen on ${address}: ${why}; stop the other process or choose another --listen`, { cause: err });
  });
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!match) throw new UsageError(`--listen "${listen}" is not host:port (e.g. 127.0.0.1:4443)`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

/** The answer while the store and secrets are still being opened. */
export function notReady(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
  res.end(JSON.stringify({ error: { code: 'SERVER', message: 'the server is starting; retry in a moment', requestId: requestIdOf(req) } } satisfies ApiErrorBody));
}
