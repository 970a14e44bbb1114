/** OpenCode's provider state as plain data, for the adapter's tests (shapes: docs/upstream-hooks.md §2.b). */
import type { OpenCodeProvider } from "../src/runtime.ts"

/** A model exactly as OpenCode's `Provider.Model` holds it after its filter loop (hooks §2.b). */
export function ocModel(providerID: string, id: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    providerID,
    api: { id, url: `https://${providerID}.example/v1`, npm: "@ai-sdk/anthropic" },
    name: "Claude Sonnet 4.5",
    family: "claude-sonnet",
    capabilities: {
      temperature: true,
      reasoning: true,
      attachment: true,
      toolcall: true,
      input: { text: true, audio: false, image: true, video: false, pdf: true },
      output: { text: true, audio: false, image: false, video: false, pdf: false },
      interleaved: false,
    },
    cost: { input: 3, output: 15, cache: { read: 0.3, write: 3.75 } },
    limit: { context: 200_000, output: 64_000 },
    status: "active",
    options: {},
    headers: {},
    release_date: "2025-09-29",
    variants: { high: { thinking: { budgetTokens: 16_000 } }, max: { thinking: { budgetTokens: 32_000 } } },
    ...overrides,
  }
}

export type OcModel = ReturnType<typeof ocModel>

export function ocProvider(id: string, name: string, models: OcModel[]): OpenCodeProvider & { models: Record<string, OcModel> } {
  return {
    id,
    name,
    source: "config",
    env: [],
    options: {},
    models: Object.fromEntries(models.map((model) => [model.id, model])),
  }
}
