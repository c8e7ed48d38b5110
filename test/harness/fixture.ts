/**
 * One-line setup for attack tests: a simulated collection with one signed tag, served by a
 * MaliciousServer, and a puller with its own home that has already trusted the honest state.
 */
import { rm } from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import type { Puller, PullerOptions } from '@tagtrust/client';
import { digestOf, pullerFor, runCli, tempHome } from '../helpers/client.js';
import type { CliResult } from '../helpers/client.js';
import { MaliciousServer } from './malicious-server.js';
import { RepositorySimulator } from './repository-simulator.js';
import type { SimulatorOptions } from './repository-simulator.js';

export interface AttackFixture {
  sim: RepositorySimulator;
  evil: MaliciousServer;
  home: string;
  gun: string;
  /** `<gun>:v1`, signed for digestOf('a'), 100 bytes. */
  ref: string;
  puller(options?: Partial<PullerOptions>): Puller;
  /** `tagtrust ...args` against the malicious server with this home. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** A new empty home (a client that has never seen the collection). */
  freshHome(): Promise<string>;
}

export async function attackFixture(t: ExecutionContext, options: SimulatorOptions & { trusted?: boolean } = {}): Promise<AttackFixture> {
  const sim = await RepositorySimulator.create(options);
  sim.addTarget('v1', digestOf('a'), 100);
  sim.publishTargets();
  const evil = await MaliciousServer.start();
  evil.serve(sim.gun, (file) => sim.fetch(file));
  const homes: string[] = [];
  const freshHome = async () => {
    const home = await tempHome();
    homes.push(home);
    return home;
  };
  t.teardown(async () => {
    await evil.close();
    await Promise.all(homes.map((home) => rm(home, { recursive: true, force: true })));
  });
  const home = await freshHome();
  const fixture: AttackFixture = {
    sim,
    evil,
    home,
    gun: sim.gun,
    ref: `${sim.gun}:v1`,
    puller: (opts = {}) => pullerFor(evil.url, home, opts),
    cli: (args, env = {}) => runCli(args, { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home, ...env }),
    freshHome,
  };
  if (options.trusted !== false) await fixture.puller().resolve(fixture.ref);
  return fixture;
}
