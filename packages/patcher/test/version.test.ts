import { expect, test } from "bun:test"
import { binaryBuildEnv, binaryStampOf, combinedVersion, sameBinary } from "../src/commands/prepare.ts"

test("a build's version is the upstream release with the patched branch's tip as build metadata", () => {
  expect(combinedVersion("1.18.18", "3f2a9c1d0b7e5a6f00112233445566778899aabb")).toBe("1.18.18+combined-models.3f2a9c1d0b7e")
})

test("the binary is built on upstream's release channel, so it opens the user's own opencode.db", () => {
  // OpenCode names its database after the build's channel: only latest, beta and prod open opencode.db.
  const env = binaryBuildEnv({ base: { PATH: "/bin", UNSET: undefined }, version: "1.18.18+combined-models.3f2a9c1d0b7e", models: "/x/api.json" })
  expect(env).toEqual({
    PATH: "/bin",
    OPENCODE_VERSION: "1.18.18+combined-models.3f2a9c1d0b7e",
    OPENCODE_CHANNEL: "latest",
    MODELS_DEV_API_JSON: "/x/api.json",
  })
})

test("a build copy whose binary was built on another channel is rebuilt, not reused", () => {
  // A stamp written before the channel was stamped: that binary was built on the combined-models channel.
  expect(sameBinary({ models: "downloaded" }, binaryStampOf(undefined))).toBe(false)
  expect(sameBinary({ models: "downloaded", channel: "combined-models" }, binaryStampOf(undefined))).toBe(false)
  expect(sameBinary(binaryStampOf(undefined), binaryStampOf(undefined))).toBe(true)
  expect(binaryStampOf(undefined)).toEqual({ models: "downloaded", channel: "latest" })
  // No binary asked for, none stamped: the same.
  expect(sameBinary(undefined, undefined)).toBe(true)
})
