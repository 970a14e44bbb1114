/**
 * A member's credential when OpenCode keeps it outside the provider's settings (an environment variable such as
 * `ANTHROPIC_API_KEY`, or a key stored with `opencode auth login`). OpenCode 2 applies those by the provider's
 * integration when it sends a request, and the combined provider is nobody's integration: its requests would go out
 * without a key. The `http.request` hook adds the member's key, read through `ctx.integration.connection`, in the
 * header the member's wire uses, and only when the request carries none.
 */
import type { ConnectionAccess } from "./api.ts"

/** The header (and its form) each wire reads its API key from. */
export function keyHeader(pkg: string | undefined, key: string): [string, string] | undefined {
  if (!pkg) return undefined
  if (pkg.endsWith("/providers/anthropic")) return ["x-api-key", key]
  if (pkg.endsWith("/providers/google")) return ["x-goog-api-key", key]
  if (pkg.includes("/providers/")) return ["authorization", `Bearer ${key}`]
  return undefined
}

const CREDENTIAL_HEADERS = ["x-api-key", "authorization", "x-goog-api-key", "api-key"]

export function hasCredential(headers: Headers): boolean {
  return CREDENTIAL_HEADERS.some((name) => headers.has(name))
}

/** The API key of an integration's active connection, or undefined (none, or a sign-in that is not a key). */
export async function integrationKey(access: ConnectionAccess | undefined, integrationID: string): Promise<string | undefined> {
  if (!access) return undefined
  const connection = await access.active(integrationID)
  if (!connection) return undefined
  const resolved = await access.resolve(connection)
  return resolved?.type === "key" && typeof resolved.key === "string" && resolved.key !== "" ? resolved.key : undefined
}

/** The request with the member's key added. */
export function withKey(request: Request, header: [string, string]): Request {
  const headers = new Headers(request.headers)
  headers.set(header[0], header[1])
  return new Request(request, { headers })
}
