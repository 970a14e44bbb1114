/**
 * Stickiness that outlives the process: `opencode run -c` is a process of its own, so what the serving process kept in
 * memory is gone; the session's own messages say which member served last and when. Needs OPENCODE_SRC or
 * OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, lastAssistant, mainRequests, scriptMain } from "./harness.ts"

const skip = !e2e.enabled

for (const sticky of ["session", { window: "15m" }] as const) {
  test.skipIf(skip)(
    `sticky ${JSON.stringify(sticky)}: \`opencode run -c\` in a new process stays on the member that served the session`,
    async () => {
      await using env = await createEnv({ config: { provider_priority: ["anthropic", "github-copilot"], combined_models: { sticky } } })
      scriptMain(env.sim, "anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }, { text: "Anthropic, back at the top." }])
      scriptMain(env.sim, "github-copilot", [{ text: "Copilot took over." }, { text: "Copilot, still holding the cache." }])

      const first = await env.run("Start something.", { timeoutMs: 90_000 })
      expect(first.code, describeRun(first)).toBe(0)
      expect(first.stdout).toContain("Copilot took over.")
      // Anthropic's cooldown has ended (here: the health file is gone); it is healthy and first in the order again.
      rmSync(join(env.vars.XDG_STATE_HOME!, "opencode", "combined-models", "health.json"), { force: true })

      const second = await env.run("Go on.", { timeoutMs: 90_000, extra: ["-c"] })
      expect(second.code, describeRun(second)).toBe(0)
      expect(second.stdout).toContain("Copilot, still holding the cache.")
      // One request to Anthropic in all: the 429 of the first turn.
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
      const session = await env.exportSession(await env.latestSession())
      expect(lastAssistant(session).info.providerID).toBe("github-copilot")
    },
    240_000,
  )
}
