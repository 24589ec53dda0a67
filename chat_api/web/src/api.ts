// Calls to the chat service. Every failure becomes an ApiError with a message a person can act on.

import { readEvents } from "./sse";
import type {
  ChatResponse,
  ContentBlock,
  Health,
  Mode,
  ResourceList,
  ServersReport,
  ToolCallResponse,
  ToolList,
} from "./types";

export class ApiError extends Error {
  /** HTTP status, or 0 when the chat service could not be reached at all. */
  readonly status: number;
  /** The service's stable error code (`mcp_unavailable`, `llm_unreachable`, ...) or `network`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

async function errorFrom(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = `The chat service answered ${response.status} ${response.statusText}.`.replace(" .", ".");
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") {
      const record = body as Record<string, unknown>;
      if (typeof record.error === "string") code = record.error;
      if (typeof record.message === "string") message = record.message;
      else if (Array.isArray(record.detail)) message = `The request was invalid: ${JSON.stringify(record.detail)}`;
    }
  } catch {
    // Not JSON: the status line says enough.
  }
  return new ApiError(response.status, code, message);
}

async function send(path: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "The chat service cannot be reached. Is it running?");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await send(path, init);
  return (await response.json()) as T;
}

function postJson(body: unknown, signal?: AbortSignal): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal };
}

/** GET /health; a 503 (MCP server not connected) still carries the health document. */
export async function getHealth(): Promise<Health> {
  let response: Response;
  try {
    response = await fetch("/health");
  } catch {
    throw new ApiError(0, "network", "The chat service cannot be reached. Is it running?");
  }
  if (response.ok || response.status === 503) {
    try {
      return (await response.json()) as Health;
    } catch {
      // fall through to the error below
    }
  }
  throw await errorFrom(response);
}

export function listTools(): Promise<ToolList> {
  return getJson<ToolList>("/mcp/tools");
}

export function listResources(): Promise<ResourceList> {
  return getJson<ResourceList>("/mcp/resources");
}

export function getServers(): Promise<ServersReport> {
  return getJson<ServersReport>("/mcp/servers");
}

export function callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolCallResponse> {
  return getJson<ToolCallResponse>(`/mcp/tools/${encodeURIComponent(name)}/call`, postJson({ arguments: args }, signal));
}

/** What POST /chat/stream sends, one event at a time. */
export type ChatEvent =
  | { type: "start"; conversation_id: string; mode: Mode | null }
  | { type: "text_delta"; text: string }
  | { type: "tool_call_started"; id: string; name: string; server: string | null; arguments: unknown }
  | {
      type: "tool_call_progress";
      id: string;
      name: string;
      server: string | null;
      progress: number;
      total: number | null;
      message: string | null;
    }
  | {
      type: "tool_call_finished";
      id: string;
      name: string;
      server: string | null;
      is_error: boolean;
      duration_ms: number;
      result?: string | null;
      content?: ContentBlock[] | null;
      structured_content?: Record<string, unknown> | null;
    }
  | ({ type: "done" } & ChatResponse)
  | { type: "error"; error: string; message: string; status: number };

const KNOWN_EVENTS = new Set([
  "start",
  "text_delta",
  "tool_call_started",
  "tool_call_progress",
  "tool_call_finished",
  "done",
  "error",
]);

/**
 * Send one message and hand every event of the answer to `onEvent` as it arrives.
 * A failure before the stream starts (MCP server down, LLM unreachable) throws an ApiError;
 * one during the stream arrives as an `error` event.
 */
export async function streamChat(
  message: string,
  conversationId: string | null,
  onEvent: (event: ChatEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const body = conversationId ? { message, conversation_id: conversationId } : { message };
  const init = postJson(body, signal);
  init.headers = { ...init.headers, Accept: "text/event-stream" };
  const response = await send("/chat/stream", init);
  if (!response.body) throw new ApiError(response.status, "no_body", "The chat service sent an empty answer.");
  let finished = false;
  for await (const { event, data } of readEvents(response.body)) {
    if (!KNOWN_EVENTS.has(event)) continue;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      continue;
    }
    onEvent({ ...(payload as object), type: event } as ChatEvent);
    if (event === "done" || event === "error") finished = true;
  }
  if (!finished) {
    throw new ApiError(0, "stream_cut", "The answer was cut off: the connection to the chat service closed early.");
  }
}
