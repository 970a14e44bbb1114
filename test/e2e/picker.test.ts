/**
 * The model picker as a person sees it, under a private tmux server, with the real catalog fixture and four providers
 * that share Claude Sonnet 4.5: listed once; ctrl+o shows every provider's entry; the entry's description shows a
 * cooling member after a failure. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts) and tmux; otherwise
 * skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, e2e, MODEL, scriptMain } from "./harness.ts"

const hasTmux = spawnSync("tmux", ["-V"]).status === 0
const skip = !e2e.enabled || !hasTmux
const TUI_MS = 150_000

/** Rows of the picker that are a Claude Sonnet 4.5 entry (any provider's spelling), not the session's own lines. */
const sonnetRows = (screen: string) => screen.split("\n").filter((line) => /Claude Sonnet 4\.5(?![\w.]| Thinking)/.test(line) && !/Build ·/.test(line))

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
      tui.send(["Hello"], { literal: true })
      await Bun.sleep(300)
      tui.send(["Enter"])
      await tui.waitFor(/Copilot answered while anthropic cools\./, 60_000)

      tui.send(["/models"], { literal: true })
      await Bun.sleep(500)
      tui.send(["Enter"])
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
