/**
 * Loopback provider simulator: providers on 127.0.0.1 that speak the real wires (Anthropic Messages, chat
 * completions, OpenRouter, OpenAI Responses, Bedrock ConverseStream, Gemini, and Copilot's three APIs), answer from a
 * script and fail on cue, so failover can be tested against the providers' real AI SDK clients.
 */
export { startSimulator, type ScriptOptions, type SimBudget, type Simulator, type SimulatorOptions } from "./server.ts";
export { faults, FAULT_CATALOG, MODEL_REFUSALS, type CatalogWire, type FaultCatalogEntry } from "./faults.ts";
export type { FaultPoint, HttpErrorKind, RecordedRequest, SimFault, SimReply, SimStep, StreamErrorKind, Wire } from "./types.ts";
