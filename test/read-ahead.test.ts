/** Limits read ahead, through the real Anthropic and OpenAI-compatible SDKs against a budgeted simulator. */
import { expect, test } from "bun:test"
import { readAheadSession } from "./read-ahead.ts"

test("without read-ahead the budgeted provider refuses steps; with it, none, and it serves again after each reset", async () => {
  const without = await readAheadSession({ readAhead: false })
  const ahead = await readAheadSession({ readAhead: true })
  expect(without.refusals).toBeGreaterThan(0)
  expect(ahead.refusals).toBe(0)
  expect(ahead.movedAhead).toBeGreaterThan(0)
  expect(ahead.cameBack).toBeGreaterThan(0)
  // The budget is spent, not wasted: anthropic still serves most of what its allowance holds.
  expect(ahead.servedBy.anthropic).toBeGreaterThanOrEqual(without.servedBy.anthropic ?? 0)
  expect((ahead.servedBy.anthropic ?? 0) + (ahead.servedBy["github-copilot"] ?? 0)).toBe(ahead.turns)
}, 60_000)

test("each turn a new session: what every request carries (system prompt, tools) is counted, so none is refused and the allowance is still spent", async () => {
  const without = await readAheadSession({ readAhead: false, newSessions: true })
  const ahead = await readAheadSession({ readAhead: true, newSessions: true })
  expect(without.refusals).toBeGreaterThan(0)
  expect(ahead.refusals).toBe(0)
  expect(ahead.movedAhead).toBeGreaterThan(0)
  expect(ahead.servedBy.anthropic).toBeGreaterThanOrEqual(without.servedBy.anthropic ?? 0)
}, 60_000)
