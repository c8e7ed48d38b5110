/**
 * The admission decision for one AdmissionRequest: every image of the pod (or pod template) is
 * matched against the policy, verified through tagtrust, and pinned to its signed digest.
 *
 * Rules:
 * - Fail closed: an image that cannot be verified in time (server down, rollback, freeze, bad
 *   signatures, not signed, digest mismatch) fails; under an `enforce` rule the request is denied.
 * - An image name this webhook cannot parse is refused whatever the policy says; registry host names
 *   are compared in lower case (DNS), so neither spelling trick slips past a rule.
 * - `<name>:<tag>` and `<name>` (tag `latest`, as docker) resolve to the signed digest;
 *   `<name>:<tag>@sha256:<hex>` must match it; a digest-only image is checked against the tag the
 *   pod's `tagtrust.dev/signed-tags` annotation records for it (what this webhook pinned in its
 *   template), else it fails: tagtrust vouches for tags.
 * - On UPDATE, images equal to the old object's at the same place are not checked again (a label
 *   change must not fail because a tag moved since the pod started).
 * - One deadline per request (policy requestTimeout), well inside the API server's timeoutSeconds.
 */
import { InvalidInputError, ServerError, TagTrustError, TimeoutError, parseGun, parseReference } from '@tagtrust/shared';
import type { Mode, Policy, PolicyRule } from './policy.js';
import { collectionOf, matchRule } from './policy.js';
import type { AdmissionRequest, AdmissionResponse } from './review.js';
import { allow, deny } from './review.js';
import type { ImageReplacement, SignedTags } from './patch.js';
import { buildPatch, signedTagsOf } from './patch.js';
import type { ContainerImage } from './workloads.js';
import { podTemplateOf } from './workloads.js';
import type { VerifierPool } from './verifiers.js';

/** What happened to one image, for the response and the decision log. */
export interface ImageOutcome {
  container: string;
  image: string;
  result: 'pinned' | 'unchanged' | 'exempt' | 'allowed' | 'failed';
  rule?: string;
  mode?: Mode;
  pinned?: string;
  /** `<name>:<tag>` the pinned image was verified for. */
  signedTag?: string;
  problem?: string;
  errorCode?: string;
}

export interface Decision {
  response: AdmissionResponse;
  images: ImageOutcome[];
}

/**
 * Most images one review may hold: each may cost a TUF update of its collection, so a pod listing
 * thousands of names must not turn the webhook into a crawler of the tagtrust server.
 */
export const MAX_IMAGES_PER_REVIEW = 256;
/** Longest denial message; kubectl prints all of it. */
const MAX_MESSAGE = 4_000;
/** The API server truncates longer warnings. */
const MAX_WARNING = 250;

export class Admitter {
  constructor(
    private readonly policy: Policy,
    private readonly verifiers: VerifierPool,
  ) {}

  async review(request: AdmissionRequest): Promise<Decision> {
    const { uid } = request;
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { response: allow(uid), images: [] };
    if (request.namespace !== undefined && this.policy.exemptNamespaces.includes(request.namespace)) return { response: allow(uid), images: [] };
    let pod;
    try {
      pod = podTemplateOf(request.kind, request.object!);
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      return { response: deny(uid, `tagtrust: ${err.message}`, 400), images: [] };
    }
    if (pod.images.length > MAX_IMAGES_PER_REVIEW) {
      return { response: deny(uid, `tagtrust: the ${request.kind.kind} lists ${pod.images.length} images; the webhook checks at most ${MAX_IMAGES_PER_REVIEW} per object`, 400), images: [] };
    }
    const old = request.operation === 'UPDATE' && request.oldObject ? oldImages(request) : new Map<string, string>();
    const recorded = signedTagsOf(pod.metadata);
    const deadline = new RequestDeadline(this.policy.requestTimeoutMs);
    let images: ImageOutcome[];
    try {
      images = await Promise.all(pod.images.map((image) => (old.get(image.path) === image.image ? unchanged(image) : this.check(image, request, recorded, deadline))));
    } finally {
      deadline.dispose();
    }
    const failures = images.filter((o) => o.result === 'failed');
    const denied = failures.filter((o) => o.mode === 'enforce');
    const warnings = failures.filter((o) => o.mode === 'warn').map((o) => truncate(`tagtrust: ${describe(o)}`, MAX_WARNING));
    if (denied.length > 0) {
      const head = denied.length === 1 ? 'tagtrust denied an image' : `tagtrust denied ${denied.length} images`;
      return { response: { ...deny(uid, truncate(`${head}: ${denied.map(describe).join('; ')}`, MAX_MESSAGE)), ...(warnings.length ? { warnings } : {}) }, images };
    }
    const replacements: ImageReplacement[] = [];
    const record: SignedTags = {};
    const finalImages = new Set<string>();
    pod.images.forEach((image, index) => {
      const outcome = images[index]!;
      const applied = outcome.result === 'pinned' && outcome.mode !== 'audit';
      if (applied && outcome.pinned !== image.image) replacements.push({ path: image.path, image: outcome.pinned! });
      finalImages.add(applied ? outcome.pinned! : image.image);
      if (applied) record[outcome.pinned!] = outcome.signedTag!;
    });
    for (const [image, tag] of Object.entries(recorded)) if (finalImages.has(image) && !(image in record)) record[image] = tag;
    return { response: allow(uid, buildPatch(replacements, pod.metadataPath, pod.metadata, record), warnings), images };
  }

  private async check(image: ContainerImage, request: AdmissionRequest, recorded: SignedTags, deadline: RequestDeadline): Promise<ImageOutcome> {
    const base = { container: image.container, image: image.image };
    let reference;
    try {
      reference = parseReference(image.image);
    } catch (err) {
      // Always refused, whatever defaultAction says: a name this parser reads differently from the
      // container runtime must not slip past the rule that covers it.
      return failed(base, 'enforce', undefined, err as TagTrustError);
    }
    // Registry host names are case-insensitive (DNS): REGISTRY.example.com is registry.example.com.
    const gun = lowerCaseRegistry(reference.gun);
    const rule = matchRule(this.policy, gun);
    if (!rule) {
      if (this.policy.defaultAction === 'allow') return { ...base, result: 'allowed' };
      return { ...base, result: 'failed', mode: 'enforce', problem: `no rule of the tagtrust policy covers ${gun} and defaultAction is deny: ask the platform team to add a rule for it` };
    }
    const ruled = { ...base, rule: rule.name, mode: rule.mode };
    if (request.namespace !== undefined && rule.exemptNamespaces.includes(request.namespace)) return { ...ruled, result: 'exempt' };
    if (rule.action === 'allow') return { ...ruled, result: 'allowed' };
    if (rule.action === 'deny') return { ...ruled, result: 'failed', problem: `${gun} is denied by ${describeRule(rule)} of the tagtrust policy` };
    let tag = reference.tag;
    if (tag === undefined && reference.digest !== undefined) {
      tag = recordedTag(recorded, `${gun}@${reference.digest}`, gun);
      if (tag === undefined) {
        return {
          ...ruled,
          result: 'failed',
          problem: `it is pinned by digest only, and tagtrust vouches for tags: use ${gun}:<tag> (the webhook pins the signed digest) or ${gun}:<tag>@${reference.digest}`,
        };
      }
    }
    tag ??= 'latest';
    try {
      const collection = collectionOf(rule, gun);
      const resolution = await deadline.race(
        this.verifiers.for(rule.trust).resolve(`${collection}:${tag}${reference.digest ? `@${reference.digest}` : ''}`),
        `verifying ${collection}:${tag}`,
      );
      return { ...ruled, result: 'pinned', pinned: `${gun}@${resolution.digest}`, signedTag: `${gun}:${tag}` };
    } catch (err) {
      // Fail closed on anything, also an unexpected error (its message, never a stack, is shown).
      return failed(ruled, rule.mode, rule.name, err instanceof TagTrustError ? err : new ServerError(`internal error: ${(err as Error).message}`));
    }
  }
}

/** The shared deadline of one request: every lookup races it. */
class RequestDeadline {
  private timer?: NodeJS.Timeout;
  private readonly expired: Promise<never>;
  private rejectWith: (err: Error) => void = () => {};

  constructor(private readonly ms: number) {
    this.expired = new Promise<never>((_, reject) => (this.rejectWith = reject));
    this.expired.catch(() => {});
    this.timer = setTimeout(() => this.rejectWith(new TimeoutError('')), ms);
  }

  race<T>(work: Promise<T>, what: string): Promise<T> {
    return Promise.race([
      work,
      this.expired.catch(() => {
        throw new TimeoutError(`${what} did not finish within the request deadline of ${this.ms / 1000}s: the tagtrust server is slow or unreachable; retry, or check the webhook's logs`);
      }),
    ]);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

function failed(base: Pick<ImageOutcome, 'container' | 'image'> & { rule?: string }, mode: Mode, rule: string | undefined, err: TagTrustError): ImageOutcome {
  return { ...base, result: 'failed', mode, ...(rule === undefined ? {} : { rule }), problem: err.message, errorCode: err.code };
}

function unchanged(image: ContainerImage): ImageOutcome {
  return { container: image.container, image: image.image, result: 'unchanged' };
}

function lowerCaseRegistry(gun: string): string {
  const slash = gun.indexOf('/');
  return gun.slice(0, slash).toLowerCase() + gun.slice(slash);
}

/** The tag recorded for a pinned image, if the record names the same repository. */
function recordedTag(recorded: SignedTags, pinned: string, gun: string): string | undefined {
  const reference = recorded[pinned];
  if (reference === undefined) return undefined;
  const colon = reference.lastIndexOf(':');
  if (colon < 0) return undefined;
  try {
    if (lowerCaseRegistry(parseGun(reference.slice(0, colon))) !== gun) return undefined;
    return parseReference(reference).tag;
  } catch {
    return undefined;
  }
}

/** Images of the old object by JSON Pointer (empty when the old object is unusable). */
function oldImages(request: AdmissionRequest): Map<string, string> {
  try {
    return new Map(podTemplateOf(request.kind, request.oldObject!).images.map((image) => [image.path, image.image]));
  } catch {
    return new Map();
  }
}

function describe(outcome: ImageOutcome): string {
  return `container "${outcome.container}" image "${outcome.image}": ${outcome.problem}`;
}

function describeRule(rule: PolicyRule): string {
  return rule.name.startsWith('rule ') ? rule.name : `rule "${rule.name}"`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
