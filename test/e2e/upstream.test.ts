/**
 * Upstream's own tests for what the patches touch, run in the prepared (patched) tree: nothing newly failing against
 * the baseline of docs/upstream-hooks.md §3 (333 pass, 0 fail at the pin). Needs OPENCODE_SRC or OPENCODE_PREPARED
 * whose tree can be found (see `preparedTree`); otherwise skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CATALOG_PATH, e2e, preparedOpencode, preparedTree } from "./harness.ts"

const FILES = [
  "test/session/retry.test.ts",
  "test/session/processor-effect.test.ts",
  "test/session/message-v2.test.ts",
  "test/session/llm.test.ts",
  "test/provider/provider.test.ts",
  "test/config/config.test.ts",
]
const BASELINE_PASS = 333
/** The newest models-api.json blob in upstream's history (hooks §1.1 step 4). */
const MODELS_API_BLOB = "6302a951dd89571490b3501c3ecb38f71aae85d1"

const skip = !e2e.enabled || process.env.COMBINED_MODELS_E2E_UPSTREAM === "0"

/** Writes the models-api.json stand-in into the prepared tree (never into the pristine checkout) when it is absent. */
function ensureModelsApi(tree: string): void {
  const fixture = join(tree, "packages/opencode/test/tool/fixtures/models-api.json")
  if (existsSync(fixture)) return
  const sources = [tree, process.env.OPENCODE_SRC].filter((dir): dir is string => dir !== undefined)
  for (const dir of sources) {
    const blob = spawnSync("git", ["-C", dir, "cat-file", "-p", MODELS_API_BLOB], { maxBuffer: 256 * 1024 * 1024 })
    if (blob.status === 0 && blob.stdout.length > 0) {
      writeFileSync(fixture, blob.stdout)
      return
    }
  }
  // Last resort: the shared catalog has the same shape.
  copyFileSync(CATALOG_PATH, fixture)
}

test.skipIf(skip)(
  "upstream's retry, processor, message-v2, llm, provider and config tests: nothing newly failing",
  () => {
    const tree = preparedTree(preparedOpencode())
    if (!tree) throw new Error(`no OpenCode tree behind ${preparedOpencode()} (set OPENCODE_TREE)`)
    ensureModelsApi(tree)
    const cwd = join(tree, "packages/opencode")
    const result = spawnSync("bun", ["test", "--timeout", "30000", ...FILES], {
      cwd,
      encoding: "utf8",
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
      env: Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "OPENCODE_SRC" && key !== "OPENCODE_PREPARED")),
    })
    const output = `${result.stdout}\n${result.stderr}`
    const count = (word: "pass" | "fail") => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(output)?.[1] ?? Number.NaN)
    const passed = count("pass")
    const failed = count("fail")
    const failures = output
      .split("\n")
      .filter((line) => line.startsWith("(fail)"))
      .join("\n")
    expect(failures, failures).toBe("")
    expect(failed).toBe(0)
    expect(passed).toBeGreaterThanOrEqual(BASELINE_PASS)
    expect(result.status).toBe(0)
  },
  660_000,
)
