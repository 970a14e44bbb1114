/**
 * The failures the simulators send as recorded (`*Recorded` in each wire module) are the bodies kept under
 * test/fixtures/<provider>: the classifier's table and the loopback runs read the same bytes.
 */
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { bedrockRecorded } from "../src/simulator/bedrock-wire.ts"
import { copilotRecorded } from "../src/simulator/copilot-wire.ts"
import { googleRecorded } from "../src/simulator/google-wire.ts"
import { openrouterRecorded } from "../src/simulator/openrouter-wire.ts"
import type { RecordedFailure } from "../src/simulator/types.ts"

const fixture = (path: string) => JSON.parse(readFileSync(join(import.meta.dir, "fixtures", path), "utf8"))

const pairs: [string, RecordedFailure][] = [
  ["github-copilot/model-not-supported.json", copilotRecorded.modelNotSupported],
  ["github-copilot/user-wide-rate-limit.json", copilotRecorded.userWideRateLimit],
  ["amazon-bedrock/access-denied-model.json", bedrockRecorded.accessDeniedModel],
  ["amazon-bedrock/on-demand-not-supported.json", bedrockRecorded.onDemandNotSupported],
  ["openrouter/no-endpoints.json", openrouterRecorded.noEndpoints],
  ["google/per-day-per-model-quota.json", googleRecorded.perDayPerModelQuota],
]

for (const [path, recorded] of pairs) {
  test(`the simulator sends ${path} as recorded`, () => {
    const { status, headers, body } = fixture(path)
    expect(recorded.status).toBe(status)
    expect(recorded.body).toEqual(body)
    // The headers that carry meaning (the error type, the limit hit, the wait) are the fixture's.
    for (const [name, value] of Object.entries(recorded.headers ?? {})) expect(headers[name]).toBe(value)
  })
}
