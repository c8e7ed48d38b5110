#!/usr/bin/env node
// Entry shim: the compiled CLI is built into dist/ by `npm ci` (prepare) or `npm run build`.
import "../dist/cli.js";
