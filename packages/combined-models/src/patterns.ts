/**
 * Member patterns in `combined_models.groups.*` and `combined_models.exclude`: `"provider/model"` where `*` matches
 * any run of characters (slashes included, so `openrouter/*` covers `openrouter/anthropic/claude-sonnet-4.5`), or a
 * bare provider id meaning every model of that provider. Matching ignores case: ids are spelled inconsistently
 * (`Qwen/…`, `GLM-4.7`) and nobody means two different models by case alone.
 */
import type { MemberRef } from "./types.ts"

export interface MemberPattern {
  source: string
  provider: RegExp
  /** Undefined for a bare provider id: every model matches. */
  model?: RegExp
}

const compiled = new Map<string, MemberPattern>()

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*")
  return new RegExp(`^${body}$`, "i")
}

export function parseMemberPattern(pattern: string): MemberPattern {
  const cached = compiled.get(pattern)
  if (cached) return cached
  const trimmed = pattern.trim()
  const slash = trimmed.indexOf("/")
  const parsed: MemberPattern =
    slash === -1
      ? { source: pattern, provider: globToRegExp(trimmed) }
      : { source: pattern, provider: globToRegExp(trimmed.slice(0, slash)), model: globToRegExp(trimmed.slice(slash + 1)) }
  compiled.set(pattern, parsed)
  return parsed
}

export function matchesMember(pattern: string, ref: MemberRef): boolean {
  const parsed = parseMemberPattern(pattern)
  if (!parsed.provider.test(ref.providerID)) return false
  return parsed.model === undefined || parsed.model.test(ref.modelID)
}

export function matchesAny(patterns: readonly string[], ref: MemberRef): boolean {
  return patterns.some((pattern) => matchesMember(pattern, ref))
}

export function memberRefString(ref: MemberRef): string {
  return `${ref.providerID}/${ref.modelID}`
}
