/**
 * The admission policy (no I/O): which images are checked, against which tagtrust server and trust
 * settings, and what a failure does. Loaded from YAML by policy-file.ts (docs/kubernetes.md).
 *
 * Rules:
 * - Images are matched by their normalised name (`nginx` is `docker.io/library/nginx`, a registry
 *   port is part of the name), without tag or digest. `*` matches within one path component, `**`
 *   across components. The first rule that matches decides; an image no rule matches gets
 *   `defaultAction`.
 * - A rule's action is `verify` (resolve through tagtrust and pin the digest), `allow` (admit
 *   unchecked) or `deny`. Its mode says what a failed verification does: `enforce` denies the
 *   request, `warn` admits it with a warning, `audit` admits it and only logs (and patches nothing).
 * - Namespaces in the top-level `exemptNamespaces` are never checked; a rule's own
 *   `exemptNamespaces` skip only the images that rule matches.
 */
export type Mode = 'enforce' | 'warn' | 'audit';
export type RuleAction = 'verify' | 'allow' | 'deny';
export type DefaultAction = 'deny' | 'allow';

export const MODES: readonly Mode[] = ['enforce', 'warn', 'audit'];
export const RULE_ACTIONS: readonly RuleAction[] = ['verify', 'allow', 'deny'];
export const DEFAULT_ACTIONS: readonly DefaultAction[] = ['deny', 'allow'];

export interface PolicyPin {
  /** A collection, or a prefix ending in `/*` (as `tagtrust trust pin`). */
  pattern: string;
  rootFile?: string;
  rootKeyId?: string;
}

/** Everything that decides how a collection is verified; rules with equal settings share a verifier. */
export interface TrustSettings {
  server: string;
  /** PEM CA file for an https server. */
  ca?: string;
  /** Trust a collection's root on first sight when no pin covers it. */
  tofu: boolean;
  maxAgeMs?: number;
  pins: PolicyPin[];
}

export interface CollectionMapping {
  /** Image-name prefix, e.g. `mirror.internal:5000/team/`. */
  from: string;
  /** Collection-name prefix that replaces it, e.g. `registry.example.com/team/`. */
  to: string;
}

export interface PolicyRule {
  /** The rule's name, or `rule N` (1-based). */
  name: string;
  images: string[];
  action: RuleAction;
  mode: Mode;
  exemptNamespaces: string[];
  collection?: CollectionMapping;
  trust: TrustSettings;
}

export interface Policy {
  defaultAction: DefaultAction;
  exemptNamespaces: string[];
  /** How long a verified answer is reused (ms). */
  refreshIntervalMs: number;
  /** Deadline for one admission request (ms), well inside the webhook's timeoutSeconds. */
  requestTimeoutMs: number;
  rules: PolicyRule[];
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 8_000;

/** The first rule whose patterns match `gun` (a normalised image name), if any. */
export function matchRule(policy: Policy, gun: string): PolicyRule | undefined {
  return policy.rules.find((rule) => rule.images.some((pattern) => compilePattern(pattern).test(gun)));
}

const compiled = new Map<string, RegExp>();

/** `*` within a path component, `**` across components; everything else literal. */
function compilePattern(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    const body = pattern
      .split('**')
      .map((part) => part.split('*').map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
      .join('.*');
    regex = new RegExp(`^${body}$`);
    compiled.set(pattern, regex);
  }
  return regex;
}

/** The collection an image name is verified in (the mapping's prefix swapped, else the name itself). */
export function collectionOf(rule: PolicyRule, gun: string): string {
  const mapping = rule.collection;
  if (mapping && gun.startsWith(mapping.from)) return mapping.to + gun.slice(mapping.from.length);
  return gun;
}

/** A stable key of trust settings, so rules with the same settings share one verifier and home. */
export function trustKey(trust: TrustSettings): string {
  return JSON.stringify([trust.server, trust.ca ?? null, trust.tofu, trust.maxAgeMs ?? null, trust.pins.map((p) => [p.pattern, p.rootFile ?? null, p.rootKeyId ?? null])]);
}
