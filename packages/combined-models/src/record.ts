/** A JSON-style object: not null, not an array. Untrusted input (config, catalogs, files, events) is read through it. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}
