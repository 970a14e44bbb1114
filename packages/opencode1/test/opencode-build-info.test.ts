import { expect, test } from "bun:test"
import { isCombinedBuild, rebuildAdvice } from "../src/build-info.ts"

test("the version a build gets is recognised as a combined-models build; stock and local versions are not", () => {
  // As packages/patcher's combinedVersion makes it.
  expect(isCombinedBuild("1.18.18+combined-models.3f2a9c1d0b7e")).toBe(true)
  for (const stock of ["1.18.18", "local", "0.0.0-dev-202612011200", undefined]) expect(isCombinedBuild(stock)).toBe(false)
})

test("the advice names the release and both commands", () => {
  const advice = rebuildAdvice("v1.18.19")
  expect(advice).toContain("v1.18.19")
  expect(advice).toContain("bun run patch check --opencode")
  expect(advice).toContain("bun run patch build --opencode")
  expect(rebuildAdvice()).toContain("the new release")
})
