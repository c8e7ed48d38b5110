/**
 * Raw HTTP calls to a test server's API (admin endpoints, changefeed, rotation), for tests that
 * check status codes and bodies exactly.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from './server.js';

export const SERVER_CLI = fileURLToPath(new URL('../../server/dist/bin.js', import.meta.url));

export interface ApiResult {
  status: number;
  body: any;
}

export async function api(url: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<ApiResult> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed };
}

/** Creates a token through the admin endpoint and returns its secret. */
export async function createToken(url: string, name: string, scopes: string[]): Promise<string> {
  const result = await api(url, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name, scopes });
  if (result.status !== 201) throw new Error(`token create failed: ${JSON.stringify(result.body)}`);
  return result.body.token as string;
}

/** Runs `tagtrust-server ...args`. */
export function runServerCli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SERVER_CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
