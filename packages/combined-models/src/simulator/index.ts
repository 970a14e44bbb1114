/**
 * Loopback provider simulator: fake Anthropic and OpenAI-compatible providers on 127.0.0.1 that answer from a script
 * and fail on cue, so failover can be tested against the real AI SDK clients.
 */
export { startSimulator, type ScriptOptions, type Simulator, type SimulatorOptions } from "./server.ts";
export { faults, FAULT_CATALOG, type FaultCatalogEntry } from "./faults.ts";
export type { FaultPoint, HttpErrorKind, RecordedRequest, SimFault, SimReply, SimStep, StreamErrorKind, Wire } from "./types.ts";
