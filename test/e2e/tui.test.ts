/**
 * What a person sees and does: the TUI under a private tmux server (footer after a switch, Esc mid-stream). Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); otherwise skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { assistantMessages, createEnv, e2e, MODEL, mainRequests, scriptMain, textOf } from "./harness.ts"

const hasTmux = spawnSync("tmux", ["-V"]).status === 0
const skip = !e2e.enabled
const TUI_MS = 120_000
const OTHERS = ["github-copilot", "amazon-bedrock", "openrouter"] as const

/** A long, slow answer: about 12 s of streaming, so there is time to interrupt it. */
const slowAnswer = {
  text: Array.from({ length: 60 }, (_, i) => `word${i}`).join(" "),
  chunkDelayMs: 200,
}

test.skipIf(skip || !hasTmux)(
  "TUI: after a switch the footer names the provider that answered",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", Array.from({ length: 4 }, () => ({ fault: faults.rateLimit({ retryAfter: 30 }) })))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot speaking from the TUI." }])

    const tui = await env.tui(["--model", MODEL])
    try {
      await tui.waitFor(/Build/, 60_000)
      tui.send(["Hello from the e2e suite"], { literal: true })
      await Bun.sleep(300)
      tui.send(["Enter"])
      const screen = await tui.waitFor(/Copilot speaking from the TUI\./, 60_000)
      expect(mainRequests(env.sim, "anthropic").length).toBeGreaterThanOrEqual(1)
      expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)
      // The footer follows the serving member once the switch has happened.
      const footer = await tui.waitFor(/\(github-copilot\)/, 10_000).catch(() => screen)
      expect(footer).toContain("(github-copilot)")
    } finally {
      tui.close()
    }
  },
  TUI_MS,
)

test.skipIf(skip || !hasTmux)(
  "TUI: Esc mid-stream aborts the turn and no other member is asked",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", [slowAnswer])

    const tui = await env.tui(["--model", MODEL])
    try {
      await tui.waitFor(/Build/, 60_000)
      tui.send(["Tell me a long story"], { literal: true })
      await Bun.sleep(300)
      tui.send(["Enter"])
      // Some words are on screen: the stream is under way.
      await tui.waitFor(/word[1-9]/, 60_000)
      tui.send(["Escape"])
      await Bun.sleep(300)
      tui.send(["Escape"])
      await Bun.sleep(3_000)
      const sessionID = await env.latestSession()
      await Bun.sleep(2_000)

      for (const id of OTHERS) expect(mainRequests(env.sim, id), id).toHaveLength(0)
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
      const session = await env.exportSession(sessionID)
      const last = assistantMessages(session).at(-1)
      expect(last?.info.providerID).toBe("anthropic")
      expect(last?.info.error?.name).toBe("MessageAbortedError")
      expect(textOf(last!)).not.toContain("word59")
    } finally {
      tui.close()
    }
  },
  TUI_MS,
)

// Not tested through `opencode run`: at the pin it keeps streaming on SIGINT (exit 0 with the whole answer), so the
// user's abort is the TUI's Esc above.
