/**
 * The patched binary replaces stock OpenCode (the README installs it over `~/.local/bin/opencode`), so it opens the
 * user's own database, `opencode.db`, where stock OpenCode keeps their sessions: OpenCode names the database after the
 * build's channel, and `patch build` builds on upstream's release channel. Needs OPENCODE_SRC or OPENCODE_PREPARED
 * (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { join } from "node:path"
import { createEnv, describeRun, e2e } from "./harness.ts"

const skip = !e2e.enabled

test.skipIf(skip)("the patched binary opens the user's opencode.db and lists the sessions stock OpenCode kept there", async () => {
  await using env = await createEnv()
  const data = join(env.vars.XDG_DATA_HOME!, "opencode")

  const path = await env.opencode(["db", "path"], { timeoutMs: 30_000 })
  expect(path.code, describeRun(path)).toBe(0)
  expect(path.stdout.trim().split("\n").at(-1)).toBe(join(data, "opencode.db"))

  // A session written to opencode.db (what stock OpenCode, built on the `latest` channel, opens), here by pointing
  // OPENCODE_DB at it; then the binary as installed, with nothing set, lists it.
  const stock = await env.run("Hello from stock OpenCode's database", { env: { OPENCODE_DB: join(data, "opencode.db") } })
  expect(stock.code, describeRun(stock)).toBe(0)
  const written = await env.opencode(["session", "list", "--format", "json"], { env: { OPENCODE_DB: join(data, "opencode.db") } })
  const id = (JSON.parse(written.stdout.slice(written.stdout.indexOf("["))) as { id: string }[])[0]?.id
  expect(id).toBeDefined()
  expect((await env.sessions()).map((session) => session.id)).toContain(id!)
}, 180_000)
