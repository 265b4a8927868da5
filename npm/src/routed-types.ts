/**
 * The shapes the routed client answers with: OpenAI's chat completion and
 * chunk, as the `openai` SDK types them (written out here: `openai` is an
 * optional peer dependency, and these are all a caller reads).
 */

export interface ChatCompletionToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  refusal?: string | null;
  tool_calls?: ChatCompletionToolCall[];
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  /** The model that served the call, as its provider named it. */
  model: string;
  choices: {
    index: number;
    message: ChatCompletionMessage;
    finish_reason: "stop" | "length" | "tool_calls" | "content_filter" | "function_call" | null;
    logprobs?: unknown;
  }[];
  usage?: CompletionUsage;
  [field: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: "assistant";
      content?: string | null;
      tool_calls?: { index: number; id?: string; type?: "function"; function?: { name?: string; arguments?: string } }[];
    };
    finish_reason: "stop" | "length" | "tool_calls" | "content_filter" | "function_call" | null;
  }[];
  /** Only when the request set `stream_options: { include_usage: true }` (the last chunk, `choices: []`). */
  usage?: CompletionUsage | null;
  [field: string]: unknown;
}
