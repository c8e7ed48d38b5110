/**
 * Library functions that commands need only when they run, for `await import('./lazy.js')`.
 * Importing them by name here (not `import('@tagtrust/shared')`) matters for the bundled CLI: a
 * dynamic import of a package's index loads every module the index re-exports, so `--help` would
 * load node:crypto and the metadata builders.
 */
export { parseDuration, parseGun, parseTaggedReference } from '@tagtrust/shared';
export { parseKeyAlgorithm } from '@tagtrust/keys';
