/**
 * Reads an admission policy from YAML (the reference is docs/kubernetes.md). Every mistake is one
 * line `FILE:LINE: what is wrong`: unknown keys are refused (a typo must not silently weaken the
 * policy), values are checked, image patterns without wildcards are normalised as docker does.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { InvalidInputError, parseDuration, parseGun } from '@tagtrust/shared';
import { parsePinPattern, parseRootKeyId } from '../trust/pin-policy.js';
import { DEFAULT_ACTIONS, DEFAULT_REQUEST_TIMEOUT_MS, MODES, RULE_ACTIONS } from './policy.js';
import type { CollectionMapping, Policy, PolicyPin, PolicyRule, TrustSettings } from './policy.js';
import { DEFAULT_REFRESH_INTERVAL_MS } from '../verified/tag-verifier.js';

/** The API server waits at most 30 s for a webhook (timeoutSeconds). */
const MAX_REQUEST_TIMEOUT_MS = 30_000;
const POLICY_KEYS = ['server', 'ca', 'trust', 'defaultAction', 'exemptNamespaces', 'refreshInterval', 'requestTimeout', 'rules'];
const RULE_KEYS = ['name', 'images', 'action', 'mode', 'exemptNamespaces', 'collection', 'server', 'ca', 'trust'];
const TRUST_KEYS = ['tofu', 'maxAge', 'pins'];
const PIN_KEYS = ['pattern', 'rootFile', 'rootKeyId'];
const COLLECTION_KEYS = ['from', 'to'];
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PATTERN_CHARS = /^[a-z0-9._:/*\-[\]]+$/;

type Fields = Map<string, Node>;

class Reader {
  constructor(
    private readonly source: string,
    private readonly lines: LineCounter,
  ) {}

  fail(node: Node | null | undefined, problem: string): never {
    const offset = node?.range?.[0];
    const line = offset === undefined ? 1 : this.lines.linePos(offset).line;
    throw new InvalidInputError(`${this.source}:${line}: ${problem}`);
  }

  map(node: Node | null | undefined, where: string, known: readonly string[]): Fields {
    if (!isMap(node)) this.fail(node, `${where} must be a mapping of ${known.join(', ')}`);
    const fields: Fields = new Map();
    for (const pair of node.items) {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') this.fail(key, `${where} has a key that is not a string`);
      const name = key.value;
      if (!known.includes(name)) this.fail(key, `unknown key "${name}" in ${where} (known: ${known.join(', ')})`);
      fields.set(name, pair.value as Node);
    }
    return fields;
  }

  string(node: Node | undefined, where: string): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') this.fail(node, `${where} must be a non-empty string`);
    return node.value;
  }

  strings(node: Node | undefined, where: string): string[] {
    if (!isSeq(node)) this.fail(node, `${where} must be a list of strings`);
    return node.items.map((item, index) => this.string(item as Node, `${where}[${index}]`));
  }

  boolean(node: Node | undefined, where: string): boolean {
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, `${where} must be true or false`);
    return node.value;
  }

  oneOf<T extends string>(node: Node | undefined, where: string, options: readonly T[]): T {
    const value = this.string(node, where);
    if (!options.includes(value as T)) this.fail(node, `${where} is "${value}"; use one of ${options.join(', ')}`);
    return value as T;
  }

  duration(node: Node | undefined, where: string, allowZero: boolean): number {
    const text = this.string(node, where);
    if (allowZero && /^0(ms|s|m|h|d)?$/.test(text)) return 0;
    const ms = parseDuration(text);
    if (ms === undefined) this.fail(node, `${where} "${text}" must be a duration like 500ms, 5s, 10m or 4h`);
    return ms;
  }

  server(node: Node | undefined, where: string): string {
    const text = this.string(node, where);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      this.fail(node, `${where} "${text}" is not a URL; use e.g. https://tagtrust.example.com`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') this.fail(node, `${where} "${text}" must start with https:// or http://`);
    return text;
  }
}

/**
 * Parses a policy file's text.
 * @param defaultServer the server for rules that name none (--server / TAGTRUST_SERVER)
 * @throws InvalidInputError `FILE:LINE: problem`
 */
export function parsePolicy(text: string, source: string, defaultServer?: string): Policy {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const reader: Reader = new Reader(source, lines);
  const [error] = document.errors;
  if (error) {
    const line = lines.linePos(error.pos[0]).line;
    throw new InvalidInputError(`${source}:${line}: not valid YAML: ${error.message.split('\n')[0]}`);
  }
  const top = reader.map(document.contents, 'the policy', POLICY_KEYS);
  const server = top.has('server') ? reader.server(top.get('server'), 'server') : defaultServer;
  const ca = top.has('ca') ? reader.string(top.get('ca'), 'ca') : undefined;
  const defaults = { server, ca, trust: top.has('trust') ? readTrust(reader, top.get('trust'), 'trust') : { tofu: true, pins: [] } };
  const rulesNode = top.get('rules');
  if (!isSeq(rulesNode)) reader.fail(rulesNode ?? document.contents, 'rules must be a list of rules (see docs/kubernetes.md)');
  const requestTimeoutMs = top.has('requestTimeout') ? reader.duration(top.get('requestTimeout'), 'requestTimeout', false) : DEFAULT_REQUEST_TIMEOUT_MS;
  if (requestTimeoutMs > MAX_REQUEST_TIMEOUT_MS) {
    reader.fail(top.get('requestTimeout'), `requestTimeout must be under the API server's 30s webhook limit, and below the webhook's timeoutSeconds`);
  }
  return {
    defaultAction: top.has('defaultAction') ? reader.oneOf(top.get('defaultAction'), 'defaultAction', DEFAULT_ACTIONS) : 'deny',
    exemptNamespaces: top.has('exemptNamespaces') ? readNamespaces(reader, top.get('exemptNamespaces'), 'exemptNamespaces') : [],
    refreshIntervalMs: top.has('refreshInterval') ? reader.duration(top.get('refreshInterval'), 'refreshInterval', true) : DEFAULT_REFRESH_INTERVAL_MS,
    requestTimeoutMs,
    rules: rulesNode.items.map((node, index) => readRule(reader, node as Node, index, defaults)),
  };
}

function readRule(reader: Reader, node: Node, index: number, defaults: { server?: string; ca?: string; trust: Omit<TrustSettings, 'server'> }): PolicyRule {
  const label = `rules[${index}]`;
  const fields = reader.map(node, label, RULE_KEYS);
  const name = fields.has('name') ? reader.string(fields.get('name'), `${label}.name`) : `rule ${index + 1}`;
  const where = fields.has('name') ? `rule "${name}"` : label;
  if (!fields.has('images')) reader.fail(node, `${where} has no images: list the image patterns it covers, e.g. ["registry.example.com/team/**"]`);
  const imagesNode = fields.get('images');
  const images = reader.strings(imagesNode, `${where}.images`).map((pattern, i) => readPattern(reader, isSeq(imagesNode) ? (imagesNode.items[i] as Node) : imagesNode, pattern));
  const action = fields.has('action') ? reader.oneOf(fields.get('action'), `${where}.action`, RULE_ACTIONS) : 'verify';
  const server = fields.has('server') ? reader.server(fields.get('server'), `${where}.server`) : defaults.server;
  if (server === undefined && action === 'verify') {
    reader.fail(node, `${where} has no server: set server in the rule or at the top of the policy, or pass --server / TAGTRUST_SERVER`);
  }
  const trust = fields.has('trust') ? readTrust(reader, fields.get('trust'), `${where}.trust`) : defaults.trust;
  const ca = fields.has('ca') ? reader.string(fields.get('ca'), `${where}.ca`) : defaults.ca;
  return {
    name,
    images,
    action,
    mode: fields.has('mode') ? reader.oneOf(fields.get('mode'), `${where}.mode`, MODES) : 'enforce',
    exemptNamespaces: fields.has('exemptNamespaces') ? readNamespaces(reader, fields.get('exemptNamespaces'), `${where}.exemptNamespaces`) : [],
    ...(fields.has('collection') ? { collection: readCollection(reader, fields.get('collection'), `${where}.collection`) } : {}),
    trust: { server: server ?? '', ...(ca === undefined ? {} : { ca }), ...trust },
  };
}

function readPattern(reader: Reader, node: Node | undefined, pattern: string): string {
  if (!pattern.includes('*')) {
    try {
      return parseGun(pattern);
    } catch (err) {
      reader.fail(node, `image pattern "${pattern}": ${(err as Error).message}`);
    }
  }
  if (!PATTERN_CHARS.test(pattern)) reader.fail(node, `image pattern "${pattern}" may hold lowercase letters, digits, ".", "_", "-", ":", "/" and the wildcards * and **`);
  const first = pattern.split('/')[0]!;
  if (pattern !== '**' && !(first.includes('.') || first.includes(':') || first === 'localhost' || first.includes('*'))) {
    reader.fail(node, `image pattern "${pattern}" has no registry: names are matched normalised (nginx is docker.io/library/nginx), so write e.g. docker.io/${pattern}`);
  }
  return pattern;
}

function readTrust(reader: Reader, node: Node | undefined, where: string): Omit<TrustSettings, 'server'> {
  const fields = reader.map(node, where, TRUST_KEYS);
  const pinsNode = fields.get('pins');
  const pins: PolicyPin[] = [];
  if (pinsNode !== undefined) {
    if (!isSeq(pinsNode)) reader.fail(pinsNode, `${where}.pins must be a list of {pattern, rootFile | rootKeyId}`);
    pinsNode.items.forEach((item, index) => pins.push(readPin(reader, item as Node, `${where}.pins[${index}]`)));
  }
  return {
    tofu: fields.has('tofu') ? reader.boolean(fields.get('tofu'), `${where}.tofu`) : true,
    ...(fields.has('maxAge') ? { maxAgeMs: reader.duration(fields.get('maxAge'), `${where}.maxAge`, false) } : {}),
    pins,
  };
}

function readPin(reader: Reader, node: Node, where: string): PolicyPin {
  const fields = reader.map(node, where, PIN_KEYS);
  const input = reader.string(fields.get('pattern'), `${where}.pattern`);
  let pattern: string;
  try {
    pattern = parsePinPattern(input);
  } catch (err) {
    reader.fail(fields.get('pattern'), `${where}.pattern: ${(err as Error).message}`);
  }
  // A name with a registry must mean itself: `registry.example.com/*` would read as
  // docker.io/library/registry.example.com/*, and `docker.io/library/*` as docker.io/library/library/*.
  const first = input.split('/')[0]!;
  if (pattern !== input && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    reader.fail(fields.get('pattern'), `${where}.pattern "${input}" reads as ${pattern}: pin a registry and at least one path component (registry.example.com/team/*), or one collection`);
  }
  if (fields.has('rootFile') === fields.has('rootKeyId')) reader.fail(node, `${where} needs exactly one of rootFile and rootKeyId`);
  if (fields.has('rootFile')) {
    if (pattern.endsWith('/*')) reader.fail(node, `${where}: a root file belongs to one collection; pin a prefix with rootKeyId`);
    return { pattern, rootFile: reader.string(fields.get('rootFile'), `${where}.rootFile`) };
  }
  const id = reader.string(fields.get('rootKeyId'), `${where}.rootKeyId`);
  try {
    return { pattern, rootKeyId: parseRootKeyId(id) };
  } catch (err) {
    reader.fail(fields.get('rootKeyId'), `${where}.rootKeyId: ${(err as Error).message}`);
  }
}

function readCollection(reader: Reader, node: Node | undefined, where: string): CollectionMapping {
  const fields = reader.map(node, where, COLLECTION_KEYS);
  const from = reader.string(fields.get('from'), `${where}.from`);
  const to = reader.string(fields.get('to'), `${where}.to`);
  for (const [key, prefix] of [['from', from], ['to', to]] as const) {
    if (!prefix.endsWith('/')) reader.fail(fields.get(key) ?? node, `${where}.${key} "${prefix}" must be a name prefix ending in "/", e.g. registry.example.com/team/`);
  }
  return { from, to };
}

function readNamespaces(reader: Reader, node: Node | undefined, where: string): string[] {
  const names = reader.strings(node, where);
  names.forEach((name, index) => {
    if (!NAMESPACE.test(name)) reader.fail(isSeq(node) ? (node.items[index] as Node) : node, `${where}: "${name}" is not a namespace name`);
  });
  return names;
}
