import { expect, test } from "bun:test"
import { identify, modelIdentity } from "../src/identity.ts"
import { describeWithCatalog, fixtureModel } from "./catalog-fixture.ts"

const keyOf = (ref: string) => modelIdentity(fixtureModel(ref))?.key

/** Every spelling here must reach the key: real ids from the 2026-07-02 catalog. */
const SAME_MODEL: Record<string, string[]> = {
  "claude-sonnet-4-5": [
    "anthropic/claude-sonnet-4-5-20250929",
    "anthropic/claude-sonnet-4-5",
    "github-copilot/claude-sonnet-4.5",
    "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon-bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon-bedrock/jp.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "openrouter/anthropic/claude-sonnet-4.5",
    "google-vertex-anthropic/claude-sonnet-4-5@20250929",
    "databricks/databricks-claude-sonnet-4-5",
    "digitalocean/anthropic-claude-4.5-sonnet",
    "sap-ai-core/anthropic--claude-4.5-sonnet",
    "helicone/claude-4.5-sonnet",
  ],
  "claude-sonnet-4-6": [
    "anthropic/claude-sonnet-4-6",
    "google-vertex/claude-sonnet-4-6@default",
    "amazon-bedrock/au.anthropic.claude-sonnet-4-6",
    "venice/claude-sonnet-4-6",
  ],
  "claude-sonnet-4": ["anthropic/claude-sonnet-4-0", "anthropic/claude-sonnet-4-20250514", "google-vertex/claude-sonnet-4@20250514"],
  "claude-opus-4-6": ["amazon-bedrock/anthropic.claude-opus-4-6-v1", "amazon-bedrock/eu.anthropic.claude-opus-4-6-v1"],
  "claude-opus-4-1": ["anthropic/claude-opus-4-1", "amazon-bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0"],
  "claude-haiku-4-5": ["anthropic/claude-haiku-4-5", "amazon-bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0"],
  "kimi-k2-6": [
    "fireworks-ai/accounts/fireworks/models/kimi-k2p6",
    "kimi-for-coding/k2p6",
    "venice/kimi-k2-6",
    "moonshotai/kimi-k2.6",
  ],
  "kimi-k2-5": ["venice/kimi-k2-5", "amazon-bedrock/moonshotai.kimi-k2.5", "alibaba-cn/kimi/kimi-k2.5"],
  "glm-5-1": ["fireworks-ai/accounts/fireworks/models/glm-5p1", "venice/zai-org-glm-5-1", "zai/glm-5.1"],
  "glm-4-7": ["amazon-bedrock/zai.glm-4.7", "venice/zai-org-glm-4.7", "zai/glm-4.7"],
  "gpt-5-4": ["venice/openai-gpt-54", "openai/gpt-5.4", "amazon-bedrock/openai.gpt-5.4"],
  "gpt-5-2-codex": ["venice/openai-gpt-52-codex", "openai/gpt-5.2-codex"],
  "minimax-m2-5": ["venice/minimax-m25", "amazon-bedrock/minimax.minimax-m2.5"],
  "deepseek-r1": ["amazon-bedrock/deepseek.r1-v1:0", "amazon-bedrock/us.deepseek.r1-v1:0", "azure/deepseek-r1"],
  "deepseek-v3-1": ["google-vertex/deepseek-ai/deepseek-v3.1-maas", "azure/deepseek-v3.1", "alibaba-cn/deepseek-v3-1"],
  "deepseek-v3-0324": ["azure/deepseek-v3-0324"],
  "gpt-oss-120b": ["amazon-bedrock/openai.gpt-oss-120b-1:0", "amazon-bedrock/openai.gpt-oss-120b"],
  "llama-3-3-70b-instruct": ["huggingface/meta-llama/Llama-3.3-70B-Instruct"],
  "qwen3-5-397b-a17b": ["venice/qwen3-5-397b-a17b", "llmgateway/qwen35-397b-a17b"],
  "gemini-2-5-pro": ["google/gemini-2.5-pro", "github-copilot/gemini-2.5-pro", "openrouter/google/gemini-2.5-pro"],
}

/** Pairs that must never share a key. */
const DIFFERENT_MODELS: [string, string][] = [
  ["openai/gpt-4o", "openai/gpt-4o-mini"],
  ["openai/gpt-5", "openai/gpt-5-mini"],
  ["openai/gpt-5", "openai/gpt-5-nano"],
  ["openai/gpt-5", "openai/gpt-5-pro"],
  ["openai/gpt-5", "openai/gpt-5.1"],
  ["openai/gpt-5", "openai/gpt-5-codex"],
  ["openai/gpt-5.1", "openai/gpt-5.1-codex"],
  ["openai/gpt-5.1-codex", "openai/gpt-5.1-codex-mini"],
  ["openai/gpt-5.1-codex", "openai/gpt-5.1-codex-max"],
  ["openai/gpt-5.3-codex", "openai/gpt-5.3-codex-spark"],
  ["anthropic/claude-sonnet-4-20250514", "anthropic/claude-sonnet-4-5"],
  ["anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-6"],
  ["anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"],
  ["anthropic/claude-sonnet-4-5", "anthropic/claude-opus-4-5"],
  ["anthropic/claude-opus-4-1", "anthropic/claude-opus-4-5"],
  ["302ai/claude-sonnet-4-5", "302ai/claude-sonnet-4-5-20250929-thinking"],
  ["venice/claude-opus-4-7", "venice/claude-opus-4-7-fast"],
  ["moonshotai/kimi-k2.5", "moonshotai/kimi-k2.6"],
  ["moonshotai/kimi-k2-thinking", "moonshotai/kimi-k2-0905-preview"],
  ["zai/glm-5", "zai/glm-5.1"],
  ["zai/glm-4.6", "zai/glm-4.6v"],
  ["zai/glm-4.7", "zai/glm-4.7-flash"],
  ["zai/glm-4.7-flash", "zai/glm-4.7-flashx"],
  ["zai/glm-5", "zai/glm-5-turbo"],
  ["google/gemini-2.5-flash", "google/gemini-2.5-flash-lite"],
  ["google/gemini-2.5-flash", "google/gemini-2.5-flash-image"],
  ["google/gemini-2.5-pro", "kilo/google/gemini-2.5-pro-preview-05-06"],
  ["google/gemini-2.5-pro", "google/gemini-2.5-pro-preview-tts"],
  ["google/gemini-3.1-pro-preview", "google/gemini-3.1-pro-preview-customtools"],
  ["azure/deepseek-v3.2", "azure/deepseek-v3.2-speciale"],
  ["helicone/deepseek-v3.1-terminus", "azure/deepseek-v3.1"],
  ["alibaba-cn/deepseek-r1", "alibaba-cn/deepseek-r1-distill-qwen-32b"],
  ["alibaba-cn/deepseek-r1", "alibaba-cn/deepseek-r1-0528"],
  ["amazon-bedrock/openai.gpt-oss-120b", "amazon-bedrock/openai.gpt-oss-safeguard-120b"],
  ["azure/grok-4-1-fast-reasoning", "azure/grok-4-1-fast-non-reasoning"],
  ["alibaba-cn/deepseek-v3-2-exp", "azure/deepseek-v3.2"],
  ["openai/gpt-4o", "openai/gpt-4o-2024-05-13"],
]

/** No automatic identity: moving aliases, free tiers, TEE and quantised builds, disagreeing names. */
const UNGROUPED = [
  "openai/gpt-5-chat-latest",
  "deepseek/deepseek-chat",
  "deepseek/deepseek-reasoner",
  "kilo/~anthropic/claude-sonnet-latest",
  "nano-gpt/TEE/glm-5.1",
  "chutes/deepseek-ai/DeepSeek-V3.2-TEE",
  "kilo/kilo-auto/balanced",
  "databricks/databricks-claude-sonnet-4",
  "amazon-bedrock/deepseek.v3-v1:0",
  "venice/qwen-3-6-plus",
  "nano-gpt/claude-sonnet-4-thinking:1024",
]

describeWithCatalog("modelIdentity: spellings of one model", () => {
  for (const [key, refs] of Object.entries(SAME_MODEL))
    test(key, () => {
      for (const ref of refs) expect({ ref, key: keyOf(ref) }).toEqual({ ref, key })
    })
})

describeWithCatalog("modelIdentity: never merge different models", () => {
  for (const [a, b] of DIFFERENT_MODELS)
    test(`${a} ≠ ${b}`, () => {
      const keyA = keyOf(a)
      const keyB = keyOf(b)
      expect(keyA).toBeDefined()
      expect(keyB).toBeDefined()
      expect(keyA).not.toBe(keyB)
    })
})

describeWithCatalog("modelIdentity: left to the user", () => {
  for (const ref of UNGROUPED)
    test(ref, () => {
      const result = identify(fixtureModel(ref))
      expect(result.ok).toBe(false)
      if (!result.ok) expect(result.reason.length).toBeGreaterThan(10)
    })
})

describeWithCatalog("dated snapshots", () => {
  test("Anthropic's dated id is the model: the date is dropped", () => {
    expect(modelIdentity(fixtureModel("anthropic/claude-sonnet-4-5-20250929"))).toMatchObject({ key: "claude-sonnet-4-5" })
    expect(modelIdentity(fixtureModel("anthropic/claude-sonnet-4-5-20250929"))?.snapshot).toBeUndefined()
  })
  test("other vendors keep the date and name the alias; grouping decides", () => {
    expect(modelIdentity(fixtureModel("openai/gpt-4o-2024-05-13"))).toMatchObject({
      key: "gpt-4o-2024-05-13",
      snapshot: { base: "gpt-4o", date: "2024-05-13" },
    })
    expect(modelIdentity(fixtureModel("openrouter/openai/gpt-4o-mini-2024-07-18"))).toMatchObject({
      snapshot: { base: "gpt-4o-mini", date: "2024-07-18" },
    })
  })
  test("a date inside a variant id stays in place", () => {
    expect(keyOf("302ai/claude-sonnet-4-5-20250929-thinking")).toBe("claude-sonnet-4-5-thinking")
  })
})

describeWithCatalog("details and synthetic ids", () => {
  const model = (providerID: string, modelID: string, name = modelID) => ({ providerID, modelID, name })
  test("detail says what was removed", () => {
    const identity = modelIdentity(model("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5 (US)"))
    expect(identity?.detail).toContain('region profile "us."')
    expect(identity?.detail).toContain('vendor "anthropic."')
    expect(identity?.detail).toContain('suffix "-v1:0"')
  })
  test("case and separators do not matter", () => {
    expect(modelIdentity(model("a", "Kimi-K2.6", "Kimi K2.6"))?.key).toBe("kimi-k2-6")
    expect(modelIdentity(model("b", "GLM-4.7", "GLM 4.7"))?.key).toBe("glm-4-7")
    expect(modelIdentity(model("c", "hf:zai-org/GLM-4.7", "GLM 4.7"))?.key).toBe("glm-4-7")
    expect(modelIdentity(model("d", "@cf/meta/llama-3.3-70b-instruct", "Llama 3.3 70B Instruct"))?.key).toBe("llama-3-3-70b-instruct")
  })
  test("Copilot's claude-opus-41 is 4.1", () => {
    expect(modelIdentity(model("github-copilot", "claude-opus-41", "Claude Opus 4.1"))?.key).toBe("claude-opus-4-1")
  })
  test("quantised and free builds are ambiguous", () => {
    for (const id of ["deepseek-v3-fp8", "glm-4.6:free", "Meta-Llama-3.1-8B-Instruct-Turbo", "qwen3-32b-awq"])
      expect(modelIdentity(model("x", id, id))).toBeUndefined()
  })
})
