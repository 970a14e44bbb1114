/**
 * `@opencode-combined-models/opencode1`: what the OpenCode patches call. Each export is used by a hunk of a few lines; the
 * logic lives here, tested in this repository, so the patches stay small and rebase cleanly.
 */
export { CombinedRuntime, PROVIDER_ID, PROVIDER_NAME, resetRuntime, runtime, type OpenCodeModel, type OpenCodeProvider, type SwitchRecord } from "./runtime.ts"
export { failoverFor, guardRetry, hasRoomElsewhere, resetSessions, retriesCompaction, sessionRoute, routeStep, selectionFor, Failover, type Decision, type SettleServices, type StepRoute, type TokensLike, type UserMessageLike } from "./session.ts"
export { measuredRequest } from "./session.ts"
export { addCombinedConfigSchema, combinedConfigIssues, combinedConfigSchemaProperties, type ConfigIssue } from "./config.ts"
export { addCombinedProvider, COMBINED_NPM, combinedModelInfo, combinedProviderInfo, combinedSmallModelProvider, resolveCombinedModel } from "./provider.ts"
export { failoverNotice, isCombined, isFailoverStatus, messageLabel, modelName, RunOutput, runBanner, runFailoverLine, selectionOf, servedLabel, servedMember, type FailoverStatus, type MessageLike, type ModelRef, type ProviderLike, type ProviderList, type RunEventLike, type RunLines, type StatusLike } from "./label.ts"
export { pickerMode, pickerView, shownAsAll, PICKER_MODES, type PickerMode, type PickerView } from "./picker.ts"
export { movedOrder, orderGroupFor, orderRows, writeOrderChange, type OrderChange, type OrderRow } from "./order-view.ts"
export { configFileFor, editConfigFile, withGroupExclude, withGroupPriority, type ConfigEditResult, type ConfigScope } from "./config-edit.ts"
export { combinedEdit, combinedHealthSynced, combinedSessionDetail, combinedStatus, configWarningLines, configWarnings, fallbackDepth, membersOf, renderCombinedStatus, renderSessionDetail, sessionDetail, sessionDetailFromState, type CombinedStatus, type GroupStatus, type MemberHealth, type MemberStatus, type SessionDetail, type SessionMessageLike, type SessionSwitch, type TokensUsage, type UsageRow } from "./command.ts"
export { FailoverToasts, recoveredMember, type Toast } from "./toast.ts"
export { withProviderFinishReason } from "combined-models"
export { historyFor, withoutBrokenThinking, type HistoryMessage, type ModelMessageLike, type RequestTarget } from "./history.ts"
export { BUILD_METADATA, isCombinedBuild, rebuildAdvice } from "./build-info.ts"
export { accountLoginOptions, addAccountProviders, withAccountLoaders } from "./accounts.ts"
