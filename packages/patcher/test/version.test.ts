import { expect, test } from "bun:test"
import { combinedVersion } from "../src/commands/prepare.ts"

test("a build's version is the upstream release with the patched branch's tip as build metadata", () => {
  expect(combinedVersion("1.18.18", "3f2a9c1d0b7e5a6f00112233445566778899aabb")).toBe("1.18.18+combined-models.3f2a9c1d0b7e")
})
