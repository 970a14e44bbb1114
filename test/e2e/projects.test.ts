/**
 * One `opencode serve` holding two projects whose `opencode.json` files reverse `provider_priority`: each project's
 * sessions are served by that project's first provider, whichever project loaded last. Needs OPENCODE_SRC or
 * OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { mkdirSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { spawnSync } from "node:child_process"
import { createEnv, describeRun, e2e, mainRequests, MODEL, scriptMain, type Env, type RunResult } from "./harness.ts"

const skip = !e2e.enabled

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

describe("two projects on one opencode serve", () => {
  let env: Env
  let url: string
  const project = (name: string) => join(env.root, name)
  const runIn = (name: string, message: string): Promise<RunResult> =>
    env.opencode(["run", message, "--model", MODEL, "--attach", url, "--dir", project(name)], { timeoutMs: 60_000 })

  beforeAll(async () => {
    if (skip) return
    // Project config on (the harness turns it off for every other test): each project's opencode.json applies.
    env = await createEnv({ env: { OPENCODE_DISABLE_PROJECT_CONFIG: "0" } })
    const orders = {
      "project-a": ["anthropic", "openrouter", "github-copilot", "amazon-bedrock"],
      "project-b": ["openrouter", "anthropic", "github-copilot", "amazon-bedrock"],
    }
    for (const [name, order] of Object.entries(orders)) {
      mkdirSync(project(name), { recursive: true })
      spawnSync("git", ["init", "-q", project(name)])
      writeFileSync(join(project(name), "opencode.json"), JSON.stringify({ provider_priority: order }, null, 2))
    }
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic for project A." }, { text: "Anthropic for project A again." }])
    scriptMain(env.sim, "openrouter", [{ text: "OpenRouter for project B." }])
    const port = await freePort()
    url = `http://127.0.0.1:${port}`
    // Runs until dispose kills its process group.
    void env.opencode(["serve", "--hostname", "127.0.0.1", "--port", String(port)], { timeoutMs: 600_000 })
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const up = await fetch(`${url}/config`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.ok, () => false)
      if (up) break
      await Bun.sleep(200)
    }
  }, 90_000)
  afterAll(async () => {
    await env?.dispose()
  })

  test.skipIf(skip)(
    "each project's session is served by its own first provider, before and after the other project loads",
    async () => {
      const a1 = await runIn("project-a", "First in A.")
      expect(a1.code, describeRun(a1)).toBe(0)
      expect(a1.stdout).toContain("Anthropic for project A.")

      const b1 = await runIn("project-b", "First in B.")
      expect(b1.code, describeRun(b1)).toBe(0)
      expect(b1.stdout).toContain("OpenRouter for project B.")

      // Project B loaded last; project A still routes by its own order.
      const a2 = await runIn("project-a", "Again in A.")
      expect(a2.code, describeRun(a2)).toBe(0)
      expect(a2.stdout).toContain("Anthropic for project A again.")

      expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)
      expect(mainRequests(env.sim, "openrouter")).toHaveLength(1)
      expect(mainRequests(env.sim, "github-copilot")).toHaveLength(0)
    },
    200_000,
  )
})
