import { configJsonSchema, isRecord, resolveConfig } from "combined-models"
/**
 * Our two keys in `opencode.json` as OpenCode's config loader sees them. OpenCode's Effect schema only declares them
 * (so they survive decoding); the engine's zod schema is the one that judges them. The config hunk turns the issues
 * returned here into OpenCode's own `ConfigInvalidError`, so a mistake reads like any other config error.
 */

/**
 * The shape of an issue in OpenCode's `ConfigInvalidError` (`{ message, path[] }`). A type alias, not an interface:
 * OpenCode's issue schema has an open index signature, which only an alias satisfies implicitly.
 */
export type ConfigIssue = {
  message: string
  path: string[]
}

/**
 * Problems with `provider_priority` and `combined_models` in one loaded config file, empty when they are fine or
 * absent. Only errors: warnings that need the provider list (unknown provider ids) come from the provider patch.
 */
export function combinedConfigIssues(config: unknown): ConfigIssue[] {
  if (typeof config !== "object" || config === null) return []
  const result = resolveConfig(config)
  if (result.ok) return []
  // One path element holding the whole dotted path: OpenCode prints `path.join(".")`, and splitting ours again
  // would cut group ids such as `gpt-4.1` in two.
  return result.errors.map((problem) => ({ message: problem.message, path: [problem.path] }))
}

/**
 * The JSON Schema properties OpenCode's published config schema should carry for our keys, replacing the bare
 * declarations its Effect schema produces.
 */
export function combinedConfigSchemaProperties(): Record<string, unknown> {
  const schema = configJsonSchema() as { properties?: Record<string, unknown> }
  return { ...schema.properties }
}

/**
 * OpenCode's generated config JSON Schema document with our keys described in full. The document is either the
 * object schema itself or a `$ref` to it under `$defs` (what OpenCode's generator emits). Throws when neither holds:
 * this runs in a build script, where a silently unchanged schema would be the worse outcome.
 */
export function addCombinedConfigSchema<T extends Record<string, unknown>>(document: T): T {
  const ref = typeof document.$ref === "string" ? /^#\/\$defs\/(.+)$/.exec(document.$ref)?.[1] : undefined
  const target = ref && isRecord(document.$defs) ? document.$defs[ref] : document
  if (!isRecord(target) || !isRecord(target.properties))
    throw new Error("combined-models: the config JSON Schema has no object with properties to describe our keys in")
  Object.assign(target.properties, combinedConfigSchemaProperties())
  return document
}
