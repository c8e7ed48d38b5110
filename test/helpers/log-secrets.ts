/**
 * "Logs checked for secrets under every test that uses a token": the harnesses that start servers
 * (server.ts, server-process.ts, replicas.ts) keep the server's log and, when the server is stopped,
 * throw if it holds a secret the tests know (admin token, passphrases, master keys, the database
 * password; registered here by the helpers that define them) or anything shaped like a tagtrust
 * token (`tt_` and 20 or more base64url characters: every push, pull and admin token the server
 * mints). The error names what was found, never the secret itself.
 */

const known = new Map<string, string>();
const TOKEN_SHAPE = /tt_[A-Za-z0-9_-]{20,}/;

/** Adds secrets (value -> what it is) that must never appear in a server log. */
export function registerSecrets(secrets: Record<string, string>): void {
  for (const [what, value] of Object.entries(secrets)) known.set(value, what);
}

/** What secrets `log` holds (their names, not their values). */
export function secretsIn(log: string): string[] {
  const found = [...known].filter(([value]) => log.includes(value)).map(([, what]) => what);
  if (TOKEN_SHAPE.test(log)) found.push('a tagtrust token (tt_…)');
  return found;
}

/** @throws Error naming the secrets `log` holds */
export function assertNoSecretsInLog(log: string, server: string): void {
  const found = secretsIn(log);
  if (found.length > 0) throw new Error(`the log of ${server} holds ${found.join(', ')}: secrets must never be logged`);
}
