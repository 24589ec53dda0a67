// The conversation as the UI shows it, built from the stream's events by a pure reducer.

import type { ChatEvent } from "./api";
import type { ChatMetadata, ContentBlock } from "./types";

export interface ToolCallView {
  id: string;
  name: string;
  server: string | null;
  arguments: unknown;
  status: "running" | "ok" | "error";
  progress: { progress: number; total: number | null; message: string | null } | null;
  durationMs: number | null;
  result: string | null;
  content: ContentBlock[] | null;
  structured: Record<string, unknown> | null;
}

export type Part = { kind: "text"; text: string } | { kind: "tool"; id: string };

export interface UserMessage {
  role: "user";
  id: string;
  text: string;
}

export interface AssistantMessage {
  role: "assistant";
  id: string;
  parts: Part[];
  tools: Record<string, ToolCallView>;
  status: "streaming" | "done" | "failed";
  metadata: ChatMetadata | null;
  notice: "not_configured" | null;
  error: { code: string; message: string } | null;
}

export type Message = UserMessage | AssistantMessage;

export interface ChatState {
  conversationId: string | null;
  messages: Message[];
}

export type ChatAction =
  | { type: "send"; text: string; userId: string; assistantId: string }
  | { type: "event"; assistantId: string; event: ChatEvent }
  | { type: "failed"; assistantId: string; code: string; message: string }
  | { type: "reset" };

export const initialChat: ChatState = { conversationId: null, messages: [] };

/** The assistant's text, all parts joined. */
export function assistantText(message: AssistantMessage): string {
  return message.parts.map((part) => (part.kind === "text" ? part.text : "")).join("");
}

/** The answer: the text after the last tool call (text before it is narration). */
export function answerText(message: AssistantMessage): string {
  const lastTool = message.parts.map((part) => part.kind).lastIndexOf("tool");
  return message.parts
    .slice(lastTool + 1)
    .map((part) => (part.kind === "text" ? part.text : ""))
    .join("");
}

export function isBusy(state: ChatState): boolean {
  const last = state.messages[state.messages.length - 1];
  return last !== undefined && last.role === "assistant" && last.status === "streaming";
}

function withText(parts: Part[], text: string): Part[] {
  const last = parts[parts.length - 1];
  if (last && last.kind === "text") return [...parts.slice(0, -1), { kind: "text", text: last.text + text }];
  return [...parts, { kind: "text", text }];
}

function updateTool(message: AssistantMessage, id: string, change: (tool: ToolCallView) => ToolCallView) {
  const tool = message.tools[id];
  if (!tool) return message;
  return { ...message, tools: { ...message.tools, [id]: change(tool) } };
}

function applyEvent(message: AssistantMessage, event: ChatEvent): AssistantMessage {
  switch (event.type) {
    case "start":
      return message;
    case "text_delta":
      return { ...message, parts: withText(message.parts, event.text) };
    case "tool_call_started": {
      const tool: ToolCallView = {
        id: event.id,
        name: event.name,
        server: event.server,
        arguments: event.arguments,
        status: "running",
        progress: null,
        durationMs: null,
        result: null,
        content: null,
        structured: null,
      };
      const parts: Part[] = message.tools[event.id] ? message.parts : [...message.parts, { kind: "tool", id: event.id }];
      return { ...message, parts, tools: { ...message.tools, [event.id]: tool } };
    }
    case "tool_call_progress":
      return updateTool(message, event.id, (tool) => ({
        ...tool,
        progress: { progress: event.progress, total: event.total, message: event.message },
      }));
    case "tool_call_finished":
      return updateTool(message, event.id, (tool) => ({
        ...tool,
        status: event.is_error ? "error" : "ok",
        durationMs: event.duration_ms,
        result: event.result ?? null,
        content: event.content ?? null,
        structured: event.structured_content ?? null,
      }));
    case "done": {
      // A provider that does not stream sends no text deltas: the final answer carries the text.
      const parts = answerText(message).trim() || !event.response ? message.parts : withText(message.parts, event.response);
      const notice = event.metadata.finish_reason === "not_configured" ? "not_configured" : null;
      return { ...message, parts, status: "done", metadata: event.metadata, notice };
    }
    case "error":
      return { ...message, status: "failed", error: { code: event.error, message: event.message } };
  }
}

function mapAssistant(state: ChatState, id: string, change: (message: AssistantMessage) => AssistantMessage): Message[] {
  return state.messages.map((message) => (message.role === "assistant" && message.id === id ? change(message) : message));
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "send": {
      const user: UserMessage = { role: "user", id: action.userId, text: action.text };
      const assistant: AssistantMessage = {
        role: "assistant",
        id: action.assistantId,
        parts: [],
        tools: {},
        status: "streaming",
        metadata: null,
        notice: null,
        error: null,
      };
      return { ...state, messages: [...state.messages, user, assistant] };
    }
    case "event": {
      const { event } = action;
      let conversationId = state.conversationId;
      if (event.type === "start" || event.type === "done") conversationId = event.conversation_id;
      return { conversationId, messages: mapAssistant(state, action.assistantId, (m) => applyEvent(m, event)) };
    }
    case "failed":
      return {
        ...state,
        messages: mapAssistant(state, action.assistantId, (message) =>
          message.status === "streaming"
            ? { ...message, status: "failed", error: { code: action.code, message: action.message } }
            : message,
        ),
      };
    case "reset":
      return initialChat;
  }
}
