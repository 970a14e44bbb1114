/**
 * A config warning (a typo in `provider_priority`) where the user looks: first in `opencode combined`, ahead of its
 * long list, and on stderr of `opencode models` (stdout stays the list scripts read), worded as the docs show it.
 * Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { createEnv, describeRun, e2e } from "./harness.ts"

const skip = !e2e.enabled
const TYPO = 'warning: provider_priority[1]: provider "bedrok" is not configured; it is ignored. Configured providers: '

test.skipIf(skip)("a provider_priority typo is the first thing opencode combined says, and opencode models says it on stderr", async () => {
  await using env = await createEnv({ config: { provider_priority: ["anthropic", "bedrok", "github-copilot"] } })

  const combined = await env.opencode(["combined"], { timeoutMs: 60_000 })
  expect(combined.code, describeRun(combined)).toBe(0)
  expect(combined.stdout.startsWith(TYPO), combined.stdout.slice(0, 400)).toBe(true)
  expect(combined.stdout.split(TYPO)).toHaveLength(2)

  const models = await env.opencode(["models"], { timeoutMs: 60_000 })
  expect(models.code, describeRun(models)).toBe(0)
  expect(models.stderr).toContain(TYPO)
  expect(models.stdout).not.toContain("warning")
  expect(models.stdout).toContain("combined/claude-sonnet-4-5")
}, 120_000)
