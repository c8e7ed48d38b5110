import test from 'ava';
import { InvalidInputError } from '@tagtrust/shared';
import { parseScope, scopesAllow } from '@tagtrust/server';

test('push globs: * stays within one path segment, ** crosses segments', (t) => {
  const teamA = ['push:registry.example.com/team-a/*'];
  t.true(scopesAllow(teamA, { action: 'push', gun: 'registry.example.com/team-a/app' }));
  t.true(scopesAllow(teamA, { action: 'pull', gun: 'registry.example.com/team-a/app' }), 'push implies pull');
  t.false(scopesAllow(teamA, { action: 'push', gun: 'registry.example.com/team-a/app/sub' }));
  t.false(scopesAllow(teamA, { action: 'push', gun: 'registry.example.com/team-b/app' }));
  t.false(scopesAllow(teamA, { action: 'push', gun: 'registry.example.com/team-a' }));
  t.false(scopesAllow(teamA, { action: 'admin' }));
  t.false(scopesAllow(['push:registry.example.com/team-a'], { action: 'push', gun: 'registry.example.com/team-ab' }));
  t.false(scopesAllow(['push:registry.example.com/team.a/*'], { action: 'push', gun: 'registry.example.com/teamXa/app' }), 'dots are literal');
  t.true(scopesAllow(['push:registry.example.com/**'], { action: 'push', gun: 'registry.example.com/a/b/c' }));
  t.false(scopesAllow(['pull:registry.example.com/**'], { action: 'push', gun: 'registry.example.com/a' }));
  t.true(scopesAllow(['pull:registry.example.com/**'], { action: 'pull', gun: 'registry.example.com/a' }));
  t.true(scopesAllow(['admin'], { action: 'push', gun: 'anything/at/all' }));
  t.false(scopesAllow([], { action: 'pull', gun: 'a/b' }));
});

test('parseScope accepts admin, push:<pattern> and pull:<pattern> only', (t) => {
  for (const scope of ['admin', 'push:a/b', 'pull:**', 'push:registry.example.com/team-a/*']) t.is(parseScope(scope), scope);
  for (const scope of ['', 'root', 'push:', 'push', 'push:a b', 'delete:a', 'admin:x']) {
    const err = t.throws(() => parseScope(scope));
    t.true(err instanceof InvalidInputError, scope);
  }
});
