/**
 * Times in metadata (`expires`, the timestamp's signing time) are RFC 3339 UTC without fractions,
 * `YYYY-MM-DDTHH:MM:SSZ`, and must name a real instant written the one way it is written back:
 * `2027-02-30T00:00:00Z` and `2027-01-01T24:00:00Z`, which Date.parse silently moves to another
 * day, are refused, so every reader (server, client, tuf-js, python-tuf) sees the same expiry.
 */
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** True when `text` is `YYYY-MM-DDTHH:MM:SSZ` and round-trips through Date unchanged. */
export function isStrictUtcTime(text: string): boolean {
  if (!UTC_TIME.test(text)) return false;
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === `${text.slice(0, -1)}.000Z`;
}
