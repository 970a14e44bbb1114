/**
 * The plugin's RPC, the one channel between its server part and its TUI part (OpenCode 2 serves plugin RPCs at
 * `POST /api/rpc/<id>/<method>` and their events on the event stream, as its own `/goal` plugin does). Shared by
 * both entries: the server registers handlers (`ctx.rpc.register`), the TUI calls them (`ctx.client.rpc`).
 *
 * OpenCode validates a method's input and output with the schema given here: an Effect schema or any Standard Schema
 * (`~standard.validate`). The payloads are plain JSON this plugin builds itself, so the schemas only check the shape
 * of what comes in from outside (a session id, a steering request).
 */

/** A Standard Schema (v1) that accepts what `check` accepts, with `message` for what it refuses. */
function schema<T>(check: (value: unknown) => value is T, message: string) {
  return {
    "~standard": {
      version: 1 as const,
      vendor: "combined-models",
      validate: (value: unknown) => (check(value) ? { value } : { issues: [{ message }] }),
    },
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)
const anything = (value: unknown): value is unknown => value !== undefined
const sessionInput = (value: unknown): value is { sessionID?: string } =>
  value === null || value === undefined || (isRecord(value) && (value.sessionID === undefined || typeof value.sessionID === "string"))

export interface SteerInput {
  /** `combined/<id>` or `<id>`. */
  group: string
  action: "priority" | "exclude" | "include"
  /** Provider ids: the new order (priority), or the providers to exclude / include again. */
  providers: string[]
}

const pickerInput = (value: unknown): value is { mode: "combined" | "all" } => isRecord(value) && (value.mode === "combined" || value.mode === "all")

const steerInput = (value: unknown): value is SteerInput =>
  isRecord(value) &&
  typeof value.group === "string" &&
  (value.action === "priority" || value.action === "exclude" || value.action === "include") &&
  Array.isArray(value.providers) &&
  value.providers.every((p) => typeof p === "string")

/** What the footer shows for a session. */
export interface FooterState {
  /** `Claude Sonnet 4.5 (github-copilot)`: the member that served the session's latest step; absent before one. */
  label?: string
  /** The latest switch of this session: `anthropic rate-limited, retry in 30 s → github-copilot`. */
  notice?: string
  /** When the switch happened, epoch ms: the TUI shows the notice for a while after. */
  noticeAt?: number
}

export const RPC_ID = "combined-models"

export const CombinedRpc = {
  id: RPC_ID,
  methods: {
    /** The status view as text (`text`) and as data (`status`): no model is called. */
    status: { input: schema(sessionInput, "expected { sessionID? }"), output: schema(anything, "expected a status") },
    /** The footer's state for one session. */
    footer: { input: schema(sessionInput, "expected { sessionID }"), output: schema(anything, "expected a footer state") },
    /** Reorder, exclude or include a member of a combined model, written to the plugin's options in the config file. */
    steer: {
      input: schema(steerInput, 'expected { group, action: "priority" | "exclude" | "include", providers: string[] }'),
      output: schema(anything, "expected a steering result"),
    },
    /** The model list: `combined` lists a model several providers serve once, `all` every provider's entry too. */
    picker: { input: schema(pickerInput, 'expected { mode: "combined" | "all" }'), output: schema(anything, "expected a picker result") },
  },
  events: {
    /** A session's footer state changed (a step was served, or a switch happened). */
    changed: { schema: schema(isRecord, "expected { sessionID, footer }") },
  },
}
