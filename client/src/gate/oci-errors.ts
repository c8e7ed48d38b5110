/**
 * The gate's answers when it will not serve something: OCI Distribution error bodies
 * (`{"errors":[{"code","message"}]}`) with the status the spec gives each code. The message always
 * says why, starting with "tagtrust gate:", so a puller's error output names the gate.
 */
import type { ServerResponse } from 'node:http';
import { InvalidReferenceError, NotFoundError, NotSignedError, RepositoryError, TagTrustError, UnauthorizedError } from '@tagtrust/shared';
import { RegistryUnauthorizedError } from '../registry/registry-client.js';

export type OciErrorCode = 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_INVALID' | 'TAG_INVALID' | 'NAME_UNKNOWN' | 'DENIED' | 'UNAUTHORIZED' | 'UNSUPPORTED' | 'TOOMANYREQUESTS' | 'SIZE_INVALID' | 'UNAVAILABLE' | 'UNKNOWN';

const STATUS: Record<OciErrorCode, number> = {
  MANIFEST_UNKNOWN: 404,
  BLOB_UNKNOWN: 404,
  NAME_INVALID: 400,
  TAG_INVALID: 400,
  NAME_UNKNOWN: 404,
  DENIED: 403,
  UNAUTHORIZED: 401,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  SIZE_INVALID: 413,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
};

/** A refusal decided by the gate itself (not a library error). */
export class GateRefusal extends Error {
  constructor(
    readonly code: OciErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GateRefusal';
  }
}

export interface OciError {
  status: number;
  code: OciErrorCode;
  message: string;
  /** A 401's challenge, relayed from the upstream. */
  challenge?: string;
}

/**
 * The OCI error for a failure while serving `what` (e.g. a manifest). Anything that is not a known
 * refusal is an internal error with a generic message (the caller logs the real one).
 */
export function ociErrorFor(err: unknown, blobs: boolean): OciError {
  const unknown: OciErrorCode = blobs ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN';
  const of = (code: OciErrorCode, message: string): OciError => ({ status: STATUS[code], code, message: `tagtrust gate: ${message}` });
  if (err instanceof GateRefusal) return of(err.code, err.message);
  if (err instanceof RegistryUnauthorizedError) return { ...of('UNAUTHORIZED', err.message), ...(err.challenge ? { challenge: err.challenge } : {}) };
  if (err instanceof UnauthorizedError) return of('UNAUTHORIZED', err.message);
  if (err instanceof NotSignedError) return of(unknown, err.message);
  if (err instanceof InvalidReferenceError) return of('NAME_INVALID', err.message);
  if (err instanceof NotFoundError) return of(unknown, err.message);
  if (err instanceof RepositoryError) return of('DENIED', `verification failed, refusing: ${err.message}`);
  // Timeouts, unreachable or failing servers, oversized answers: fail closed.
  if (err instanceof TagTrustError) return of('DENIED', `cannot verify, refusing: ${err.message}`);
  return of('UNKNOWN', 'internal error (logged by the gate)');
}

export function sendOciError(res: ServerResponse, error: OciError, head: boolean): void {
  const body = JSON.stringify({ errors: [{ code: error.code, message: error.message }] });
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  if (error.challenge) headers['www-authenticate'] = error.challenge;
  if (error.code === 'UNSUPPORTED') headers.allow = 'GET, HEAD';
  res.writeHead(error.status, headers);
  res.end(head ? undefined : body);
}
