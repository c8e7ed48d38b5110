// `npm run package`: the two installable packages, for machines other than this clone.
//
//   packages/tagtrust-<version>.tgz         the `tagtrust` CLI (client/dist/tagtrust.cjs and its vendor files, no dependencies)
//   packages/tagtrust-server-<version>.tgz  `tagtrust-server`, bundled into one ES module; its only
//                                           dependency is classic-level (LevelDB's native binding, with
//                                           prebuilt binaries), which npm installs from the registry
//
// Install both with `npm install -g ./packages/tagtrust-<v>.tgz ./packages/tagtrust-server-<v>.tgz`.
// Run after `npm run build` (npm run package does both). The packages are built in a temp folder from
// the type-checked dist/ output, and packed with `npm pack`.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'packages');
const readJson = async (path) => JSON.parse(await readFile(join(ROOT, path), 'utf8'));
const { version, license, engines } = await readJson('package.json');
const lock = await readJson('package-lock.json');
const locked = (name) => lock.packages[`node_modules/${name}`].version;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function pack(dir, manifest) {
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ version, license, engines, ...manifest }, null, 2)}\n`);
  const name = execFileSync(npm, ['pack', '--silent', '--pack-destination', OUT], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
  return join(OUT, name);
}

await mkdir(OUT, { recursive: true });
const work = await mkdtemp(join(tmpdir(), 'tagtrust-package-'));
try {
  const cli = join(work, 'cli');
  await mkdir(join(cli, 'bin'), { recursive: true });
  // The bundle and the vendor files it requires when a command first needs them (bundle-cli.mjs).
  const cliFiles = (await readdir(join(ROOT, 'client/dist'))).filter((f) => /^tagtrust(-vendor-[a-z]+)?\.cjs$/.test(f));
  for (const file of cliFiles) await copyFile(join(ROOT, 'client/dist', file), join(cli, file));
  await writeFile(join(cli, 'bin/tagtrust.js'), "#!/usr/bin/env node\nrequire('../tagtrust.cjs');\n", { mode: 0o755 });
  const cliTgz = await pack(cli, {
    name: 'tagtrust',
    description: 'tagtrust CLI: sign container tags and resolve them to verified digests (TUF)',
    bin: { tagtrust: 'bin/tagtrust.js' },
    files: ['bin', ...cliFiles],
  });

  const server = join(work, 'server');
  await mkdir(join(server, 'bin'), { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'server/dist/bin.js')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['classic-level'],
    define: { TAGTRUST_VERSION: JSON.stringify(version) },
    // CommonJS dependencies bundled into an ES module still call require() for built-ins.
    banner: { js: "import { createRequire as __tagtrustRequire } from 'node:module'; const require = __tagtrustRequire(import.meta.url);" },
    outfile: join(server, 'tagtrust-server.mjs'),
  });
  await writeFile(join(server, 'bin/tagtrust-server.js'), "#!/usr/bin/env node\nimport '../tagtrust-server.mjs';\n", { mode: 0o755 });
  const serverTgz = await pack(server, {
    name: 'tagtrust-server',
    description: 'tagtrust-server: TUF metadata server for signed container tags',
    type: 'module',
    bin: { 'tagtrust-server': 'bin/tagtrust-server.js' },
    files: ['bin', 'tagtrust-server.mjs'],
    dependencies: { 'classic-level': locked('classic-level') },
  });
  console.log(`${cliTgz}\n${serverTgz}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
