/**
 * The server's delegation walk (server/src/tag-log/tag-resolution.ts), pure computation: it follows
 * the TUF client's pre-order depth-first lookup (client workflow 5.6.7.2, as tuf-js does it): the
 * top-level targets first, delegations in order and depth first, only where the paths match; a
 * matching terminating delegation ends the whole walk; unpublished roles are empty; a role that
 * fails verification fails the lookup; hashed bins are looked up by the name's hash.
 */
import test from 'ava';
import { binRoleForTarget, buildTargets } from '@tagtrust/shared';
import type { DelegatedRoleInfo, TargetsSigned } from '@tagtrust/shared';
import { reachableRoles, resolveTarget } from '../server/src/tag-log/tag-resolution.js';
import type { RoleInState, RoleLoader } from '../server/src/tag-log/tag-resolution.js';

const GUN = 'registry.example.com/team/app';
const EXPIRES = '2030-01-01T00:00:00Z';
const name = (tag: string) => `${GUN}:${tag}`;

function targets(entries: Record<string, string>, roles?: Partial<DelegatedRoleInfo>[]): TargetsSigned {
  const signed = buildTargets(1, EXPIRES, Object.fromEntries(Object.entries(entries).map(([tag, d]) => [name(tag), { length: 1, hashes: { sha256: d.repeat(64) } }])));
  if (roles) signed.delegations = { keys: {}, roles: roles.map((r) => ({ keyids: [], threshold: 1, terminating: false, paths: [`${GUN}:*`], ...r }) as DelegatedRoleInfo) };
  return signed;
}

const loader = (roles: Record<string, RoleInState>): RoleLoader => async (role) => roles[role] ?? { state: 'unpublished' };
const trusted = (signed: TargetsSigned): RoleInState => ({ state: 'trusted', signed });

test('the top-level targets win, then delegations in order, depth first', async (t) => {
  const top = targets({ a: 'a' }, [{ name: 'targets/x' }, { name: 'targets/y' }]);
  const load = loader({
    'targets/x': trusted(targets({}, [{ name: 'targets/x/deep' }])),
    'targets/x/deep': trusted(targets({ b: 'b', c: 'd' })),
    'targets/y': trusted(targets({ a: 'e', b: 'c', c: 'c' })),
  });
  t.deepEqual(await resolveTarget(name('a'), top, load), { kind: 'found', digest: `sha256:${'a'.repeat(64)}`, role: 'targets' });
  t.deepEqual(await resolveTarget(name('b'), top, load), { kind: 'found', digest: `sha256:${'b'.repeat(64)}`, role: 'targets/x/deep' });
  t.deepEqual(await resolveTarget(name('zz'), top, load), { kind: 'absent' });
});

test('paths decide which roles are visited; a matching terminating delegation ends the walk', async (t) => {
  const load = loader({
    'targets/dev': trusted(targets({ v1: 'd' })),
    'targets/stop': { state: 'unpublished' },
    'targets/release': trusted(targets({ v1: 'a' })),
  });
  const dev = { name: 'targets/dev', paths: [`${GUN}:dev-*`] };
  const release = { name: 'targets/release', paths: [`${GUN}:v*`] };
  t.deepEqual(await resolveTarget(name('v1'), targets({}, [dev, release]), load), { kind: 'found', digest: `sha256:${'a'.repeat(64)}`, role: 'targets/release' });
  const stop = { name: 'targets/stop', paths: [`${GUN}:v*`], terminating: true };
  t.deepEqual(await resolveTarget(name('v1'), targets({}, [stop, release]), load), { kind: 'absent' }, 'unpublished and terminating: nothing after it');
  t.deepEqual(await resolveTarget(name('v1'), targets({}, [{ ...stop, terminating: false }, release]), load), { kind: 'found', digest: `sha256:${'a'.repeat(64)}`, role: 'targets/release' });
  t.deepEqual(await resolveTarget(name('v1'), targets({}, [{ ...stop, paths: [`${GUN}:dev-*`] }, release]), load), { kind: 'found', digest: `sha256:${'a'.repeat(64)}`, role: 'targets/release' }, 'a terminating role that does not match does not stop the walk');
});

test('a role that fails verification fails the lookup; reachableRoles lists what loaded', async (t) => {
  const top = targets({}, [{ name: 'targets/broken' }, { name: 'targets/release' }]);
  const load = loader({ 'targets/broken': { state: 'invalid' }, 'targets/release': trusted(targets({ v1: 'a' })) });
  t.deepEqual(await resolveTarget(name('v1'), top, load), { kind: 'failed', role: 'targets/broken' });
  t.deepEqual([...(await reachableRoles(top, load)).keys()], ['targets', 'targets/release']);
});

test('hashed bins: only the bin the name hashes into is looked up', async (t) => {
  const top = buildTargets(1, EXPIRES, {});
  top.delegations = { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 4, name_prefix: 'bins' } };
  const bin = binRoleForTarget({ name_prefix: 'bins', bit_length: 4 }, name('v1'));
  const visited: string[] = [];
  const load: RoleLoader = async (role) => {
    visited.push(role);
    return role === bin ? trusted(targets({ v1: 'a' })) : { state: 'unpublished' };
  };
  t.deepEqual(await resolveTarget(name('v1'), top, load), { kind: 'found', digest: `sha256:${'a'.repeat(64)}`, role: bin });
  t.deepEqual(visited, [bin]);
});
