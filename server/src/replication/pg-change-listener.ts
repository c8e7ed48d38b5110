/**
 * Listens on PostgreSQL's `tagtrust_changed` channel with a connection of its own and reports each
 * changed collection. Notices sent while the connection was down are lost, so every (re)connection
 * and every loss is reported as `gap`: the listener drops all it remembers. It reconnects by itself
 * (1 s, doubling to 30 s) until stopped.
 */
import pg from 'pg';

export const CHANGE_CHANNEL = 'tagtrust_changed';

export interface ChangeHandlers {
  /** A collection was changed by a committed transaction (possibly this replica's own). */
  changed(gun: string): void;
  /** Notices may have been missed: forget everything about every collection. */
  gap(): void;
  /** The listening connection failed (it retries); for the log. */
  failed?(err: Error): void;
}

export function listenForChanges(url: string, handlers: ChangeHandlers): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 1000;

  const connect = async () => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client = next;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      handlers.gap();
      if (err) handlers.failed?.(err);
      next.end().catch(() => {});
      if (!stopped) {
        retry = setTimeout(() => void connect(), delay);
        retry.unref();
        delay = Math.min(delay * 2, 30_000);
      }
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL && message.payload !== undefined) handlers.changed(message.payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANGE_CHANNEL}`);
      delay = 1000;
      // Changes made before LISTEN took effect were not heard.
      handlers.gap();
    } catch (err) {
      onLost(err as Error);
    }
  };
  void connect();

  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}
