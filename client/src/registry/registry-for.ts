/**
 * The registry that serves a collection: its repository name there, and a client for it (the
 * collection's domain over https unless a URL is given; docker.io is served by registry-1.docker.io).
 */
import { parseGun } from '@tagtrust/shared';
import { RegistryClient } from './registry-client.js';
import type { RegistryClientOptions } from './registry-client.js';

export interface CollectionRegistry {
  client: RegistryClient;
  /** The repository name in the registry: the collection without its domain. */
  name: string;
}

export function registryFor(gunInput: string, options: Partial<RegistryClientOptions> = {}): CollectionRegistry {
  const gun = parseGun(gunInput);
  const slash = gun.indexOf('/');
  const domain = gun.slice(0, slash);
  const url = options.url ?? `https://${domain === 'docker.io' ? 'registry-1.docker.io' : domain}`;
  return { client: new RegistryClient({ ...options, url }), name: gun.slice(slash + 1) };
}
