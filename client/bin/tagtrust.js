#!/usr/bin/env node
// Entry shim: runs the bundled CLI, client/dist/tagtrust.cjs, built by `npm ci` (prepare) or
// `npm run build` (tsc, then client/scripts/bundle-cli.mjs). CommonJS (client/bin/package.json), so
// that starting the CLI needs neither the ESM loader nor more than one module file.
require('../dist/tagtrust.cjs');
