import { anthropicWire } from "./anthropic-wire.ts";
import { listen, type Exchange, type IncomingRequest } from "./http.ts";
import { openaiWire } from "./openai-wire.ts";
import { bedrockWire } from "./bedrock-wire.ts";
import { openrouterWire } from "./openrouter-wire.ts";
import { responsesWire } from "./responses-wire.ts";
import { googleWire } from "./google-wire.ts";
import { copilotWire } from "./copilot-wire.ts";
import type { HttpErrorKind, RecordedRequest, SimFault, SimReply, SimStep, StreamErrorKind, Wire } from "./types.ts";
import type { Chunk, ResponseContext, SignatureBinding, WireFormat } from "./wire.ts";
import { isRecord } from "../record.ts";

export type SimulatorOptions = {
  /** 0 (default) picks a free port. */
  port?: number;
};

export type Simulator = AsyncDisposable & {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Serves a simulated provider under `/<id>/v1/...`. Adding an existing id again changes its wire. */
  addProvider(id: string, wire: Wire): void;
  /** The baseURL to give @ai-sdk/anthropic or @ai-sdk/openai-compatible: `http://127.0.0.1:PORT/<id>/v1`. */
  baseURL(id: string): string;
  /**
   * Queues responses; each chat request consumes one step. An empty queue answers `Hello from <id>.`
   * With `match`, these steps are served only to requests the predicate accepts (for example only requests that carry
   * `tools`, so OpenCode's title call does not consume a scripted fault); other requests take the first queued step
   * without a predicate, or the default answer.
   */
  script(id: string, steps: readonly SimStep[], options?: ScriptOptions): void;
  /** Steps queued and not yet consumed. */
  pending(id: string): number;
  /** Requests received by the provider, oldest first. */
  requests(id: string): RecordedRequest[];
  /** Responses still being served, hangs included: 0 once every aborted client has been cleaned up. */
  inFlight(): number;
  /**
   * A token budget per window, as a provider's rate limit: each request spends its input tokens and its answer's; a
   * request that does not fit what is left is refused with the wire's 429 and a Retry-After until the window resets,
   * and every response carries the wire's rate-limit headers (remaining, limit, reset).
   */
  budget(id: string, budget: SimBudget): void;
  /**
   * What this provider binds thinking signatures to: `"model"` (default, as the real APIs: an alias and its dated id
   * share), or `"id"`, the exact model id of the request, so reasoning the engine judges the same model's is refused.
   */
  bindSignatures(id: string, binding: SignatureBinding): void;
  /** The 429s a budget refused, per provider. */
  refusals(id: string): number;
  /** Forgets queued steps and recorded requests; providers stay. */
  reset(): void;
  /** Closes every connection, hanging ones included, and the listener. Safe to call twice. */
  stop(): Promise<void>;
};

export type ScriptOptions = {
  /** Only requests for which this returns true consume these steps. */
  match?: (request: RecordedRequest) => boolean;
};

const wires: Record<Wire, WireFormat> = { anthropic: anthropicWire, openai: openaiWire, openrouter: openrouterWire, bedrock: bedrockWire, responses: responsesWire, google: googleWire, copilot: copilotWire };

// Credentials are never recorded, so request logs can be printed and committed.
const secretHeaders = new Set(["authorization", "x-api-key", "proxy-authorization", "api-key", "cookie", "x-goog-api-key"]);

const streamErrorAsHttp: Record<StreamErrorKind, { status: number; error: HttpErrorKind }> = {
  overloaded: { status: 529, error: "overloaded" },
  server_error: { status: 500, error: "server_error" },
  rate_limit: { status: 429, error: "rate_limit" },
};

const TOOL_RUN_GRACE_MS = 30;

type Queued = { step: SimStep; match: ((request: RecordedRequest) => boolean) | undefined };
type Provider = { wire: Wire; queue: Queued[]; requests: RecordedRequest[]; budget?: BudgetState; refused: number; signatures?: SignatureBinding };

export type SimBudget = {
  /** Tokens per window. */
  tokens: number;
  /** Window length (default 60 s), counted from the first request of each window. */
  windowMs?: number;
  /** What `Date.now()` is for the budget (tests move it). */
  clock?: () => number;
};
type BudgetState = SimBudget & { used: number; windowStart?: number };

/** The rate-limit headers of a budget, named as the wire's API names them. */
function budgetHeaders(wire: Wire, budget: BudgetState, now: number): Record<string, string> {
  const resetAt = (budget.windowStart ?? now) + (budget.windowMs ?? 60_000);
  const remaining = String(Math.max(0, budget.tokens - budget.used));
  if (wire === "anthropic")
    return {
      "anthropic-ratelimit-tokens-limit": String(budget.tokens),
      "anthropic-ratelimit-tokens-remaining": remaining,
      "anthropic-ratelimit-tokens-reset": new Date(resetAt).toISOString(),
    };
  const seconds = Math.max(0, Math.ceil((resetAt - now) / 1000));
  return { "x-ratelimit-limit-tokens": String(budget.tokens), "x-ratelimit-remaining-tokens": remaining, "x-ratelimit-reset-tokens": `${seconds}s` };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const providers = new Map<string, Provider>();
  let seq = 0;
  let inFlight = 0;
  let stopped: Promise<void> | undefined;

  const server = listen({
    port: options.port ?? 0,
    handler: async (request, exchange) => {
      inFlight++;
      try {
        await handle(request, exchange);
      } finally {
        inFlight--;
      }
    },
  });
  const url = `http://127.0.0.1:${server.port}`;

  function provider(id: string): Provider {
    const found = providers.get(id);
    if (!found) throw new Error(`simulator: unknown provider "${id}" (added: ${[...providers.keys()].join(", ") || "none"})`);
    return found;
  }

  async function handle(req: IncomingRequest, res: Exchange): Promise<void> {
    const path = new URL(req.target, url).pathname;
    const [, rawId = "", ...rest] = path.split("/");
    const id = decodeURIComponent(rawId);
    const target = providers.get(id);
    const rawBody = req.body;
    if (!target) {
      return sendJson(res, 404, { error: { message: `simulator: no provider "${id}"`, type: "not_found_error" } });
    }
    const body = parseJson(rawBody);
    // Accept `/<id>/v1/<route>` and, leniently, `/<id>/<route>`.
    const route = (rest[0] === "v1" ? rest.slice(1) : rest).join("/");
    const wire = wires[target.wire].select?.(route) ?? wires[target.wire];
    const routed = wire.route?.(route);
    const model = routed?.model ?? (isRecord(body) && typeof body.model === "string" ? body.model : undefined);
    const stream = routed?.stream ?? (isRecord(body) && body.stream === true);
    const recorded: RecordedRequest = { method: req.method, path, body, model, stream, headers: recordableHeaders(req.headers), time: Date.now() };
    target.requests.push(recorded);

    if (req.method === "GET" && route === "models") return sendJson(res, 200, wire.models());
    if (req.method !== "POST" || (wire.route ? routed === undefined : route !== wire.chatPath)) {
      return sendJson(res, 404, wire.errorBody("not_found", `simulator: ${target.wire} provider "${id}" has no ${req.method} /${route}`));
    }
    if (rawBody.length > 0 && body === undefined) {
      return sendJson(res, 400, wire.errorBody("invalid_request", "simulator: request body is not JSON"));
    }

    const context: ResponseContext = {
      providerId: id,
      model: model ?? "unknown-model",
      seq: ++seq,
      inputTokens: Math.max(1, Math.ceil(rawBody.length / 4)),
      ...(target.signatures ? { signatures: target.signatures } : {}),
    };
    // Refused as the real API refuses it, before any scripted step is used up.
    const rejected = wire.rejects?.(body, context);
    if (rejected !== undefined) return sendJson(res, 400, wire.errorBody("invalid_request", rejected), wire.errorHeaders?.("invalid_request", context));
    const step = take(target.queue, recorded);
    const reply = replyFor(step, id);
    const budget = target.budget;
    let limitHeaders: Record<string, string> = {};
    if (budget) {
      const now = (budget.clock ?? Date.now)();
      if (budget.windowStart === undefined || now >= budget.windowStart + (budget.windowMs ?? 60_000)) {
        budget.windowStart = now;
        budget.used = 0;
      }
      const cost = context.inputTokens + outputTokensOf(reply);
      if (budget.used + cost > budget.tokens) {
        target.refused++;
        const retryAfterSeconds = Math.max(1, Math.ceil((budget.windowStart + (budget.windowMs ?? 60_000) - now) / 1000));
        const { status, headers, body: errorBody } = wire.httpError({ kind: "http-error", status: 429, error: "rate_limit", retryAfterSeconds }, context);
        return sendJson(res, status, errorBody, { ...headers, ...budgetHeaders(target.wire, budget, now) });
      }
      budget.used += cost;
      limitHeaders = budgetHeaders(target.wire, budget, now);
    }
    if (stream) await respondStream({ res, wire, reply, fault: step.fault, context, headers: limitHeaders });
    else await respondMessage({ res, wire, reply, fault: step.fault, context, headers: limitHeaders });
  }

  const simulator: Simulator = {
    url,
    port: server.port,
    addProvider(id, wire) {
      if (id.length === 0 || id.includes("/")) throw new Error(`simulator: provider id "${id}" must be a non-empty path segment`);
      const existing = providers.get(id);
      if (existing) existing.wire = wire;
      else providers.set(id, { wire, queue: [], requests: [], refused: 0 });
    },
    baseURL(id) {
      provider(id);
      return `${url}/${encodeURIComponent(id)}/v1`;
    },
    script(id, steps, options) {
      // Copies, so a test mutating its array later does not change what is served.
      provider(id).queue.push(...steps.map((step) => ({ step: structuredClone(step), match: options?.match })));
    },
    bindSignatures(id, binding) {
      provider(id).signatures = binding;
    },
    pending(id) {
      return provider(id).queue.length;
    },
    requests(id) {
      return [...provider(id).requests];
    },
    inFlight() {
      return inFlight;
    },
    budget(id, budget) {
      provider(id).budget = { ...budget, used: 0 };
    },
    refusals(id) {
      return provider(id).refused;
    },
    reset() {
      for (const entry of providers.values()) {
        entry.queue.length = 0;
        entry.requests.length = 0;
      }
    },
    stop() {
      // Closes hanging connections too, which ends their handlers.
      stopped ??= server.stop();
      return stopped;
    },
    [Symbol.asyncDispose]() {
      return simulator.stop();
    },
  };
  return simulator;
}

/** Removes and returns the first queued step this request may consume; steps without a predicate take any request. */
function take(queue: Queued[], request: RecordedRequest): SimStep {
  const index = queue.findIndex((entry) => entry.match === undefined || entry.match(request));
  if (index === -1) return {};
  const [entry] = queue.splice(index, 1);
  return entry?.step ?? {};
}

/** The reply actually served: an empty step is the default healthy answer, and "after-text" faults need some text. */
function replyFor(step: SimStep, id: string): SimReply {
  const { fault: _fault, ...reply } = step;
  const hasContent = reply.text !== undefined || reply.reasoning !== undefined || reply.toolCall !== undefined;
  const needsText = step.fault !== undefined && "at" in step.fault && step.fault.at === "after-text" && reply.text === undefined;
  return hasContent && !needsText ? reply : { ...reply, text: `Hello from ${id}.` };
}

type Responder = {
  res: Exchange;
  wire: WireFormat;
  reply: SimReply;
  fault: SimFault | undefined;
  context: ResponseContext;
  /** Sent with a successful answer (a budget's rate-limit headers). */
  headers?: Record<string, string>;
};

/** What an answer's tokens cost a budget: a word a token, as the wires count the answer's output. */
function outputTokensOf(reply: SimReply): number {
  return Math.max(1, (reply.text ?? "").split(/\s+/).filter(Boolean).length + (reply.toolCall ? 10 : 0));
}

async function respondStream({ res, wire, reply, fault, context, headers = {} }: Responder): Promise<void> {
  if (fault?.kind === "http-error") return sendError(res, wire, fault, context);
  if (fault?.kind === "recorded") return sendJson(res, fault.failure.status, fault.failure.body, fault.failure.headers);
  if ((fault?.kind === "cut" || fault?.kind === "hang") && fault.at === "before-first-byte") return strike(res, fault);

  const plan = wire.streamPlan(reply, context);
  res.writeHead(200, { ...headers, "content-type": wire.streamContentType ?? "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  if (fault?.kind === "stream-error" && fault.at === "first-event") {
    await write(res, wire.streamError(fault.error, context));
    return res.end();
  }
  for (const event of plan.metadata) await write(res, event);
  if (fault && "at" in fault && fault.at === "after-metadata") return strike(res, fault);

  for (const event of plan.content) {
    await sleep(reply.chunkDelayMs ?? 0, res.gone);
    if (res.gone.aborted) return;
    await write(res, event);
  }
  if (fault && "at" in fault && fault.at === "after-text") {
    if (fault.kind === "stream-error") {
      await write(res, wire.streamError(fault.error, context));
      return res.end();
    }
    return strike(res, fault);
  }

  for (const event of plan.toolCall) await write(res, event);
  if (fault && "at" in fault && fault.at === "after-tool-call") {
    // Give the client time to run the tool it was just handed: the fault must land after the tool completed.
    await sleep(reply.toolRunMs ?? TOOL_RUN_GRACE_MS, res.gone);
    if (fault.kind === "stream-error") {
      await write(res, wire.streamError(fault.error, context));
      return res.end();
    }
    return strike(res, fault);
  }

  for (const event of plan.finish) {
    await sleep(reply.chunkDelayMs ?? 0, res.gone);
    if (res.gone.aborted) return;
    await write(res, event);
  }
  res.end();
}

async function respondMessage({ res, wire, reply, fault, context, headers = {} }: Responder): Promise<void> {
  if (fault?.kind === "http-error") return sendError(res, wire, fault, context);
  if (fault?.kind === "recorded") return sendJson(res, fault.failure.status, fault.failure.body, fault.failure.headers);
  // Without a stream an in-stream error has nowhere to go: the real APIs answer with the HTTP status instead.
  if (fault?.kind === "stream-error") return sendError(res, wire, { kind: "http-error", ...streamErrorAsHttp[fault.error] }, context);
  const json = JSON.stringify(wire.message(reply, context));
  if (fault === undefined) {
    await sleep(reply.chunkDelayMs ?? 0, res.gone);
    return sendJson(res, 200, json, headers);
  }
  if (fault.at === "before-first-byte") return strike(res, fault);
  // Faults later in a JSON answer: headers and half the body, then the fault.
  res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
  await write(res, json.slice(0, Math.floor(json.length / 2)));
  return strike(res, fault);
}

/** Ends a response with a cut, a hang or a truncation. */
async function strike(res: Exchange, fault: Extract<SimFault, { kind: "cut" | "hang" | "truncate" | "stream-error" }>) {
  switch (fault.kind) {
    case "cut":
      // Give the client time to read what was sent: if the close arrives together with the text, Bun's fetch fails
      // the whole response and the client never sees the text that a real mid-stream cut leaves it with.
      if (res.headersSent) await sleep(10, res.gone);
      res.cut();
      return;
    case "hang":
      // Silence until the client aborts or the simulator stops; both close the socket and fire `gone`.
      await untilAborted(res.gone);
      return;
    case "truncate":
    case "stream-error":
      res.end();
      return;
  }
}

function sendError(res: Exchange, wire: WireFormat, fault: Extract<SimFault, { kind: "http-error" }>, context: ResponseContext) {
  const { status, headers, body } = wire.httpError(fault, context);
  sendJson(res, status, body, headers);
}

function sendJson(res: Exchange, status: number, body: unknown, headers: Record<string, string> = {}) {
  const json = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
  res.end(json);
}

function write(res: Exchange, chunk: Chunk): Promise<void> {
  return res.write(chunk);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function recordableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !secretHeaders.has(name)));
}
