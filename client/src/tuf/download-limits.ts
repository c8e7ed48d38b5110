/**
 * The client's own size caps for downloaded metadata. Every download is capped at the smaller of the
 * length the parent role lists and the cap for the file's role: a parent role signed with keys the
 * server holds (timestamp, snapshot) can list any length, so a listed length never raises the cap.
 * A file listed as longer than the cap is refused before it is requested (its length must match
 * exactly, so it could never be accepted); any other body is cut off at the cap as it arrives.
 */
import type { MetadataFile } from './metadata-guard.js';

/**
 * Size caps per role, in bytes. Targets (and delegated roles, hashed bins) allow a flat collection of
 * about 110,000 tags (14.4 MB at 100,000); snapshot allows the 16,384 bins of the largest bit_length
 * (about 0.6 MB) with room to spare.
 */
export const METADATA_LIMITS = {
  root: 512_000,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 16 * 1024 * 1024,
};

/** The client's cap for a metadata file; delegated roles share the targets cap. */
export function roleCap(file: MetadataFile | undefined): number {
  switch (file?.role) {
    case 'root':
      return METADATA_LIMITS.root;
    case 'timestamp':
      return METADATA_LIMITS.timestamp;
    case 'snapshot':
      return METADATA_LIMITS.snapshot;
    default:
      return METADATA_LIMITS.targets;
  }
}
