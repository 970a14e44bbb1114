/**
 * combined-models: one model offered by several providers, behaving as one dependable model. Plain data in,
 * decisions out; nothing here knows OpenCode's internals. The simulator and the AI SDK driver are separate entry
 * points (`combined-models/simulator`, `combined-models/driver`) so the engine itself pulls in no provider SDK.
 */
export * from "./types.ts"
export * from "./config.ts"
export { fromModelsDev, fromOpenCodeProviders, type CatalogProblem, type CatalogResult } from "./catalog.ts"
export { identify, modelIdentity, type IdentityResult, type ModelIdentity } from "./identity.ts"
export { buildGroups, type GroupingProblem, type GroupingResult, type UngroupedModel } from "./grouping.ts"
export { matchesAny, matchesMember } from "./patterns.ts"
export { orderMembers, distinctProviders } from "./priority.ts"
export { classify, type ClassifyContext } from "./classify.ts"
export { CombinedModelsTimeoutError, StreamTruncatedError, type TimeoutPhase } from "./errors.ts"
export { redact, safeHeaders } from "./redact.ts"
export { HealthRegistry, type CooldownEntry, type HealthRegistryOptions, type HealthView } from "./health.ts"
export { createFileHealthStore, createMemoryHealthStore, defaultHealthPath, type HealthStore } from "./health-store.ts"
export { createRedisHealthStore, describeRedisUrl, type RedisHealthStore } from "./health-store-redis.ts"
export { pick, inputWindow, isAllowed, memberKey, refOf, sameMember, type Access, type PickResult, type RouteNeed, type SkippedMember } from "./route.ts"
export {
  initialState,
  transition,
  type Attempt,
  type FailoverAction,
  type FailoverContext,
  type FailoverEvent,
  type FailoverState,
  type StepMode,
  type Transition,
  type TurnState,
} from "./machine.ts"
export { describeFailure, failureSummary, formatDuration, label, remedy, switchNotice, type MemberFailure } from "./label.ts"
// What the OpenCode adapters use beyond the above.
export * from "./status-view.ts"
export { appendSwitch, mergeSwitches, readSwitches, switchesPath } from "./switch-store.ts"
export { type AccountProblem, accountName, accountsOf, plannedAccounts } from "./accounts.ts"
export { StepEdge, type StreamPart, withProviderFinishReason } from "./edge.ts"
export { AllMembersOutError } from "./errors.ts"
export { singleModelGroup } from "./grouping.ts"
export { recordOutcomes, type CooldownScope } from "./health.ts"
export { type Headroom, type LimitReading, type LimitSource, LimitsTable, type LimitsView, type StepSize, findReading, placeReading, readingOf } from "./limits.ts"
export { isRecord, stringList } from "./record.ts"
export { fileLimitsView, LIMITS_FILE_VERSION, limitsPath, readLimitsFile, peekRotation, rotationPath, SharedLimits, takeRotation, withLimitsReading, writeLimitsReading } from "./limits-store.ts"
export { ordered, parseModelRef, providerCooldowns, usableWindow } from "./route.ts"
export { readStateFile, settleStateFiles, stateFilePath, takeStateFileNotices, updateStateFile } from "./state-file.ts"
export { INTERRUPTED_TOOL_RESULT, type ToolRun, ToolRuns } from "./tool-runs.ts"
export { memberFetch } from "./wires/index.ts"
// The OpenCode 2 plugin reads a Bedrock ConverseStream frame by frame (its stream guard holds frames back).
export { decodeFrames, EventStreamFrameError, type DecodedFrame } from "./wires/aws-event-stream.ts"
export { BedrockStreamException, bedrockFrameException } from "./wires/bedrock.ts"
