import { expect, test } from "bun:test"
import { formatDuration, parseDuration } from "../src/duration.ts"

test("one parser for config values, Go-style durations from headers and bodies, and Gemini's retryDelay", () => {
  const cases: [string | number, number | undefined][] = [
    ["250ms", 250],
    ["30s", 30_000],
    ["30 s", 30_000],
    ["5m", 300_000],
    ["6h", 21_600_000],
    ["1d", 86_400_000],
    ["6m0s", 360_000],
    ["2m59.56s", 179_560],
    ["1h2m3s", 3_723_000],
    ["1s500ms", 1_500],
    ["17s", 17_000],
    [1500, 1500],
    ["soon", undefined],
    ["5 minutes", undefined],
    ["", undefined],
    ["-5s", undefined],
    ["3s2m", undefined],
    ["1s1s", undefined],
    [-1, undefined],
    [Number.NaN, undefined],
  ]
  for (const [input, expected] of cases) expect([input, parseDuration(input)]).toEqual([input, expected])
})

test("one formatter for everything a person reads", () => {
  expect([300, 1_500, 30_000, 120_000, 5_400_000, Number.POSITIVE_INFINITY].map(formatDuration)).toEqual([
    "0.3 s",
    "1.5 s",
    "30 s",
    "2 min",
    "1 h 30 min",
    "until re-authenticated",
  ])
})
