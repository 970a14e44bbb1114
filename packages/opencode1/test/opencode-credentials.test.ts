import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { credentialFingerprint, credentialFixes, oauthProviders } from "../src/credentials.ts"
import { addCombinedProvider } from "../src/provider.ts"
import { CombinedRuntime, resetRuntime, runtime, type OpenCodeProvider } from "../src/runtime.ts"
import { failoverFor, resetSessions, routeStep } from "../src/session.ts"
import { ocModel } from "./opencode-fixtures.ts"

const anthropic = (extra: Partial<OpenCodeProvider> = {}): OpenCodeProvider => ({
  id: "anthropic",
  name: "Anthropic",
  env: ["ANTHROPIC_API_KEY"],
  models: { "claude-sonnet-4-5": ocModel("anthropic", "claude-sonnet-4-5") },
  ...extra,
})
const copilot = (): OpenCodeProvider => ({
  id: "github-copilot",
  name: "GitHub Copilot",
  models: { "claude-sonnet-4.5": ocModel("github-copilot", "claude-sonnet-4.5") },
})

describe("credentialFingerprint", () => {
  test("a short hash that changes with the key wherever it comes from, and never contains it", () => {
    const secret = "sk-ant-api03-very-secret-value"
    const fromEnv = credentialFingerprint(anthropic(), { env: { ANTHROPIC_API_KEY: secret } })!
    expect(fromEnv).toMatch(/^[0-9a-f]{16}$/)
    expect(fromEnv).not.toContain(secret.slice(0, 8))
    expect(credentialFingerprint(anthropic(), { env: { ANTHROPIC_API_KEY: secret } })).toBe(fromEnv)
    expect(credentialFingerprint(anthropic(), { env: { ANTHROPIC_API_KEY: `${secret}2` } })).not.toBe(fromEnv)
    const fromConfig = credentialFingerprint(anthropic({ options: { apiKey: "sk-one" } }))
    expect(fromConfig).not.toBe(credentialFingerprint(anthropic({ options: { apiKey: "sk-two" } })))
    const stored = (key: string) => credentialFingerprint(anthropic(), { auth: { anthropic: { type: "api", key } } })
    expect(stored("sk-one")).not.toBe(stored("sk-two"))
  })

  test("an OAuth sign-in is its refresh token: a refreshed access token is the same credential", () => {
    const signIn = (refresh: string, access: string) =>
      credentialFingerprint(anthropic(), { auth: { anthropic: { type: "oauth", refresh, access, expires: 1 } } })
    expect(signIn("r1", "a1")).toBe(signIn("r1", "a2"))
    expect(signIn("r1", "a1")).not.toBe(signIn("r2", "a1"))
    expect(oauthProviders({ auth: { anthropic: { type: "oauth", refresh: "r", access: "a", expires: 1 }, openai: { type: "api", key: "k" } } })).toEqual(
      new Set(["anthropic"]),
    )
  })

  test("undefined when nothing identifies a credential", () => {
    expect(credentialFingerprint(copilot())).toBeUndefined()
  })

  test("what brings a provider back names the login, its variables and the config key; a sign-in only the login", () => {
    expect(credentialFixes(anthropic(), false)).toEqual([
      "opencode auth login anthropic",
      "a new ANTHROPIC_API_KEY",
      "provider.anthropic.options.apiKey in opencode.json",
    ])
    expect(credentialFixes(anthropic(), true)).toEqual(["opencode auth login anthropic"])
  })
})

describe("a fixed credential brings its provider back", () => {
  const user = (id: string) => ({ id, model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
  const load = (key: string) =>
    addCombinedProvider({
      providers: { anthropic: anthropic(), "github-copilot": copilot() },
      config: { provider_priority: ["anthropic", "github-copilot"] },
      credentials: { env: { ANTHROPIC_API_KEY: key } },
    })
  const unauthorized = Object.assign(new Error("invalid x-api-key"), {
    name: "AI_APICallError",
    statusCode: 401,
    responseBody: '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
  })

  beforeEach(() => {
    resetRuntime(new CombinedRuntime())
    resetSessions()
  })
  afterEach(() => resetRuntime())

  test("a 401 cools anthropic for its key; a new key in the environment routes the next turn to it again", () => {
    load("sk-old")
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover.claims(unauthorized)).toBe(true)
    expect(runtime().view.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, Date.now())?.reason).toBe("auth")

    // Same key (another `opencode run`): still out.
    load("sk-old")
    expect(routeStep("s2", user("u2")).providerID).toBe("github-copilot")
    // The user fixed the key.
    load("sk-new")
    expect(routeStep("s3", user("u3")).providerID).toBe("anthropic")
  })
})
