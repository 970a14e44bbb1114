/** Child process of the benchmark: peak memory of one grouping pass, measured apart from the parent's own. */
import { fromModelsDev } from "../../packages/combined-models/src/catalog.ts"
import { DEFAULTS } from "../../packages/combined-models/src/config.ts"
import { buildGroups } from "../../packages/combined-models/src/grouping.ts"

const raw = JSON.parse(await Bun.file(process.argv[2]!).text())
Bun.gc(true)
const before = process.memoryUsage()
const { groups } = buildGroups(fromModelsDev(raw).providers, DEFAULTS)
Bun.gc(true)
const after = process.memoryUsage()
console.log(
  JSON.stringify({
    groups: groups.length,
    rssBeforeKB: Math.round(before.rss / 1024),
    rssAfterKB: Math.round(after.rss / 1024),
    maxRssAfterKB: process.resourceUsage().maxRSS,
    heapGrowthKB: Math.round((after.heapUsed - before.heapUsed) / 1024),
  }),
)
