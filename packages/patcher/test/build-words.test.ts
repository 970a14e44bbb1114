import { expect, test } from "bun:test"
import { buildCopyNote } from "../src/commands/build.ts"

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
