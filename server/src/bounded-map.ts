/**
 * Sets `key` in `map`, first dropping the oldest entry (Map order) when a new key would take the
 * map past `max` entries. The server's in-memory lookups use it so that none grows without bound.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (!map.has(key) && map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
