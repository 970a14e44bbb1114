/**
 * The provider order in the user's hands from the command line: `opencode combined priority|exclude` write the
 * project's opencode.jsonc (comments kept), the next turn follows it, `opencode combined` says where the order comes
 * from; `opencode models --combined` lists each model once while `opencode models` keeps listing every one. Needs
 * OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { startSimulator } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, mainRequests, opencodeConfig, PRIORITY, scriptMain, WIRES } from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 120_000

test.skipIf(skip)(
  "opencode combined priority: the project's file keeps its comments, the next turn asks the new first provider",
  async () => {
    await using env = await createEnv({ env: { OPENCODE_DISABLE_PROJECT_CONFIG: "0" } })
    const file = join(env.project, "opencode.jsonc")
    writeFileSync(file, `{\n  // This project's settings; the team edits them by hand too.\n  "share": "disabled", // no sharing here\n}\n`)
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot first, as the project now says." }])

    const before = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(before.code, describeRun(before)).toBe(0)
    expect(before.stdout).toContain("combined/claude-sonnet-4-5  Claude Sonnet 4.5  (order: provider_priority, then alphabetical)")

    const set = await env.opencode(["combined", "priority", "claude-sonnet-4-5", "github-copilot", "anthropic"], { timeoutMs: 60_000 })
    expect(set.code, describeRun(set)).toBe(0)
    expect(set.stdout).toContain(`now tries github-copilot → anthropic first (written to ${file})`)
    const text = readFileSync(file, "utf8")
    expect(text).toContain("// This project's settings; the team edits them by hand too.")
    expect(text).toContain("// no sharing here")

    const refused = await env.opencode(["combined", "priority", "claude-sonnet-4-5", "nope"], { timeoutMs: 60_000 })
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toContain('nope is not a provider of "claude-sonnet-4-5"')
    expect(readFileSync(file, "utf8")).toBe(text)

    const after = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(after.stdout).toContain("(order: combined_models.groups.claude-sonnet-4-5.priority)")
    expect(after.stdout).toMatch(/1\. github-copilot\/claude-sonnet-4\.5/)

    const run = await env.run("Who goes first?", { timeoutMs: 60_000 })
    expect(run.code, describeRun(run)).toBe(0)
    expect(run.stdout).toContain("Copilot first, as the project now says.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(0)

    const excluded = await env.opencode(["combined", "exclude", "claude-sonnet-4-5", "openrouter"], { timeoutMs: 60_000 })
    expect(excluded.code, describeRun(excluded)).toBe(0)
    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.stdout).not.toContain("openrouter/anthropic/claude-sonnet-4.5")
  },
  TURN_MS * 2,
)

test.skipIf(skip)(
  "opencode models --combined lists each model once; opencode models still lists every one",
  async () => {
    await using env = await createEnv()
    const all = await env.opencode(["models"], { timeoutMs: 60_000 })
    expect(all.code, describeRun(all)).toBe(0)
    const combined = await env.opencode(["models", "--combined"], { timeoutMs: 60_000 })
    expect(combined.code, describeRun(combined)).toBe(0)
    const lines = (out: string) => out.split("\n").map((line) => line.trim()).filter(Boolean)
    expect(lines(all.stdout)).toContain("anthropic/claude-sonnet-4-5")
    expect(lines(all.stdout)).toContain("combined/claude-sonnet-4-5")
    expect(lines(combined.stdout)).toContain("combined/claude-sonnet-4-5")
    expect(lines(combined.stdout)).not.toContain("anthropic/claude-sonnet-4-5")
    expect(lines(combined.stdout)).not.toContain("github-copilot/claude-sonnet-4.5")
    // Fewer lines, and every line of the short list is in the full one.
    expect(lines(combined.stdout).length).toBeLessThan(lines(all.stdout).length)
    for (const line of lines(combined.stdout)) expect(lines(all.stdout)).toContain(line)
  },
  TURN_MS,
)

test.skipIf(skip)(
  'strategy "cost": the cheapest provider by the prices OpenCode loaded serves first, and opencode combined says why',
  async () => {
    // The user's own price for OpenRouter's Sonnet (a negotiated rate, say) makes it the cheapest.
    const sim = await startSimulator()
    for (const id of PRIORITY) sim.addProvider(id, WIRES[id])
    const base = opencodeConfig(sim).provider as Record<string, Record<string, unknown>>
    const provider = { ...base, openrouter: { ...base.openrouter, models: { "anthropic/claude-sonnet-4.5": { cost: { input: 1, output: 5 } } } } }
    await using env = await createEnv({ simulator: sim, config: { combined_models: { strategy: "cost" }, provider } })
    await using _sim = { [Symbol.asyncDispose]: () => sim.stop() }
    scriptMain(env.sim, "openrouter", [{ text: "OpenRouter, the cheapest." }])
    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.code, describeRun(status)).toBe(0)
    expect(status.stdout).toContain("(order: strategy cost: cheapest first, then priority)")
    expect(status.stdout).toMatch(/1\. openrouter\/anthropic\/claude-sonnet-4\.5/)
    const run = await env.run("Cheapest, please.", { timeoutMs: 60_000 })
    expect(run.code, describeRun(run)).toBe(0)
    expect(run.stdout).toContain("OpenRouter, the cheapest.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(0)
  },
  TURN_MS,
)
