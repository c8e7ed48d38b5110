/**
 * Image references: the grammar of github.com/distribution/reference (reference.go, regexp.go) with
 * docker's normalisation (normalize.go, ParseNormalizedNamed), restricted to sha256 digests.
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component [ "/" path-component ]*      (at most 255 characters)
 *   domain     := host [ ":" port ]
 *   host       := domain-component [ "." domain-component ]* | "[" ipv6 "]"
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   port       := [0-9]+
 *   path-component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := "sha256:" [0-9a-f]{64}
 *
 * Normalisation: if the first `/`-component has no `.` or `:`, is not `localhost` and has no
 * uppercase letter, it is not a domain: the domain is `docker.io` and the whole name is the path.
 * `index.docker.io` becomes `docker.io`, and a docker.io path of one component gets `library/`.
 * The normalised name is the GUN (the collection name); a target's name is `GUN:tag`.
 *
 * One name, one spelling: docker accepts registry names that reach the same registry under another
 * spelling (`REGISTRY.example.com`, `registry.example.com:443`, `localhost:05000`, `127.1`,
 * `[0:0::1]`). Each would be another collection, with its own root, outside pins and token scopes
 * written for the usual spelling. tagtrust refuses them and names the one spelling to use: the
 * registry as a URL parser writes its host (lowercase, IP addresses in their usual form, no leading
 * zeros, no default port 443).
 */
import { InvalidReferenceError } from './errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

export const NAME_TOTAL_LENGTH_MAX = 255;
export const TAG_LENGTH_MAX = 128;

export interface ImageReference {
  /** Normalised repository name, e.g. `docker.io/library/ubuntu`, `registry.example.com/team/app`. */
  gun: string;
  tag?: string;
  /** `sha256:<64 lowercase hex>` */
  digest?: string;
}

const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64_IDENTIFIER = /^[a-f0-9]{64}$/;
/** Whitespace, control characters (C0, DEL, C1) and Unicode line/paragraph separators. */
const WHITESPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f-\u009f]/;

/** Longer inputs cannot be valid (255 + ':' + 128 + '@' + 71, plus index.docker.io slack); refuse early. */
const INPUT_LENGTH_MAX = 1024;

const REFERENCE_FORMAT =
  'a valid reference looks like [registry[:port]/]name[/name...][:tag][@sha256:<64 lowercase hex>], e.g. registry.example.com/team/app:1.0';
const GUN_FORMAT =
  'a valid repository name looks like [registry[:port]/]name[/name...] without tag or digest, e.g. registry.example.com/team/app';
const TAGGED_FORMAT =
  'a valid tagged reference looks like [registry[:port]/]name[/name...]:tag[@sha256:<64 lowercase hex>], e.g. registry.example.com/team/app:1.0';
const TAG_FORMAT = 'a valid tag is 1-128 characters of [A-Za-z0-9_.-] not starting with "." or "-", e.g. 1.0 or v2-beta_1';
const DIGEST_FORMAT = 'a valid digest looks like sha256:<64 lowercase hex characters>';

/** Quotes untrusted text for a one-line message: JSON-escaped (no raw newlines) and truncated. */
function quote(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 120)}...` : text;
  return JSON.stringify(shown);
}

function invalid(what: string, input: string, problem: string, format: string): InvalidReferenceError {
  return new InvalidReferenceError(`invalid ${what} ${quote(input)}: ${problem}; ${format}`);
}

function requireString(input: unknown, what: string, format: string): string {
  if (typeof input !== 'string') {
    throw new InvalidReferenceError(`invalid ${what}: expected a string, got ${input === null ? 'null' : typeof input}; ${format}`);
  }
  return input;
}

/** Why `digest` is not `sha256:<64 lowercase hex>`, or undefined when it is. */
function digestProblem(digest: string): string | undefined {
  if (SHA256_DIGEST.test(digest)) return undefined;
  if (digest === '') return 'the digest is empty';
  const colon = digest.indexOf(':');
  if (colon < 0) return 'the digest has no algorithm prefix (expected "sha256:")';
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (algorithm.toLowerCase() === 'sha256' && algorithm !== 'sha256') return 'the digest algorithm must be written in lowercase ("sha256")';
  if (algorithm !== 'sha256') {
    return algorithm === '' ? 'the digest algorithm is empty' : `unsupported digest algorithm ${quote(algorithm)}: only sha256 is supported`;
  }
  if (/^[0-9a-fA-F]*$/.test(hex)) {
    if (hex.length !== 64) return `a sha256 digest has 64 hex characters, this one has ${hex.length}`;
    return 'the digest hex must be lowercase';
  }
  return 'the digest contains characters other than hex digits 0-9a-f';
}

function tagProblem(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined;
  if (tag === '') return 'the tag is empty';
  if (tag.length > TAG_LENGTH_MAX) return `the tag is ${tag.length} characters long, the maximum is ${TAG_LENGTH_MAX}`;
  if (tag.startsWith('.') || tag.startsWith('-')) return `the tag ${quote(tag)} must not start with "." or "-"`;
  return `the tag ${quote(tag)} contains characters other than letters, digits, "_", "." and "-"`;
}

function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) return `the registry ${quote(domain)} has an unterminated IPv6 address (missing "]")`;
    host = domain.slice(0, close + 1);
    const rest = domain.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `the registry ${quote(domain)} has text after its IPv6 address that is not a ":port"`;
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) return `the registry ${quote(domain)} has an invalid IPv6 address (only hex digits and ":" inside "[...]")`;
  } else {
    const colon = domain.indexOf(':');
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (host === '') return `the registry ${quote(domain)} has an empty host name`;
    for (const component of host.split('.')) {
      if (component === '') return `the registry host ${quote(host)} has an empty component (leading, trailing or double ".")`;
      if (!DOMAIN_COMPONENT.test(component)) {
        return `the registry host component ${quote(component)} must be letters, digits and inner "-" only`;
      }
    }
  }
  if (port !== undefined && !PORT.test(port)) {
    return port === '' ? `the registry ${quote(domain)} has an empty port after ":"` : `the registry port ${quote(port)} must be digits only`;
  }
  return undefined;
}

function pathProblem(path: string): string | undefined {
  if (path.toLowerCase() !== path) return `repository name must be lowercase (${quote(path)})`;
  for (const component of path.split('/')) {
    if (component === '') return 'the repository path has an empty component (leading, trailing or double "/")';
    if (!PATH_COMPONENT.test(component)) {
      return `the path component ${quote(component)} must be lowercase letters and digits, separated by one ".", one or two "_", or "-"s`;
    }
  }
  return undefined;
}

/**
 * Why `domain` (valid by the grammar) is not the one spelling of its registry, or undefined when it is.
 * The spelling is the host of `https://<domain>/` as the WHATWG URL parser writes it.
 */
function spellingProblem(domain: string): string | undefined {
  let canonical: string;
  try {
    canonical = new URL(`https://${domain}/`).host;
  } catch {
    return `the registry ${quote(domain)} is not a host name or IP address with a valid port`;
  }
  if (canonical === domain) return undefined;
  const readAsPath = !/[.:]/.test(canonical) && canonical !== 'localhost';
  return readAsPath
    ? `the registry ${quote(domain)} must be lowercase, and lowercase ${quote(canonical)} would be a Docker Hub path: use the registry's full name or add its port`
    : `the registry ${quote(domain)} is another spelling of ${quote(canonical)} (lowercase, no default port :443, usual IP form): write ${quote(canonical)}, so that one registry has one name`;
}

/** Splits a name (no tag, no digest) into domain and path the way docker does, then normalises. */
function normaliseName(name: string, fail: (problem: string) => InvalidReferenceError): string {
  const slash = name.indexOf('/');
  let domain: string;
  let path: string;
  const first = slash < 0 ? name : name.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    domain = name.slice(0, slash);
    path = name.slice(slash + 1);
    const problem = domainProblem(domain) ?? spellingProblem(domain);
    if (problem !== undefined) throw fail(problem);
  }
  if (path === '') throw fail('the repository name is empty');
  const problem = pathProblem(path);
  if (problem !== undefined) throw fail(problem);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  const gun = `${domain}/${path}`;
  if (gun.length > NAME_TOTAL_LENGTH_MAX) {
    throw fail(`the repository name ${quote(gun)} is ${gun.length} characters long, the maximum is ${NAME_TOTAL_LENGTH_MAX}`);
  }
  return gun;
}

function parse(input: string, what: string, format: string): ImageReference {
  const fail = (problem: string) => invalid(what, input, problem, format);
  if (input === '') throw fail('it is empty');
  if (input.length > INPUT_LENGTH_MAX) throw fail(`it is ${input.length} characters long, far over the maximum`);
  if (WHITESPACE_OR_CONTROL.test(input)) throw fail('it contains whitespace or control characters');
  if (HEX64_IDENTIFIER.test(input)) throw fail('a 64-character hex string is an image ID, not a repository name');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.includes('@')) throw fail('it contains more than one "@"');
    const problem = digestProblem(digest);
    if (problem !== undefined) throw fail(problem);
  }

  // The tag is after a ':' in the last '/'-component; earlier colons belong to the registry port.
  let tag: string | undefined;
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === '') throw fail('the tag after ":" is empty');
    const problem = tagProblem(tag);
    if (problem !== undefined) throw fail(problem);
  }
  if (rest === '') throw fail('the repository name is empty');

  const gun = normaliseName(rest, fail);
  const ref: ImageReference = { gun };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * Parses and normalises an image reference: `ubuntu` → `{ gun: 'docker.io/library/ubuntu' }`,
 * `registry.example.com:5000/team/app:v1@sha256:…` → gun, tag and digest.
 */
export function parseReference(input: string): ImageReference {
  return parse(requireString(input, 'image reference', REFERENCE_FORMAT), 'image reference', REFERENCE_FORMAT);
}

/** Parses a bare repository name (no tag, no digest) into its normalised GUN. */
export function parseGun(input: string): string {
  const text = requireString(input, 'repository name', GUN_FORMAT);
  const ref = parse(text, 'repository name', GUN_FORMAT);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    const extra = ref.tag !== undefined ? `tag ${quote(ref.tag)}` : 'digest';
    const hint = ref.tag !== undefined && !text.includes('/') ? ' (a registry with a port needs a repository path, e.g. localhost:5000/app)' : '';
    throw invalid('repository name', text, `it includes a ${extra}${hint}`, GUN_FORMAT);
  }
  return ref.gun;
}

/** Parses a reference that must carry a tag; `<gun>:<tag>@sha256:<hex>` is allowed. */
export function parseTaggedReference(input: string): { gun: string; tag: string; digest?: string } {
  const text = requireString(input, 'tagged reference', TAGGED_FORMAT);
  const ref = parse(text, 'tagged reference', TAGGED_FORMAT);
  if (ref.tag === undefined) throw invalid('tagged reference', text, 'it has no ":tag"', TAGGED_FORMAT);
  const result: { gun: string; tag: string; digest?: string } = { gun: ref.gun, tag: ref.tag };
  if (ref.digest !== undefined) result.digest = ref.digest;
  return result;
}

/** Validates `gun` as an already-normalised repository name (normalising must not change it). */
function requireNormalisedGun(gun: string): string {
  const text = requireString(gun, 'repository name', GUN_FORMAT);
  const normalised = parseGun(text);
  if (normalised !== text) {
    throw invalid('repository name', text, `it is not normalised (use ${quote(normalised)})`, GUN_FORMAT);
  }
  return text;
}

/** The TUF target name of a tag in a collection: `${gun}:${tag}`. Validates both parts. */
export function targetName(gun: string, tag: string): string {
  const normalisedGun = requireNormalisedGun(gun);
  const text = requireString(tag, 'tag', TAG_FORMAT);
  const problem = tagProblem(text);
  if (problem !== undefined) throw new InvalidReferenceError(`invalid tag ${quote(text)}: ${problem}; ${TAG_FORMAT}`);
  return `${normalisedGun}:${text}`;
}

/**
 * Inverse of {@link targetName} for names read from targets metadata: `{ gun, tag }` when `name` is
 * exactly `gun:tag` with an already-normalised gun and no digest; otherwise undefined (never throws).
 */
export function parseTargetName(name: string): { gun: string; tag: string } | undefined {
  if (typeof name !== 'string') return undefined;
  let ref: ImageReference;
  try {
    ref = parse(name, 'target name', REFERENCE_FORMAT);
  } catch {
    return undefined;
  }
  if (ref.tag === undefined || ref.digest !== undefined) return undefined;
  if (`${ref.gun}:${ref.tag}` !== name) return undefined;
  return { gun: ref.gun, tag: ref.tag };
}

/** True when `name` is a target name of a tag in collection `gun` (exactly, not a sibling or sub-repository). */
export function isTargetInCollection(name: string, gun: string): boolean {
  const parsed = parseTargetName(name);
  return parsed !== undefined && parsed.gun === gun;
}

/** Validates `sha256:<64 lowercase hex>` and returns it unchanged. */
export function parseDigest(input: string): string {
  const text = requireString(input, 'digest', DIGEST_FORMAT);
  const problem = digestProblem(text);
  if (problem !== undefined) throw new InvalidReferenceError(`invalid digest ${quote(text)}: ${problem}; ${DIGEST_FORMAT}`);
  return text;
}

/** A reference pinned to a manifest digest: `${gun}@${digest}`. Validates both parts. */
export function pinnedReference(gun: string, digest: string): string {
  return `${requireNormalisedGun(gun)}@${parseDigest(digest)}`;
}
