/**
 * One process of the state-file test: from `startAt`, takes `turns` round_robin turns, appends as many provider
 * switches and writes as many rate-limit readings, all through the state-file writer as OpenCode does, then waits for
 * the writer and exits.
 * argv: <state dir> <index> <turns> <start epoch ms>
 */
import { limitsPath, rotationPath, takeRotation, writeLimitsReading } from "../../src/limits-store.ts"
import { appendSwitch, switchesPath } from "../../src/switch-store.ts"
import { readingOf } from "../../src/limits.ts"
import { settleStateFiles } from "../../src/state-file.ts"

const [stateDir, indexText, turnsText, startText] = process.argv.slice(2)
const index = Number(indexText)
const turns = Number(turnsText)
while (Date.now() < Number(startText)) await Bun.sleep(1)

for (let turn = 0; turn < turns; turn++) {
  takeRotation(rotationPath(stateDir!), "claude-sonnet-4-5")
  appendSwitch(
    switchesPath(stateDir!),
    {
      at: Date.now(),
      sessionID: `ses_${index}_${turn}`,
      groupID: "claude-sonnet-4-5",
      from: { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      to: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
      reason: "rate_limit",
      notice: "anthropic rate-limited → github-copilot",
    },
    100_000,
  )
  // One allowance per process: every process's last reading must be in the file.
  const source = { providerID: `p${index}`, modelID: "m" }
  writeLimitsReading(limitsPath(stateDir!), source, readingOf(source, { "x-ratelimit-remaining-tokens": String(turn), "x-ratelimit-reset-tokens": "60s" }, Date.now()))
  // Between turns the event loop runs, as between OpenCode's steps: the writer drains in the background.
  if (turn % 7 === 0) await Bun.sleep(Math.random() * 5)
}
await settleStateFiles()
process.exit(0)
