/**
 * A collection in hashed bins whose bin key the test holds in memory (no home has it), so tests can
 * sign bins of their own making: a real server (closed at teardown) and the owner's home.
 */
import type { ExecutionContext } from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import type { BinsResult, Publisher } from '@tagtrust/client';
import { publisherFor, tempHome } from './client.js';
import { startTestServer } from './server.js';
import type { TestServer } from './server.js';

export interface BinnedCollection {
  server: TestServer;
  home: string;
  owner: Publisher;
  binKey: KeyPair;
  enabled: BinsResult;
}

export async function binnedCollection(t: ExecutionContext, gun: string, bins: number): Promise<BinnedCollection> {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const owner = publisherFor(server.url, home);
  await owner.init(gun);
  const binKey = await generateKeyPair();
  const enabled = await owner.enableBins(gun, { bins, key: binKey.publicKey });
  return { server, home, owner, binKey, enabled };
}
