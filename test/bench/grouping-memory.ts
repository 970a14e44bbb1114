/**
 * Child process of the benchmark: the first grouping pass of a fresh process (what OpenCode pays once at start-up),
 * its time and the memory it takes, measured apart from the parent's own allocations. Input is the catalog as
 * OpenCode's provider state holds it, and the pass is the one the provider hunk runs (`CombinedRuntime.configure`).
 */
import { CombinedRuntime } from "../../packages/opencode1/src/runtime.ts"
import { openCodeProviders } from "./opencode-providers.ts"

const providers = openCodeProviders(JSON.parse(await Bun.file(process.argv[2]!).text()))
Bun.gc(true)
const before = process.memoryUsage()
const start = performance.now()
const { groups } = new CombinedRuntime().configure({ config: {}, providers: providers as never })
const firstPassMs = performance.now() - start
const peak = process.memoryUsage()
Bun.gc(true)
const after = process.memoryUsage()
console.log(
  JSON.stringify({
    groups: groups.length,
    firstPassMs,
    rssBeforeKB: Math.round(before.rss / 1024),
    rssPeakKB: Math.round(peak.rss / 1024),
    rssAfterKB: Math.round(after.rss / 1024),
    maxRssAfterKB: process.resourceUsage().maxRSS,
    heapGrowthKB: Math.round((after.heapUsed - before.heapUsed) / 1024),
  }),
)
