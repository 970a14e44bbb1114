import { anthropicWire } from "./anthropic-wire.ts";
import { openaiWire } from "./openai-wire.ts";
import { responsesWire } from "./responses-wire.ts";
import type { RecordedFailure } from "./types.ts";
import type { WireFormat } from "./wire.ts";

/**
 * GitHub Copilot serves three APIs under one base URL, and OpenCode's Copilot plugin picks one per model: Claude
 * models that list `/v1/messages` go to `@ai-sdk/anthropic` (`<base>/v1/messages`), GPT-5 models to OpenCode's
 * `@ai-sdk/github-copilot` Responses model (`<base>/responses`), the rest to its chat model (`<base>/chat/completions`).
 * Each path here answers in its API's own shape; scripts and request logs are shared, as they are one provider.
 */
export const copilotWire: WireFormat = {
  ...openaiWire,
  select(path) {
    if (path === anthropicWire.chatPath) return anthropicWire;
    if (path === responsesWire.chatPath) return responsesWire;
    return undefined;
  },
};

/** Failures Copilot sends as they were sent (test/fixtures/github-copilot holds the same). */
export const copilotRecorded = {
  /** The user's plan does not include this model: the same JSON on every API path. */
  modelNotSupported: {
    status: 400,
    headers: { "content-type": "application/json" },
    body: {
      error: { message: "The requested model is not supported.", code: "model_not_supported", param: "model", type: "invalid_request_error" },
    },
  },
  /** A limit of the user across every model (the 5-hour usage window). */
  userWideRateLimit: {
    status: 429,
    headers: { "retry-after": "7200", "x-ratelimit-exceeded": "global-chat:global-usage-5-hour-key:1a2b3c4d" },
    body: { error: { message: "Sorry, you've exceeded your rate limit. Please review our Terms of Service.", code: "rate_limited" } },
  },
} satisfies Record<string, RecordedFailure>;
