// Bundles the `tagtrust` CLI into one CommonJS file, client/dist/tagtrust.cjs, which the bin shim
// (client/bin/tagtrust.js) loads. Built from the tsc output (client/dist/cli.js and the dist of the
// workspace packages), so it runs exactly the type-checked code; run after `tsc -b` (npm run build).
//
// Why: loading the CLI module by module (about 110 files: resolution, package.json lookups, one
// compile per file, the ESM loader) took about as long as Node's own start-up. One file in the
// CommonJS loader is one read and one compile. The library entry points (dist/index.js) are untouched.
//
// - keepNames: error classes keep their names (client/src/tuf/error-map.ts maps tuf-js errors by
//   constructor name).
// - Modules of @tagtrust/shared and @tagtrust/keys have no side effects at load, so what a command
//   does not use is left out or evaluated only when a lazily imported module needs it.
// - `import('node:https')` and other dynamic imports of built-in modules become require() calls, so
//   the CLI never starts the ESM loader (its first use costs a few ms).
// - A linked source map (tagtrust.cjs.map, through tsc's maps back to src/*.ts): stack traces of
//   internal errors point to the TypeScript sources under `node --enable-source-maps`; without that
//   flag node does not read it.
// - TAGTRUST_VERSION is client/package.json's version, for `tagtrust --version`.
// - Third-party packages go in files of their own beside it (VENDOR below), required only when a
//   command first uses one: compiling the whole bundle at start-up was most of `--help`'s time above
//   `node -e 0` (yaml alone, for the admission policy, is a quarter of the code). Packages that share
//   classes (tuf-js and @tufjs/models: instanceof on metadata and errors) are in one file, so each
//   class exists once.
// - Written to a temp file and renamed, so a process loading the CLI never sees half a file.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'client/dist/tagtrust.cjs');
const PURE_DIRS = ['shared/dist', 'keys/dist'].map((d) => join(ROOT, d) + sep);

/** Marks the workspace packages' modules as free of side effects (as "sideEffects": false would). */
const pureWorkspaceModules = {
  name: 'pure-workspace-modules',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'pure-workspace-modules') return undefined;
      const resolved = await b.resolve(args.path, { importer: args.importer, kind: args.kind, resolveDir: args.resolveDir, pluginData: 'pure-workspace-modules' });
      if (resolved.errors.length > 0 || resolved.external) return resolved;
      return PURE_DIRS.some((d) => resolved.path.startsWith(d)) ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

/** `import('node:x')` -> a lazily required CommonJS module whose exports are require('node:x'). */
const requireBuiltins = {
  name: 'require-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** Vendor files (client/dist/<file>) and the packages, as our code imports them, each one holds. */
const VENDOR = {
  'tagtrust-vendor-tuf.cjs': ['tuf-js', 'tuf-js/dist/error.js', '@tufjs/models', '@tufjs/canonical-json'],
  'tagtrust-vendor-yaml.cjs': ['yaml'],
};
const VENDOR_FILE = new Map(Object.entries(VENDOR).flatMap(([file, specifiers]) => specifiers.map((s) => [s, file])));

/** An import of a vendored package -> a stub that requires its vendor file when first evaluated. */
const vendorStubs = {
  name: 'vendor-stubs',
  setup(b) {
    b.onResolve({ filter: /^[@a-z]/ }, (args) => (VENDOR_FILE.has(args.path) ? { path: args.path, namespace: 'vendor' } : undefined));
    b.onResolve({ filter: /^\.\/tagtrust-vendor-/ }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./${VENDOR_FILE.get(args.path)}`)})[${JSON.stringify(args.path)}];`,
      loader: 'js',
    }));
  },
};

const COMMON = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', keepNames: true, legalComments: 'none', logLevel: 'warning', sourcemap: 'linked', write: false };

const { version } = JSON.parse(await readFile(join(ROOT, 'client/package.json'), 'utf8'));
const outputs = [];
const main = await build({
  ...COMMON,
  define: { TAGTRUST_VERSION: JSON.stringify(version) },
  entryPoints: [join(ROOT, 'client/dist/cli.js')],
  plugins: [vendorStubs, pureWorkspaceModules, requireBuiltins],
  outfile: OUT,
});
outputs.push(...main.outputFiles);
for (const [file, specifiers] of Object.entries(VENDOR)) {
  const vendor = await build({
    ...COMMON,
    stdin: { contents: `module.exports = {${specifiers.map((s) => `${JSON.stringify(s)}: require(${JSON.stringify(s)})`).join(', ')}};`, resolveDir: join(ROOT, 'client'), loader: 'js' },
    outfile: join(dirname(OUT), file),
  });
  outputs.push(...vendor.outputFiles);
}
// The map first, so a bundle is never newer than its map.
for (const file of [...outputs].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')))) {
  const temp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.tmp`);
  await writeFile(temp, file.contents);
  await rename(temp, file.path);
}
