import { expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildCopyNote, earlierSessionsNote } from "../src/commands/build.ts"

test("a build ends by saying where its large copy is kept and how to remove it", () => {
  const installed = buildCopyNote("/home/u/.cache/opencode-combined-models/build", { installed: true })
  expect(installed).toBe(
    "The build copy is kept in /home/u/.cache/opencode-combined-models/build (about 2.6 GB: the next build reuses it). " +
      "To free the space: rm -rf /home/u/.cache/opencode-combined-models/build",
  )
  const kept = buildCopyNote("/tmp/my build", { installed: false })
  expect(kept).toContain("the binary is /tmp/my build/bin/opencode")
  expect(kept).toContain("rm -rf '/tmp/my build' (after copying the binary out)")
})

test("a build says where an earlier build's sessions are, when there are any", () => {
  const data = mkdtempSync(join(tmpdir(), "build-words-"))
  try {
    expect(earlierSessionsNote({ XDG_DATA_HOME: data })).toBeUndefined()
    mkdirSync(join(data, "opencode"))
    writeFileSync(join(data, "opencode", "opencode-combined-models.db"), "")
    expect(earlierSessionsNote({ XDG_DATA_HOME: data })).toBe(
      `Sessions: this binary opens OpenCode's own ${join(data, "opencode", "opencode.db")}, as stock OpenCode does. ` +
        `Sessions from an earlier combined-models build are in ${join(data, "opencode", "opencode-combined-models.db")}: ` +
        "OPENCODE_DB=opencode-combined-models.db opencode session list",
    )
  } finally {
    rmSync(data, { recursive: true, force: true })
  }
})
