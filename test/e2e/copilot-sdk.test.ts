/**
 * The fault matrix through OpenCode's own Copilot SDK (`@ai-sdk/github-copilot`, `packages/core/src/github-copilot`
 * at the pin): chat for most models, Responses for GPT-5 ones. It is not on npm, so it is loaded from a prepared
 * OpenCode tree (`OPENCODE_SRC`, or `OPENCODE_PREPARED`); without one the matrix is skipped by name.
 */
import { test } from "bun:test"
import { join } from "node:path"
import type { LanguageModelV3 } from "@ai-sdk/provider"
import { fetchForSdk } from "../../packages/combined-models/src/wires/index.ts"
import { faultMatrix } from "../fault-matrix.ts"
import { prepare, preparedTree } from "./harness.ts"

type CopilotSdk = (options: { name: string; baseURL: string; apiKey: string; fetch?: typeof fetch }) => {
  chat(id: string): LanguageModelV3
  responses(id: string): LanguageModelV3
}

function copilotTree(): string | undefined {
  if (process.env.OPENCODE_SRC) return preparedTree(prepare({ opencode: process.env.OPENCODE_SRC, artifact: "source" }))
  if (process.env.OPENCODE_PREPARED) return preparedTree(process.env.OPENCODE_PREPARED)
  return undefined
}

const tree = copilotTree()
if (!tree) {
  test.skip("fault matrix through OpenCode's Copilot SDK (needs OPENCODE_SRC or OPENCODE_PREPARED)", () => {})
} else {
  const { createOpenaiCompatible } = (await import(join(tree, "packages/core/src/github-copilot/copilot-provider.ts"))) as {
    createOpenaiCompatible: CopilotSdk
  }
  faultMatrix({
    label: "OpenCode's Copilot SDK",
    wires: ["openai", "responses"],
    primary: "github-copilot",
    // Copilot serves chat and Responses under one base URL.
    simWire: "copilot",
    model: (member, baseURL, wire, fetch) => {
      // The member fetch OpenCode's adapter installs on Copilot (timeouts, and the watcher that surfaces
      // response.failed, since the provider's models use @ai-sdk/github-copilot).
      const sdk = createOpenaiCompatible({ name: "github-copilot", baseURL, apiKey: "gho-matrix", fetch: fetchForSdk("@ai-sdk/github-copilot", fetch) })
      return wire === "responses" ? sdk.responses(member.modelID) : sdk.chat(member.modelID)
    },
    overrides: {
      // Copilot's bare 403 is its known transient, on Responses as on chat: a short cooldown, not "sign in again".
      "forbidden-403": { decision: "switch", reason: "rate_limit" },
    },
  })
}
