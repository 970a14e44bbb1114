/**
 * `bun run bench:e2e`: the patched OpenCode against stock v1.18.18, as processes, on one loopback simulator.
 *
 * - Time to finish a turn when the preferred provider (anthropic) fails its first request: 429 with retry-after 30,
 *   a 500, a stream cut mid-answer. Patched runs `combined/claude-sonnet-4-5`; stock runs `anthropic/claude-sonnet-4-5`
 *   (what a stock user picks), so stock can only retry the same provider.
 * - The patched overhead over the ideal: the failed attempt plus the healthy member's own turn time.
 * - `opencode models` start-up, patched vs stock.
 *
 * Both are the artifact users run: binaries built with upstream's `build --single`. Patched: OPENCODE_BINARY,
 * OPENCODE_PREPARED or OPENCODE_SRC (as the e2e tests). Stock: OPENCODE_STOCK_PREPARED, or OPENCODE_SRC built the same
 * way with an empty series. Results go into docs/benchmarks.md between the bench-e2e markers.
 */
import { join } from "node:path"
import { faults, startSimulator, type SimStep } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, e2e, mainRequests, MODEL, prepare, preparedOpencode, REPO_ROOT, scriptMain, type Env } from "./harness.ts"

if (!e2e.enabled) {
  console.error(`bench:e2e needs OpenCode: ${e2e.reason}`)
  process.exit(2)
}
const stockDir =
  process.env.OPENCODE_STOCK_PREPARED ??
  (process.env.OPENCODE_SRC ? prepare({ opencode: process.env.OPENCODE_SRC, flavour: "stock" }) : undefined)
if (!stockDir) {
  console.error("bench:e2e needs a stock copy: OPENCODE_STOCK_PREPARED=<dir with bin/opencode>, or OPENCODE_SRC")
  process.exit(2)
}
const patchedDir = preparedOpencode()
const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 3)
const STOCK_TIMEOUT_MS = 200_000

const sim = await startSimulator()
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const signed = (ms: number) => `${ms >= 0 ? "+" : "−"}${seconds(Math.abs(ms))}`

async function withEnv<T>(prepared: string, body: (env: Env) => Promise<T>): Promise<T> {
  sim.reset()
  const env = await createEnv({ prepared, simulator: sim })
  try {
    return await body(env)
  } finally {
    await env.dispose()
  }
}

type Sample = { ms: number; ok: boolean; answeredBy: string }

/** One turn: anthropic's first main request gets `fault`, everything after is healthy. */
async function turn(prepared: string, model: string, fault: SimStep | undefined): Promise<Sample> {
  return withEnv(prepared, async (env) => {
    if (fault) scriptMain(env.sim, "anthropic", [fault])
    const result = await env.run("Benchmark turn.", { model, timeoutMs: STOCK_TIMEOUT_MS })
    const answeredBy = (["anthropic", "github-copilot", "amazon-bedrock", "openrouter"] as const)
      .filter((id) => mainRequests(env.sim, id).length > 0)
      .join(" → ")
    return { ms: result.elapsedMs, ok: result.code === 0 && !result.timedOut, answeredBy }
  })
}

async function samples(prepared: string, model: string, fault: SimStep | undefined, runs: number): Promise<Sample[]> {
  const out: Sample[] = []
  for (let i = 0; i < runs; i++) out.push(await turn(prepared, model, fault))
  return out
}

const rows: string[] = []
const log = (line: string) => {
  console.log(line)
  rows.push(line)
}

try {
  // Start-up: `opencode models`.
  const startup: Record<"patched" | "stock", number[]> = { patched: [], stock: [] }
  for (let i = 0; i < RUNS; i++) {
    for (const [flavour, dir] of [
      ["stock", stockDir],
      ["patched", patchedDir],
    ] as const) {
      await withEnv(dir, async (env) => {
        const result = await env.opencode(["models"], { timeoutMs: 60_000 })
        if (result.code !== 0) throw new Error(`${flavour} opencode models failed: ${result.output}`)
        startup[flavour].push(result.elapsedMs)
      })
    }
  }

  // Healthy turns: the ideal's second half (the healthy member's own time), on the members that take over.
  const healthyPatched = median((await samples(patchedDir, MODEL, undefined, RUNS)).map((s) => s.ms))
  const healthyStock = median((await samples(stockDir, "anthropic/claude-sonnet-4-5", undefined, RUNS)).map((s) => s.ms))

  log("| failure of the preferred provider | stock v1.18.18 | patched | stock ÷ patched | patched overhead over the ideal |")
  log("|---|---|---|---|---|")
  const scenarios: { name: string; fault: SimStep; failedAttemptMs: number; stockRuns: number }[] = [
    { name: "429, retry-after 30", fault: { fault: faults.rateLimit({ retryAfter: 30 }) }, failedAttemptMs: 0, stockRuns: 1 },
    { name: "500", fault: { fault: faults.serverError() }, failedAttemptMs: 0, stockRuns: RUNS },
    {
      name: "stream cut mid-answer",
      fault: { text: "Half an answer that the network drops", chunkDelayMs: 50, fault: faults.cut("after-text") },
      // Seven words at 50 ms before the cut.
      failedAttemptMs: 7 * 50,
      stockRuns: RUNS,
    },
  ]
  for (const scenario of scenarios) {
    const stock = await samples(stockDir, "anthropic/claude-sonnet-4-5", scenario.fault, scenario.stockRuns)
    const patched = await samples(patchedDir, MODEL, scenario.fault, RUNS)
    const stockMs = median(stock.map((s) => s.ms))
    const patchedMs = median(patched.map((s) => s.ms))
    const ideal = scenario.failedAttemptMs + healthyPatched
    const status = (list: Sample[]) =>
      list.every((s) => s.ok) ? `answered by ${list[0]?.answeredBy}` : `${list.filter((s) => !s.ok).length}/${list.length} failed`
    log(
      `| ${scenario.name} | ${seconds(stockMs)} (${status(stock)}) | ${seconds(patchedMs)} (${status(patched)}) | ` +
        `${(stockMs / patchedMs).toFixed(1)}× | ${signed(patchedMs - ideal)} over ${seconds(ideal)} |`,
    )
  }
  log(`| healthy turn (no failure) | ${seconds(healthyStock)} | ${seconds(healthyPatched)} | ${(healthyStock / healthyPatched).toFixed(2)}× | |`)
  log(
    `| \`opencode models\` start-up | ${seconds(median(startup.stock))} | ${seconds(median(startup.patched))} | ` +
      `${(median(startup.stock) / median(startup.patched)).toFixed(2)}× | ${signed(median(startup.patched) - median(startup.stock))} |`,
  )
} finally {
  await sim.stop()
}

const begin = "<!-- bench-e2e:begin -->"
const end = "<!-- bench-e2e:end -->"
const doc = join(REPO_ROOT, "docs/benchmarks.md")
const text = await Bun.file(doc).text()
const artifact = process.env.COMBINED_MODELS_E2E_SOURCE === "1" ? "source launchers" : "binaries built with upstream's `build --single`"
const block = `${begin}\nMeasured ${new Date().toISOString().slice(0, 10)} on ${artifact} (patched and stock), bun ${Bun.version}, ${navigator.hardwareConcurrency} cores; medians of ${RUNS} runs (stock 429: one run).\n\n${rows.join("\n")}\n${end}`
if (text.includes(begin) && text.includes(end)) await Bun.write(doc, text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), block))
else console.error(`docs/benchmarks.md has no ${begin} … ${end} markers; not written`)
