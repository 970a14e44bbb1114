#!/usr/bin/env bun
/**
 * Fetches the released OpenCode 2 binary the project is tested against (`@opencode/cli-linux-x64` at the version
 * pinned in this package's `package.json`, `opencode.version`) from the npm registry with `npm pack`, into a cache
 * outside the repository (`$OPENCODE2_CACHE` or `~/.cache/opencode-combined-models/opencode2/<version>`). The binary
 * (about 250 MB) is never committed. Prints the binary's path; exits 1 with the reason when it cannot fetch.
 *
 *   bun packages/opencode2/scripts/fetch-binary.ts [--version 2.2.5] [--quiet]
 */
import { ensureBinary, OPENCODE2_VERSION } from "./binary.ts"

const args = process.argv.slice(2)
const at = args.indexOf("--version")
const version = at >= 0 ? args[at + 1] : OPENCODE2_VERSION
if (!version) {
  console.error("fetch-binary: --version needs a value such as 2.2.5")
  process.exit(2)
}
const result = ensureBinary({ version, log: args.includes("--quiet") ? () => {} : (line) => console.error(line) })
if (!result.ok) {
  console.error(`fetch-binary: ${result.reason}`)
  process.exit(1)
}
console.log(result.path)
