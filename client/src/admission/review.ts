/**
 * The `admission.k8s.io/v1` AdmissionReview wire format (k8s.io/api/admission/v1/types.go): parsing
 * and checking what the API server sends, and building the response it expects.
 *
 * Rules:
 * - Only the fields the webhook relies on are checked, and each failure names the field, so a
 *   misconfigured webhook or a hand-made request gets one clear line.
 * - The response echoes the request's `uid` (the API server refuses any other answer).
 * - A patch is a JSONPatch (RFC 6902), base64 in `patch` with `patchType: JSONPatch`.
 */
import { InvalidInputError } from '@tagtrust/shared';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  operation: Operation;
  subResource?: string;
  namespace?: string;
  name?: string;
  object?: Record<string, unknown>;
  oldObject?: Record<string, unknown>;
  dryRun?: boolean;
}

export interface JsonPatchOperation {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** The uid of a review that is otherwise malformed, so the answer can still echo it. */
export function uidOf(review: unknown): string | undefined {
  const request = isObject(review) ? review.request : undefined;
  const uid = isObject(request) ? request.uid : undefined;
  return typeof uid === 'string' && uid !== '' && uid.length <= 256 ? uid : undefined;
}

/**
 * Checks a parsed AdmissionReview and returns its request.
 * @throws InvalidInputError naming the first field that is wrong
 */
export function parseAdmissionReview(review: unknown): AdmissionRequest {
  if (!isObject(review)) throw invalid('the body is not a JSON object');
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== 'AdmissionReview') {
    throw invalid(
      `apiVersion/kind is ${JSON.stringify(review.apiVersion)}/${JSON.stringify(review.kind)}, not ${ADMISSION_API_VERSION}/AdmissionReview: ` +
        'set admissionReviewVersions: ["v1"] in the MutatingWebhookConfiguration',
    );
  }
  const request = review.request;
  if (!isObject(request)) throw invalid('it has no "request" object');
  const uid = uidOf(review);
  if (uid === undefined) throw invalid('request.uid is missing or not a non-empty string');
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.group !== 'string' || typeof kind.version !== 'string' || typeof kind.kind !== 'string') {
    throw invalid('request.kind must be {group, version, kind} strings');
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation)) {
    throw invalid(`request.operation ${JSON.stringify(request.operation)} is not one of ${OPERATIONS.join(', ')}`);
  }
  const operation = request.operation as Operation;
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field];
    if (value !== undefined && value !== null && !isObject(value)) throw invalid(`request.${field} is not an object`);
  }
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(request.object)) throw invalid(`request.object is missing for ${operation}`);
  for (const field of ['namespace', 'name', 'subResource'] as const) {
    const value = request[field];
    if (value !== undefined && typeof value !== 'string') throw invalid(`request.${field} is not a string`);
  }
  return {
    uid,
    kind: { group: kind.group, version: kind.version, kind: kind.kind },
    operation,
    ...optionalString('subResource', request.subResource),
    ...optionalString('namespace', request.namespace),
    ...optionalString('name', request.name),
    ...(isObject(request.object) ? { object: request.object } : {}),
    ...(isObject(request.oldObject) ? { oldObject: request.oldObject } : {}),
    ...(request.dryRun === true ? { dryRun: true } : {}),
  };
}

/** The review the API server expects back. */
export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** An admitting response, with a JSONPatch when there is anything to change. */
export function allow(uid: string, patch: JsonPatchOperation[] = [], warnings: string[] = []): AdmissionResponse {
  return {
    uid,
    allowed: true,
    ...(patch.length > 0 ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** A denial; `message` is what kubectl shows after "admission webhook ... denied the request:". */
export function deny(uid: string, message: string, code = 403): AdmissionResponse {
  return { uid, allowed: false, status: { code, reason: code === 403 ? 'Forbidden' : 'BadRequest', message } };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value !== '' ? ({ [key]: value } as Record<K, string>) : {};
}

function invalid(problem: string): InvalidInputError {
  return new InvalidInputError(`not a valid AdmissionReview: ${problem}`);
}
