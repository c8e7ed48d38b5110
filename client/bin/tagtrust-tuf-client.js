#!/usr/bin/env node
// tuf-conformance client CLI (client/src/conformance/cli.ts), loaded from the tsc output.
import('../dist/conformance/cli.js');
