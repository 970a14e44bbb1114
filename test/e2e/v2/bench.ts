#!/usr/bin/env bun
/**
 * `bun run bench:v2`: the OpenCode 2 plugin measured as whole processes on the released binary (the pinned version,
 * fetched like the e2e tests), each `opencode run --standalone` start-up included, all in one run on one machine:
 *
 * - a healthy turn with the plugin (`combined/claude-sonnet-4-5`) against plain OpenCode 2 without it
 *   (`anthropic/claude-sonnet-4-5`); target ≤ 1.05×;
 * - a turn whose first member fails (a 429 from Anthropic, served by OpenRouter in the same step) against a healthy
 *   turn with the plugin; target ≤ 1.1×.
 *
 * Runs are interleaved (one of each kind per round) so load on the machine falls on all kinds alike; medians are
 * reported. `--rounds N` (default 7). Rewrites the table between the `bench-v2` markers of docs/benchmarks.md with
 * `--write`.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { faults } from "../../../packages/combined-models/src/simulator/index.ts"
import { OPENCODE2_VERSION } from "../../../packages/opencode2/scripts/binary.ts"
import { REPO_ROOT, skipReason, v2Env, withTools, type V2Env } from "./harness.ts"

if (skipReason) {
  console.error(`bench:v2: ${skipReason}`)
  process.exit(1)
}

const args = process.argv.slice(2)
const at = args.indexOf("--rounds")
const rounds = at >= 0 ? Number(args[at + 1]) : 7

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function timed(env: V2Env, model: string, expected: string): Promise<number> {
  const result = await env.run("say hi", { model })
  if (result.exitCode !== 0 || result.texts.join("") !== expected)
    throw new Error(`bench:v2: a run did not answer as expected (exit ${result.exitCode}, ${JSON.stringify(result.texts)}): ${result.stderr.slice(-400)}`)
  return result.ms
}

const plain = await v2Env({ plugin: false })
const plugin = await v2Env()
// A 429 with a short Retry-After is retried on the same member first by default (retries_before_failover): 0 measures
// the move to the next member itself.
const failing = await v2Env({ options: { combined_models: { retries_before_failover: 0 } } })
const times = { plain: [] as number[], plugin: [] as number[], failing: [] as number[] }
try {
  // One warm-up each: the first process of a fresh HOME creates OpenCode's database.
  await timed(plain, "anthropic/claude-sonnet-4-5", "Hello from anthropic.")
  await timed(plugin, "combined/claude-sonnet-4-5", "Hello from anthropic.")
  for (let round = 0; round < rounds; round++) {
    times.plain.push(await timed(plain, "anthropic/claude-sonnet-4-5", "Hello from anthropic."))
    times.plugin.push(await timed(plugin, "combined/claude-sonnet-4-5", "Hello from anthropic."))
    // A fresh cooldown each round: the 429's Retry-After is 1 s, long gone by the next round's run.
    failing.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 1 }) }], { match: withTools })
    await Bun.sleep(1200)
    times.failing.push(await timed(failing, "combined/claude-sonnet-4-5", "Hello from openrouter."))
    console.error(`round ${round + 1}/${rounds}: plain ${times.plain.at(-1)} ms, plugin ${times.plugin.at(-1)} ms, first member fails ${times.failing.at(-1)} ms`)
  }
} finally {
  await plain[Symbol.asyncDispose]()
  await plugin[Symbol.asyncDispose]()
  await failing[Symbol.asyncDispose]()
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const m = { plain: median(times.plain), plugin: median(times.plugin), failing: median(times.failing) }
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on @opencode/cli-linux-x64 ${OPENCODE2_VERSION}, bun ${Bun.version}, ${navigator.hardwareConcurrency} cores; whole \`opencode run --standalone\` processes, medians of ${rounds} interleaved rounds.`,
  "",
  "| turn | time | ratio | target |",
  "|---|---|---|---|",
  `| plain OpenCode 2, healthy (\`anthropic/claude-sonnet-4-5\`, no plugin) | ${s(m.plain)} | | |`,
  `| with the plugin, healthy (\`combined/claude-sonnet-4-5\`, served by anthropic) | ${s(m.plugin)} | ${(m.plugin / m.plain).toFixed(2)}× plain | ≤ 1.05× |`,
  `| with the plugin, the first member fails (429 from anthropic, served by openrouter in the same step) | ${s(m.failing)} | ${(m.failing / m.plugin).toFixed(2)}× healthy | ≤ 1.1× |`,
].join("\n")
console.log(table)

if (args.includes("--write")) {
  const file = join(REPO_ROOT, "docs/benchmarks.md")
  const text = readFileSync(file, "utf8")
  const begin = "<!-- bench-v2:begin -->"
  const end = "<!-- bench-v2:end -->"
  if (!text.includes(begin)) throw new Error(`bench:v2: no ${begin} marker in docs/benchmarks.md`)
  writeFileSync(file, text.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), `${begin}\n${table}\n${end}`))
}
