/**
 * Which credential each provider holds now, as a fingerprint: an auth (or quota) cooldown is the credential's, not
 * the provider's for ever. OpenCode resolves a provider's credential from several places (its auth store, the
 * provider's environment variables, `provider.<id>.options` in opencode.json); the provider hunk passes the auth store
 * and environment it read, and this module hashes what each provider would send. Nothing here keeps or logs a secret:
 * only a truncated SHA-256 leaves this module.
 */
import { createHash } from "node:crypto"
import type { OpenCodeProvider } from "./runtime.ts"
import { isRecord, stringList } from "combined-models"

/** What OpenCode's provider layer read while building its providers: the auth store and the environment. */
export interface CredentialSources {
  /** `Auth.all()`: by provider id, `{ type: "api", key }`, `{ type: "oauth", refresh, … }` or `{ type: "wellknown", … }`. */
  auth?: Record<string, unknown>
  /** `Env.all()`. */
  env?: Record<string, string | undefined>
}

const FINGERPRINT_HEX = 16

/** The parts of an auth store entry that identify the credential (an OAuth refresh token, not the access token). */
function storedSecret(entry: unknown): unknown {
  if (!isRecord(entry)) return undefined
  switch (entry.type) {
    case "api":
      return ["api", entry.key]
    case "oauth":
      // The access token changes on every refresh; the sign-in is the refresh token and the account.
      return ["oauth", entry.refresh, entry.accountId, entry.enterpriseUrl]
    case "wellknown":
      return ["wellknown", entry.key, entry.token]
    default:
      return undefined
  }
}

/**
 * One provider's credential fingerprint, or undefined when it holds none that we can see (then cooldowns apply
 * whatever credential it uses, bounded by their length).
 */
export function credentialFingerprint(provider: OpenCodeProvider, sources: CredentialSources = {}): string | undefined {
  const options = isRecord(provider.options) ? provider.options : {}
  const headers = isRecord(options.headers) ? options.headers : {}
  const env = sources.env ?? {}
  const parts = {
    key: typeof provider.key === "string" ? provider.key : undefined,
    apiKey: typeof options.apiKey === "string" && options.apiKey !== "" ? options.apiKey : undefined,
    // A key sent as a header (`x-api-key`, `authorization`) by hand in opencode.json.
    headers: Object.entries(headers)
      .filter(([name]) => /authorization|api[-_]?key|token/i.test(name))
      .map(([name, value]) => [name.toLowerCase(), String(value)])
      .sort(),
    stored: storedSecret(sources.auth?.[provider.id]),
    env: (stringList(provider.env) ?? [])
      .map((name) => [name, env[name]])
      .filter(([, value]) => value !== undefined && value !== ""),
  }
  const present =
    parts.key !== undefined || parts.apiKey !== undefined || parts.headers.length > 0 || parts.stored !== undefined || parts.env.length > 0
  if (!present) return undefined
  return createHash("sha256")
    .update(`combined-models credential v1\u0000${provider.id}\u0000${JSON.stringify(parts)}`)
    .digest("hex")
    .slice(0, FINGERPRINT_HEX)
}

/** Fingerprints of every provider that holds a credential we can see. */
export function credentialFingerprints(providers: readonly OpenCodeProvider[], sources: CredentialSources = {}): Map<string, string> {
  const fingerprints = new Map<string, string>()
  for (const provider of providers) {
    const fingerprint = credentialFingerprint(provider, sources)
    if (fingerprint) fingerprints.set(provider.id, fingerprint)
  }
  return fingerprints
}

/** Providers signed in with OAuth in OpenCode's auth store: their tokens expire and are refreshed by a plugin. */
export function oauthProviders(sources: CredentialSources = {}): Set<string> {
  return new Set(
    Object.entries(sources.auth ?? {})
      .filter(([, entry]) => isRecord(entry) && entry.type === "oauth")
      .map(([id]) => id),
  )
}

/**
 * What brings a provider back after its credential was refused, for `opencode combined`: any change to what it
 * authenticates with.
 */
export function credentialFixes(provider: Pick<OpenCodeProvider, "id"> & { env?: unknown }, signedIn: boolean): string[] {
  const fixes = [`opencode auth login ${provider.id}`]
  const env = stringList(provider.env) ?? []
  if (env.length > 0 && !signedIn) fixes.push(`a new ${env.join(" or ")}`)
  if (!signedIn) fixes.push(`provider.${provider.id}.options.apiKey in opencode.json`)
  return fixes
}
