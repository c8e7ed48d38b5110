import test from 'ava';
import { DelegatedRole } from '@tufjs/models/dist/role.js';
import { delegatedRoleNameProblem, delegationChain, isDelegatedPath, pathPatternProblem } from '@tagtrust/shared';

const GUN = 'registry.example.com/team/app';

// [target name, pattern]: each row is checked against tuf-js's own matcher.
const CASES: [string, string][] = [
  [`${GUN}:dev-1`, `${GUN}:dev-*`],
  [`${GUN}:dev-`, `${GUN}:dev-*`],
  [`${GUN}:v1.0.0`, `${GUN}:dev-*`],
  [`${GUN}:v1.0.0`, `${GUN}:v*`],
  [`${GUN}:v1.0.0`, `${GUN}:v?.?.?`],
  [`${GUN}:v1.10.0`, `${GUN}:v?.?.?`],
  [`${GUN}:latest`, `${GUN}:latest`],
  [`${GUN}:latest2`, `${GUN}:latest`],
  [`${GUN}:latest`, `${GUN}:*`],
  [`${GUN}:latest`, `*`],
  [`${GUN}:latest`, `*/*/*`],
  [`${GUN}:latest`, `*/*`],
  [`${GUN}:latest`, `*/*/*/*`],
  [`${GUN}:latest`, `registry.example.com/*/app:*`],
  [`${GUN}:latest`, `registry.example.com/team/*`],
  [`registry.example.com/team/app/sub:latest`, `registry.example.com/team/app:*`],
  [`registry.example.com/team/app/sub:latest`, `registry.example.com/team/*:*`],
  [`registry.example.com/team/app/sub:latest`, `registry.example.com/team/*/*`],
  [`registry.example.com/team/other:latest`, `${GUN}:*`],
  [`registry.example.com/team/app:Latest`, `${GUN}:latest`],
  [`registry.example.com:5000/team/app:v1`, `registry.example.com:5000/team/app:v*`],
  [`registry.example.com:5000/team/app:v1`, `*/team/app:v*`],
  [`registry.example.com:5000/team/app:v1`, `registry.example.com:*/team/app:v1`],
  [`${GUN}:.hidden`, `${GUN}:*`],
  [`.registry/team/app:v1`, `*/team/app:v1`],
  [`.registry/team/app:v1`, `?registry/team/app:v1`],
  [`.registry/team/app:v1`, `.*/team/app:v1`],
  [`${GUN}:a`, `${GUN}:?`],
  [`${GUN}:ab`, `${GUN}:?`],
  [`${GUN}:`, `${GUN}:*`],
  [`${GUN}:x`, `${GUN}:**`],
  [`registry.example.com/team/app/x:x`, `registry.example.com/team/**`],
  [`${GUN}:v1-rc.1`, `${GUN}:v*-rc.*`],
  [`${GUN}:v1-rc.1`, `${GUN}:*rc*`],
  [`${GUN}:v1`, `registry.example.com/team/app:v1`],
  [`registry-example.com/team/app:v1`, `registry.example.com/team/app:v1`],
  [`registryXexample.com/team/app:v1`, `registry?example.com/team/app:v1`],
  [`localhost:5000/app:v1`, `localhost:5000/app:v*`],
  [`docker.io/library/ubuntu:22.04`, `docker.io/library/ubuntu:*.04`],
  [`${GUN}:v1@x`, `${GUN}:v1@*`],
];

for (const [name, pattern] of CASES) {
  test(`path pattern ${pattern} vs ${name} agrees with tuf-js`, (t) => {
    t.is(pathPatternProblem(pattern), undefined);
    const role = new DelegatedRole({ name: 'targets/x', keyIDs: [], threshold: 1, terminating: false, paths: [pattern] });
    t.is(isDelegatedPath(name, [pattern]), role.isDelegatedPath(name));
  });
}

test('the expected matches of the team-setup patterns', (t) => {
  t.true(isDelegatedPath(`${GUN}:dev-7`, [`${GUN}:dev-*`]));
  t.false(isDelegatedPath(`${GUN}:v1.0.0`, [`${GUN}:dev-*`]));
  t.true(isDelegatedPath(`${GUN}:latest`, [`${GUN}:v*`, `${GUN}:latest`]));
  t.false(isDelegatedPath(`${GUN}:dev-1`, []));
});

test('patterns with minimatch syntax beyond * and ? are refused', (t) => {
  for (const pattern of [`${GUN}:{a,b}`, `${GUN}:[ab]`, `!${GUN}:a`, `${GUN}:+(a)`, `${GUN}:a\\*`, `#x`, '', `${GUN}//x`, `/${GUN}:x`, `${GUN}:a b`]) {
    t.truthy(pathPatternProblem(pattern), pattern);
    t.false(isDelegatedPath(`${GUN}:a`, [pattern]), pattern);
  }
});

test('delegated role names and their delegators', (t) => {
  t.is(delegatedRoleNameProblem('targets/ci', 'targets'), undefined);
  t.is(delegatedRoleNameProblem('targets/ci/nightly', 'targets/ci'), undefined);
  t.regex(delegatedRoleNameProblem('targets/ci/nightly', 'targets')!, /can only be delegated by targets\/ci/);
  t.regex(delegatedRoleNameProblem('ci', 'targets')!, /not a delegated role name/);
  t.regex(delegatedRoleNameProblem('targets/', 'targets')!, /not a delegated role name/);
  t.regex(delegatedRoleNameProblem('targets/../root', 'targets')!, /not a delegated role name/);
  t.regex(delegatedRoleNameProblem('snapshot', 'targets')!, /not a delegated role name/);
  t.deepEqual(delegationChain('targets/a/b'), ['targets', 'targets/a']);
  t.deepEqual(delegationChain('targets/a'), ['targets']);
});
