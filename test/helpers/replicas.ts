/**
 * tagtrust-server replicas for tests: real `tagtrust-server` processes on one PostgreSQL database
 * (same master key and admin token, each its own data directory), and a round-robin load balancer
 * in front of them on 127.0.0.1 that sends each request to the next replica, skipping a replica
 * that refuses connections (as a load balancer's health check would), and records every answer.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_CLI } from './admin.js';
import { ADMIN_TOKEN } from './server.js';
import { assertNoSecretsInLog } from './log-secrets.js';

export const MASTER_KEY = '7a'.repeat(32);

export interface ReplicaProcess {
  url: string;
  /** SIGKILL: no clean shutdown. */
  kill(): Promise<void>;
  /** Starts it again (after `kill`) on a new port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startReplica(databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<ReplicaProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-replica-'));
  let child: ChildProcess | undefined;
  /** Its log over every start. */
  let log = '';
  const handle: ReplicaProcess = {
    url: '',
    async start() {
      const started = spawn(process.execPath, [SERVER_CLI, '--listen', '127.0.0.1:0', '--data', dataDir], {
        env: { ...process.env, TAGTRUST_DATABASE_URL: databaseUrl, TAGTRUST_MASTER_KEY: MASTER_KEY, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN, ...extraEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = started;
      handle.url = await new Promise<string>((resolve, reject) => {
        let err = '';
        started.stderr!.setEncoding('utf8');
        started.stderr!.on('data', (chunk: string) => {
          err += chunk;
          log += chunk;
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
          if (match) resolve(match[1]!);
        });
        started.once('exit', (code) => reject(new Error(`the replica exited (${code}): ${err}`)));
      });
      // Keep draining its log.
      started.stderr!.resume();
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async stop() {
      await handle.kill();
      await rm(dataDir, { recursive: true, force: true });
      assertNoSecretsInLog(log, `the replica on ${dataDir}`);
    },
  };
  await handle.start();
  return handle;
}

export interface Answer {
  method: string;
  path: string;
  status: number;
  body: Buffer;
}

export interface LoadBalancer {
  url: string;
  answers: Answer[];
  close(): Promise<void>;
}

/** @param upstreams the replicas' current URLs (read per request: a restarted replica has a new port) */
export async function startLoadBalancer(upstreams: () => string[]): Promise<LoadBalancer> {
  const answers: Answer[] = [];
  let next = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept', 'if-none-match']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (body.length > 0) headers['content-length'] = String(body.length);
    const targets = upstreams();
    const attempt = (tries: number) => {
      const target = targets[(next += 1) % targets.length]!;
      const upstream = request(`${target}${req.url}`, { method: req.method, headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const bytes = Buffer.concat(parts);
          answers.push({ method: req.method ?? 'GET', path: req.url ?? '', status: answer.statusCode ?? 502, body: bytes });
          res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json' });
          res.end(bytes);
        });
        answer.on('error', () => res.destroy());
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // Not delivered at all: another replica may take it. Anything else is the client's to see.
        if (err.code === 'ECONNREFUSED' && tries < targets.length) return attempt(tries + 1);
        answers.push({ method: req.method ?? 'GET', path: req.url ?? '', status: 502, body: Buffer.alloc(0) });
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"SERVER","message":"the replica went away"}}');
      });
      upstream.end(body);
    };
    attempt(1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
