/** A JSON-style object: not null, not an array. Untrusted input (config, catalogs, files, events) is read through it. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

/** The strings of an untrusted list (config's provider lists, a catalog's env names); undefined when it is no list. */
export function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : undefined
}
