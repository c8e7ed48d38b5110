#!/usr/bin/env node
// Entry shim: the compiled server is built into dist/ by `npm ci` (prepare) or `npm run build`.
import "../dist/bin.js";
