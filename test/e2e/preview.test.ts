/**
 * `combined-models groups --config` previews what the patched OpenCode will offer: for the same config and catalog,
 * the combined models it lists are the ones `opencode models combined` lists. Needs OPENCODE_SRC or OPENCODE_PREPARED
 * (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { CATALOG_PATH, createEnv, describeRun, e2e, PRIORITY, REPO_ROOT } from "./harness.ts"

const skip = !e2e.enabled

test.skipIf(skip)("groups --config and the patched opencode models agree on which combined models exist", async () => {
  // OpenCode loads only providers it can call; the preview sees the same four when the config names them.
  await using env = await createEnv({ config: { enabled_providers: [...PRIORITY] } })
  const listed = await env.opencode(["models", "combined"], { timeoutMs: 60_000 })
  expect(listed.code, describeRun(listed)).toBe(0)
  const fromOpenCode = listed.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("combined/"))
    .map((line) => line.slice("combined/".length))
    .sort()
  expect(fromOpenCode).toContain("claude-sonnet-4-5")

  const preview = spawnSync(
    "bun",
    [join(REPO_ROOT, "packages/combined-models/src/cli/main.ts"), "groups", "--catalog", CATALOG_PATH, "--config", env.configPath, "--json"],
    { encoding: "utf8" },
  )
  expect(preview.status, preview.stderr).toBe(0)
  const fromPreview = (JSON.parse(preview.stdout) as { groups: { id: string }[] }).groups.map((group) => group.id).sort()
  expect(fromPreview).toEqual(fromOpenCode)
}, 120_000)

test.skipIf(skip)("groups with no flags previews what the binary lists: the providers it loads, from the catalog it reads", async () => {
  // Keys in the config and the environment, no enabled_providers: OpenCode loads the providers it can call.
  await using env = await createEnv()
  const listed = await env.opencode(["models", "combined"], { timeoutMs: 60_000 })
  expect(listed.code, describeRun(listed)).toBe(0)
  const fromOpenCode = listed.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("combined/"))
    .map((line) => line.slice("combined/".length))
    .sort()
  expect(fromOpenCode).toContain("claude-sonnet-4-5")

  // The same environment (its config, auth store and OPENCODE_MODELS_PATH), no --catalog, no --connected.
  const preview = spawnSync("bun", [join(REPO_ROOT, "packages/combined-models/src/cli/main.ts"), "groups", "--json"], {
    encoding: "utf8",
    cwd: env.project,
    env: env.vars,
  })
  expect(preview.status, preview.stderr).toBe(0)
  expect(preview.stderr).toContain(`catalog: ${CATALOG_PATH} (OpenCode's)`)
  const fromPreview = (JSON.parse(preview.stdout) as { groups: { id: string }[] }).groups.map((group) => group.id).sort()
  expect(fromPreview).toEqual(fromOpenCode)
}, 120_000)
