/**
 * Calls to the tagtrust-server API other than metadata downloads: online keys (and their rotation),
 * publishing, and the audit changefeed.
 * Server errors come back as the typed errors the server reported (errorFromApi).
 */
import { LEASE_HEADER, NetworkError, NotFoundError, ServerError, pendingBasePath, tufBasePath, errorFromApi } from '@tagtrust/shared';
import type { LogEntry, Metadata, PendingResult, PendingStatus, PublishRequest, PublishResponse, Signature, TargetsSigned, TufKey, WithdrawResult } from '@tagtrust/shared';

/** One accepted change, as the server's changefeed reports it. */
export interface ChangeRecord {
  seq: number;
  gun: string;
  time: string;
  /** Name of the token that made the change. */
  actor: string;
  action: 'publish' | 'rotate-key' | 'delete' | 'refused';
  versions?: Record<string, number>;
  /** `role`: the targets role that signed the change (targets, a delegated role or a bin); `keyIds`: its keys that made the threshold. */
  tags?: { tag: string; change: 'added' | 'moved' | 'removed'; from?: string; to?: string; role?: string; keyIds?: string[] }[];
  keys?: { pending?: Record<string, string>; activated?: Record<string, string> };
  rootKeyChanges?: Record<string, string[]>;
  /** Delegation changes of the publish: roles added/removed, keys revoked, thresholds, paths. */
  delegations?: { delegator: string; delegatorVersion: number; role: string; kind: string; keyIds?: string[]; threshold?: number; paths?: string[] }[];
  /** A change of the signed immutability policy (docs/immutability.md). */
  policy?: { from: string[]; to: string[] };
  /** A publish the server refused (action `refused`), e.g. one moving an immutable tag. */
  refusal?: { code: string; message: string };
}

export interface ChangefeedPage {
  gun: string;
  records: ChangeRecord[];
  next?: number;
}
import type { Deadline } from './deadline.js';
import type { HttpResponse, TransportOptions } from './http/transport.js';
import { httpRequest, readBody } from './http/transport.js';
import { foreignKind, notTagtrustServer } from './http/foreign-server.js';
import { describeConnectionError } from './http/network-errors.js';

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** What a 2xx answer must look like (its top-level fields). */
  shape?: (value: unknown) => boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** An object with each of `fields`. */
const withFields = (...fields: string[]) => (value: unknown) => isObject(value) && fields.every((field) => value[field] !== undefined);
/** An object whose `field` is an array. */
const withArray = (field: string) => (value: unknown) => isObject(value) && Array.isArray(value[field]);

/** Largest API answer read (publish results and keys are small). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export class ServerApi {
  constructor(
    private readonly server: string,
    private readonly token: string | undefined,
    private readonly deadline: Deadline,
    private readonly transport: TransportOptions = {},
  ) {}

  /** The latest root version of a collection, or undefined when the collection does not exist. */
  async latestRootVersion(gun: string): Promise<number | undefined> {
    try {
      const root = await this.request<{ signed?: { version?: unknown } }>('GET', `${tufBasePath(gun)}/root.json`, `reading the root of ${gun}`);
      return typeof root.signed?.version === 'number' ? root.signed.version : undefined;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  getOnlineKey(gun: string, role: 'snapshot' | 'timestamp'): Promise<TufKey> {
    return this.request<TufKey>('GET', `${tufBasePath(gun)}/${role}.key`, `fetching the ${role} key of ${gun}`, { shape: withFields('keytype', 'keyval') });
  }

  /** Starts a rotation of a server-held key (admin scope); returns the new, pending public key. */
  rotateOnlineKey(gun: string, role: 'snapshot' | 'timestamp'): Promise<{ keyId: string; key: TufKey }> {
    return this.request('POST', `${tufBasePath(gun)}/${role}.key`, `rotating the ${role} key of ${gun}`, { shape: withFields('keyId', 'key') });
  }

  changefeed(gun: string, after: number, limit = 500): Promise<ChangefeedPage> {
    return this.request('GET', `/v2/${gun}/_trust/changefeed?after=${after}&limit=${limit}`, `reading the history of ${gun}`, { shape: withArray('records') });
  }

  /** Entries [start, end) of the tag transparency log (the server returns at most a page). */
  logEntries(gun: string, start: number, end: number): Promise<{ size: number; entries: LogEntry[] }> {
    return this.request('GET', `/v2/${gun}/_trust/log/entries?start=${start}&end=${end}`, `reading the tag log of ${gun}`, { shape: withArray('entries') });
  }

  /** Inclusion proof of log entry `index` in the tree of `size` entries. */
  logProof(gun: string, index: number, size: number): Promise<{ entry: LogEntry; size: number; proof: string[] }> {
    return this.request('GET', `/v2/${gun}/_trust/log/proof?index=${index}&size=${size}`, `proving entry ${index} of the tag log of ${gun}`, { shape: withArray('proof') });
  }

  /** Consistency proof of the tag log from size `from` to size `to`. */
  logConsistency(gun: string, from: number, to: number): Promise<{ from: number; to: number; proof: string[] }> {
    return this.request('GET', `/v2/${gun}/_trust/log/consistency?from=${from}&to=${to}`, `proving the tag log of ${gun} consistent`, { shape: withArray('proof') });
  }

  /** @param lease the publish lease held (takeLease): a successful publish releases it on the server */
  publish(gun: string, body: PublishRequest, lease?: string): Promise<PublishResponse> {
    return this.request<PublishResponse>('POST', `${tufBasePath(gun)}/`, `publishing to ${gun}`, {
      body,
      headers: lease === undefined ? {} : { [LEASE_HEADER]: lease },
      shape: withFields('versions'),
    });
  }

  /**
   * Waits for the collection's publish lease (the server queues publishers first come, first served).
   * @returns the lease id, or undefined when the server has no leases (an older server)
   */
  async takeLease(gun: string): Promise<string | undefined> {
    try {
      return (await this.request<{ lease: string }>('POST', `/v2/${gun}/_trust/lease`, `publishing to ${gun}`, { shape: withFields('lease') })).lease;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Releases a publish lease; a lease that expired meanwhile is fine. */
  async releaseLease(gun: string, lease: string): Promise<void> {
    await this.request('DELETE', `/v2/${gun}/_trust/lease/${lease}`, `releasing the publish lease of ${gun}`);
  }

  /** Stages the next version of a role for more signatures (published at once if it has enough). */
  proposePending(gun: string, role: string, metadata: Metadata<TargetsSigned>): Promise<PendingResult> {
    return this.request<PendingResult>('POST', pendingBasePath(gun), `proposing a change to ${role} of ${gun}`, { body: { role, metadata } });
  }

  listPending(gun: string): Promise<PendingStatus[]> {
    return this.request<PendingStatus[]>('GET', pendingBasePath(gun), `listing the pending changes of ${gun}`, { shape: Array.isArray });
  }

  approvePending(gun: string, id: string, signatures: Signature[]): Promise<PendingResult> {
    return this.request<PendingResult>('POST', `${pendingBasePath(gun)}/${id}`, `approving pending change ${id} of ${gun}`, { body: { signatures } });
  }

  /** Withdraws a pending change (the token that proposed it, or an admin token). */
  withdrawPending(gun: string, id: string): Promise<WithdrawResult> {
    return this.request<WithdrawResult>('DELETE', `${pendingBasePath(gun)}/${id}`, `withdrawing pending change ${id} of ${gun}`);
  }

  /** One API call. A 2xx answer that does not have `shape` is not a tagtrust server's (a wrong --server). */
  private async request<T>(method: string, path: string, what: string, options: RequestOptions = {}): Promise<T> {
    const { body, shape } = options;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: HttpResponse;
    try {
      response = await httpRequest(
        `${this.server}${path}`,
        { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: this.deadline.signal },
        this.transport,
      );
    } catch (err) {
      if (this.deadline.expired) throw this.deadline.error();
      throw new NetworkError(`${what} failed: ${describeConnectionError(this.server, err)}`, { cause: err });
    }
    const ok = response.status >= 200 && response.status <= 299;
    const answer = { status: response.status, contentType: response.headers['content-type'] };
    let text: string;
    try {
      text = (await readBody(response.body, MAX_RESPONSE_BYTES, () => new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`))).toString('utf8');
    } catch (err) {
      if (this.deadline.expired) throw this.deadline.error();
      throw new ServerError(`${what} failed: reading the answer of ${this.server} (HTTP ${response.status}) failed: ${(err as Error).message}; retry`, { cause: err });
    }
    const foreign = ok ? undefined : foreignKind(response.status, response.headers, text);
    if (foreign) throw new ServerError(`${what} failed: ${notTagtrustServer(this.server, path, foreign, answer).message}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      if (ok) throw new ServerError(`${what} failed: ${notTagtrustServer(this.server, path, 'text that is not JSON', answer).message}`, { cause: err });
      if (response.status === 401 || response.status === 403) {
        throw new ServerError(`${what} failed: ${this.server} refused it (HTTP ${response.status}) with an answer that is not JSON, not as a tagtrust server would: check --server, and --token`, { cause: err });
      }
      throw new ServerError(`${what} failed: ${this.server} answered HTTP ${response.status} with a body that is not JSON; retry later, and tell the operator if it persists`, { cause: err });
    }
    if (!ok) throw errorFromApi(response.status, parsed, what);
    if (shape && !shape(parsed)) throw new ServerError(`${what} failed: ${notTagtrustServer(this.server, path, 'JSON that is not a tagtrust answer', answer).message}`);
    return parsed as T;
  }
}
