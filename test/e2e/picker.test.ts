/**
 * The model picker as a person sees it, under a private tmux server, with the real catalog fixture and four providers
 * that share Claude Sonnet 4.5: listed once; ctrl+o shows every provider's entry; the entry's description shows a
 * cooling member after a failure. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts) and tmux; otherwise
 * skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, e2e, MODEL, scriptMain, type Tui } from "./harness.ts"

const hasTmux = spawnSync("tmux", ["-V"]).status === 0
const skip = !e2e.enabled || !hasTmux
const TUI_MS = 150_000

/** Rows of the picker that are a Claude Sonnet 4.5 entry (any provider's spelling), not the session's own lines. */
const sonnetRows = (screen: string) => screen.split("\n").filter((line) => /Claude Sonnet 4\.5(?![\w.]| Thinking)/.test(line) && !/Build ·/.test(line))

/** Type a message and send it, as a person does. */
async function say(tui: Tui, text: string) {
  tui.send([text], { literal: true })
  await Bun.sleep(300)
  tui.send(["Enter"])
}

test.skipIf(skip)(
  "TUI picker: Claude Sonnet 4.5 once; ctrl+o shows every provider's; the entry says a member is cooling",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", Array.from({ length: 4 }, () => ({ fault: faults.rateLimit({ retryAfter: 600 }) })))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot answered while anthropic cools." }])

    const tui = await env.tui(["--model", MODEL], { width: 160, height: 50 })
    try {
      await tui.waitFor(/Build/, 60_000)
      // A turn first, so anthropic is cooling when the picker opens.
      await say(tui, "Hello")
      await tui.waitFor(/Copilot answered while anthropic cools\./, 60_000)

      await say(tui, "/models")
      await tui.waitFor(/Select model/, 20_000)
      await Bun.sleep(500)
      tui.send(["sonnet 4.5"], { literal: true })
      // Searching: the sections are gone and the combined entry has its description.
      const combined = await tui.waitFor((screen) => /providers ·/.test(screen) && !/Recent/.test(screen), 20_000)
      console.log(`picker, combined:\n${combined}`)
      expect(sonnetRows(combined)).toHaveLength(1)
      expect(combined).toMatch(/4 providers · anthropic cooling \d+ min → github-co/)

      tui.send(["C-o"])
      const all = await tui.waitFor((screen) => sonnetRows(screen).length > 1, 20_000)
      console.log(`picker, all variants:\n${all}`)
      // Anthropic's alias and dated id, Copilot's, OpenRouter's and Bedrock's regions, each under its provider.
      expect(sonnetRows(all).length).toBeGreaterThanOrEqual(5)
      for (const provider of ["Anthropic", "GitHub Copilot", "Amazon Bedrock", "OpenRouter"]) expect(all).toContain(provider)
    } finally {
      tui.close()
    }
  },
  TUI_MS,
)

test.skipIf(skip)(
  "TUI /combined → o: moving github-copilot up writes the project's file (comments kept) and the next turn follows it",
  async () => {
    const { readFileSync, writeFileSync } = await import("node:fs")
    const { join } = await import("node:path")
    const { mainRequests } = await import("./harness.ts")
    await using env = await createEnv({ env: { OPENCODE_DISABLE_PROJECT_CONFIG: "0" } })
    const file = join(env.project, "opencode.jsonc")
    writeFileSync(file, `{\n  // Edited by hand and from the TUI.\n  "share": "disabled",\n}\n`)
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic answered first." }])
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot answers now." }])

    const tui = await env.tui(["--model", MODEL], { width: 160, height: 50 })
    try {
      await tui.waitFor(/Build/, 60_000)
      await say(tui, "Hello")
      await tui.waitFor(/Anthropic answered first\./, 60_000)

      await say(tui, "/combined")
      await tui.waitFor(/change the provider order/, 20_000)
      tui.send(["o"], { literal: true })
      await tui.waitFor(/Provider order: claude-sonnet-4-5/, 20_000)
      await tui.waitFor(/2\. github-copilot/, 10_000)
      tui.send(["Down"])
      await Bun.sleep(300)
      tui.send(["S-Up"])
      const moved = await tui.waitFor(/1\. github-copilot/, 30_000)
      console.log(`order view after the move:\n${moved}`)
      tui.send(["Escape"])
      await Bun.sleep(500)

      const text = readFileSync(file, "utf8")
      expect(text).toContain("// Edited by hand and from the TUI.")
      expect(text).toMatch(/"claude-sonnet-4-5": \{\s+"priority": \[\s+"github-copilot",\s+"anthropic"/)

      await say(tui, "And now?")
      await tui.waitFor(/Copilot answers now\./, 60_000)
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
      expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)
    } finally {
      tui.close()
    }
  },
  TUI_MS,
)
