/**
 * A cap on open connections that keeps the server answering while an attacker holds many of them.
 *
 * Node's own `maxConnections` refuses every new connection once the cap is reached, so a slowloris
 * attack (connections that never finish their headers) would lock out every good client. Here, when
 * a new connection would pass the cap, the oldest connection that has no request in flight is closed
 * instead: one still sending its headers, or an idle keep-alive connection. Such a connection costs a
 * good client at most a reconnect. Only when every connection is busy with a request is the new one
 * refused.
 * It also bounds how long a connection may take: `headersTimeoutMs` from connecting to a complete
 * first request head, `requestTimeoutMs` from a request head to its complete body. Node has the same
 * timeouts (also set, in server.ts), but its periodic check was seen to miss a connection under load;
 * these timers close it for sure.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimitOptions {
  max: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  log: (line: string) => void;
  /** At most one log line per this many ms about closed or refused connections (default 10 s). */
  logIntervalMs?: number;
}

/** The TCP socket under a request's socket: for HTTPS, the TLS socket's parent (the one 'connection' saw). */
function tcpSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

export function limitConnections(server: Server, options: ConnectionLimitOptions): void {
  /** Timers that close a new connection that has not sent a complete request head in time. */
  const headersTimers = new WeakMap<Socket, NodeJS.Timeout>();
  /** Connections without a request in flight, oldest first (a Set keeps insertion order). */
  const idle = new Set<Socket>();
  let open = 0;
  let closed = 0;
  let refused = 0;
  let lastLog = 0;
  const report = () => {
    const now = Date.now();
    if (now - lastLog < (options.logIntervalMs ?? 10_000)) return;
    lastLog = now;
    options.log(`connection limit of ${options.max} reached: closed ${closed} idle or slow connections and refused ${refused} so far`);
  };

  server.on('connection', (socket: Socket) => {
    open += 1;
    const headersTimer = setTimeout(() => socket.destroy(), options.headersTimeoutMs).unref();
    headersTimers.set(socket, headersTimer);
    socket.once('close', () => {
      open -= 1;
      idle.delete(socket);
      clearTimeout(headersTimer);
    });
    if (open <= options.max) {
      idle.add(socket);
      return;
    }
    const oldest = idle.values().next();
    if (oldest.done) {
      refused += 1;
      socket.destroy();
    } else {
      closed += 1;
      idle.delete(oldest.value);
      oldest.value.destroy();
      idle.add(socket);
    }
    report();
  });

  server.on('request', (req, res) => {
    const socket = tcpSocket(req.socket);
    idle.delete(socket);
    clearTimeout(headersTimers.get(socket));
    const bodyTimer = req.complete ? undefined : setTimeout(() => req.destroy(Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })), options.requestTimeoutMs).unref();
    req.once('end', () => clearTimeout(bodyTimer));
    res.once('close', () => {
      clearTimeout(bodyTimer);
      if (!socket.destroyed) idle.add(socket);
    });
  });
}
